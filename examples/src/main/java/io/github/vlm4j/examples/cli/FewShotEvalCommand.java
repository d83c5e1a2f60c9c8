package io.github.vlm4j.examples.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.vlm4j.Demo;
import io.github.vlm4j.DemoPool;
import io.github.vlm4j.FewShotPrompt;
import io.github.vlm4j.GenerationSession;
import io.github.vlm4j.LabelScores;
import io.github.vlm4j.Progress;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.vision.PreprocessedImage;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code vlm4j fewshot-eval}: a labelled query set answered from a labelled demo pool (k nearest
 * demos per label for each query); writes accuracy, a confusion matrix and timings as JSON and an
 * HTML page with the matrix and per-label accuracy bars.
 */
@Command(name = "fewshot-eval", mixinStandardHelpOptions = true,
    description = {"Evaluate few-shot classification: demos from --pool, labelled queries from --queries.",
        "Both folders are laid out as <folder>/<label>/<image>."})
public final class FewShotEvalCommand implements Callable<Integer> {
  /** Creates the command; picocli sets its options and parameters from the command line. */
  public FewShotEvalCommand() {}

  @Mixin
  Vlm4jCommand.ModelOptions model = new Vlm4jCommand.ModelOptions();

  @Mixin
  FewShotOptions fewShot = new FewShotOptions();

  @Option(names = "--pool", paramLabel = "DIR", required = true, description = "Labelled demo pool: DIR/<label>/<image>.")
  Path pool;

  @Option(names = "--queries", paramLabel = "DIR", required = true, description = "Labelled queries: DIR/<label>/<image>.")
  Path queriesDir;

  @Option(names = "--shots", paramLabel = "K", defaultValue = "1",
      description = "Demos per label, the most similar to each query (default: ${DEFAULT-VALUE}).")
  int shots;

  @Option(names = "--out", paramLabel = "DIR",
      description = "Where report.json and report.html go (created if missing). Default: a new temporary folder"
          + " vlm4j-fewshot-eval-* whose path is printed; nothing is written to the working directory.")
  Path out;

  @Option(names = "--json", description = "Print the report JSON on stdout too.")
  boolean json;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    model.validate();
    Flags.check(spec, "--shots", shots >= 1, ">= 1", shots);
    PrintStream stdout = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    try {
      RequestOptions options = fewShot.requestOptions();
      // Both folders are checked before the model loads, so that a wrong folder fails at once.
      List<DemoPool.Entry> poolEntries = DemoPool.readFolder(pool);
      List<DemoPool.Entry> queries = DemoPool.readFolder(queriesDir);
      List<String> poolLabels = List.copyOf(new TreeSet<>(poolEntries.stream().map(DemoPool.Entry::label).toList()));
      for (DemoPool.Entry q : queries) {
        if (!poolLabels.contains(q.label())) {
          throw new VlmInputException(VlmInputException.Reason.INVALID_DEMO_POOL,
              "query " + q.name() + " has label \"" + q.label() + "\" which the pool does not have " + poolLabels);
        }
      }
      long t0 = System.nanoTime();
      try (ProgressReporter progress = ProgressReporter.forStderr(false); VisionLanguageModel m = model.load(progress);
          GenerationSession s = m.newSession()) {
        Flags.checkImageSplitting(m, fewShot.noImageSplitting);
        String splitting = imageSplitting(m, queries.get(0), options);
        DemoPool demos = DemoPool.of(m, poolEntries, options, progress);
        List<String> labels = demos.labels();
        long tPool = System.nanoTime();
        int n = labels.size();
        int[][] confusion = new int[n][n];
        int correct = 0;
        double[] ms = new double[queries.size()];
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = mapper.createObjectNode();
        ArrayNode perQuery = mapper.createArrayNode();
        for (int i = 0; i < queries.size(); i++) {
          DemoPool.Entry q = queries.get(i);
          progress.onProgress(new Progress(Progress.Task.EVALUATE, i == 0 ? q.name()
              : String.format(Locale.ROOT, "%s (accuracy so far %.3f)", q.name(), (double) correct / i), i, queries.size()));
          List<Demo> chosen = demos.nearestPerLabel(q.image(), shots);
          FewShotPrompt p = fewShot.promptBuilder().demos(chosen).query(q.image())
              .build();
          LabelScores sc = s.classify(p, labels, options);
          String pred = sc.best().label();
          confusion[labels.indexOf(q.label())][labels.indexOf(pred)]++;
          if (pred.equals(q.label())) {
            correct++;
          }
          ms[i] = sc.usage().timings().totalMs();
          ObjectNode r = perQuery.addObject();
          r.put("query", q.name()).put("label", q.label()).put("prediction", pred)
              .put("probability", sc.best().probability()).put("ms", round(ms[i]));
        }
        progress.onProgress(new Progress(Progress.Task.EVALUATE,
            String.format(Locale.ROOT, "accuracy %.3f", (double) correct / queries.size()), queries.size(), queries.size()));
        double seconds = (System.nanoTime() - t0) / 1e9;
        root.put("model", m.source());
        root.put("pool", pool.toString()).put("queries", queriesDir.toString()).put("shotsPerLabel", shots);
        root.put("style", fewShot.style.name());
        root.put("dtype", model.dtype.label());
        root.put("imageSplitting", splitting);
        root.put("accuracy", (double) correct / queries.size()).put("correct", correct).put("total", queries.size());
        ArrayNode ls = root.putArray("labels");
        labels.forEach(ls::add);
        ArrayNode cm = root.putArray("confusion");
        for (int[] row : confusion) {
          ArrayNode r = cm.addArray();
          Arrays.stream(row).forEach(r::add);
        }
        double[] sorted = ms.clone();
        Arrays.sort(sorted);
        ObjectNode tm = root.putObject("timingsMs");
        tm.put("poolEmbedding", round((tPool - t0) / 1e6));
        tm.put("perQueryMedian", round(sorted[sorted.length / 2]));
        tm.put("perQueryMean", round(Arrays.stream(ms).average().orElse(0)));
        tm.put("total", round(seconds * 1000));
        VisionLanguageModel.CacheStats cs = m.cacheStats();
        root.putObject("caches").put("imageHits", cs.imageHits()).put("imageMisses", cs.imageMisses())
            .put("prefixHits", cs.prefixHits()).put("prefixMisses", cs.prefixMisses());
        root.set("perQuery", perQuery);
        Path dir = out != null ? Files.createDirectories(out) : Files.createTempDirectory("vlm4j-fewshot-eval-");
        mapper.writeValue(dir.resolve("report.json").toFile(), root);
        Files.writeString(dir.resolve("report.html"), html(root, labels, confusion), StandardCharsets.UTF_8);
        stdout.printf(Locale.ROOT, "accuracy %.3f (%d/%d), %d-shot per label, median %.1f ms per query; report: %s%n",
            (double) correct / queries.size(), correct, queries.size(), shots, sorted[sorted.length / 2],
            dir.resolve("report.html"));
        if (json) {
          stdout.println(mapper.writeValueAsString(root));
        }
      }
      return 0;
    } catch (Exception e) {
      return Errors.report(e, model.verbose);
    }
  }

  /**
   * @return how images are split in this run, for the report: off by flag, not an option of this
   *     model, or what the model's default did to the first query
   */
  private static String imageSplitting(VisionLanguageModel m, DemoPool.Entry first, RequestOptions options) {
    if (!m.supportsImageSplitting()) {
      return "not applicable (this " + m.modelType() + " model encodes every image as one frame)";
    }
    if (options.imageSplitting().isPresent()) {
      return options.imageSplitting().get() ? "on" : "off (--no-image-splitting)";
    }
    PreprocessedImage img = m.preprocessImages(List.of(Message.user(first.image(), "?")), options).get(0);
    return img.rows() > 0 ? "on (the model's default; " + img.rows() + "x" + img.cols() + " tiles and a global frame"
        + " for " + first.name() + ")" : "off (the model's default)";
  }

  private static double round(double v) {
    return Math.round(v * 1000) / 1000.0;
  }

  /** Font size of the chart's text, in px. */
  static final int CHART_FONT_PX = 14;
  /**
   * Widest advance of one character of the chart's text, in em: sans-serif digits are about 0.55 em,
   * the widest letters about 0.9 em; 0.75 em over a whole label is a safe upper bound.
   */
  static final double CHART_CHAR_EM = 0.75;

  /**
   * A self-contained page: the settings, the summary, the confusion matrix (shaded) and the per-label
   * accuracy bars (SVG). The SVG is as wide as its longest label and value text need (computed from
   * {@link #CHART_FONT_PX} and {@link #CHART_CHAR_EM}), so "100.0% of 31" is never cut.
   */
  static String html(ObjectNode root, List<String> labels, int[][] confusion) {
    StringBuilder h = new StringBuilder();
    h.append("<!doctype html><html><head><meta charset=\"utf-8\"><title>vlm4j few-shot evaluation</title>")
        .append("<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #999;padding:4px 8px;")
        .append("text-align:right}table{border-collapse:collapse}table.settings td,table.settings th{text-align:left}")
        .append("</style></head><body>")
        .append("<h1>Few-shot evaluation</h1><p>")
        .append(esc(String.format(Locale.ROOT, "accuracy %.1f%% (%d of %d); median %s ms per query",
            100 * root.get("accuracy").asDouble(), root.get("correct").asInt(), root.get("total").asInt(),
            root.get("timingsMs").get("perQueryMedian").asText())))
        .append("</p><h2>Settings</h2><table class=\"settings\">");
    String[][] settings = {
        {"model", root.get("model").asText()},
        {"dtype", root.get("dtype").asText()},
        {"image splitting", root.get("imageSplitting").asText()},
        {"shots (demos per label)", root.get("shotsPerLabel").asText()},
        {"style", root.get("style").asText()},
        {"demo pool", root.get("pool").asText()},
        {"queries", root.get("queries").asText()}};
    for (String[] row : settings) {
      h.append("<tr><th>").append(esc(row[0])).append("</th><td>").append(esc(row[1])).append("</td></tr>");
    }
    h.append("</table><h2>Confusion matrix</h2><table><tr><th>true \\ predicted</th>");
    for (String l : labels) {
      h.append("<th>").append(esc(l)).append("</th>");
    }
    h.append("</tr>");
    for (int i = 0; i < labels.size(); i++) {
      int rowTotal = Arrays.stream(confusion[i]).sum();
      h.append("<tr><th>").append(esc(labels.get(i))).append("</th>");
      for (int j = 0; j < labels.size(); j++) {
        double f = rowTotal == 0 ? 0 : (double) confusion[i][j] / rowTotal;
        String colour = i == j ? "rgba(40,160,60," : "rgba(220,60,40,";
        h.append("<td style=\"background:").append(colour).append(String.format(Locale.ROOT, "%.2f", f))
            .append(")\">").append(confusion[i][j]).append("</td>");
      }
      h.append("</tr>");
    }
    h.append("</table><h2>Accuracy per label</h2>");
    List<String> values = new ArrayList<>();
    double[] acc = new double[labels.size()];
    for (int i = 0; i < labels.size(); i++) {
      int rowTotal = Arrays.stream(confusion[i]).sum();
      acc[i] = rowTotal == 0 ? 0 : (double) confusion[i][i] / rowTotal;
      values.add(String.format(Locale.ROOT, "%.1f%% of %d", 100 * acc[i], rowTotal));
    }
    int barH = 24;
    int barMax = 300;
    int barX = textWidth(labels) + 10;
    int width = barX + barMax + 6 + textWidth(values) + 10;
    h.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(width).append("\" height=\"")
        .append(labels.size() * (barH + 6) + 10).append("\" font-family=\"sans-serif\" font-size=\"")
        .append(CHART_FONT_PX).append("\">");
    for (int i = 0; i < labels.size(); i++) {
      int y = 5 + i * (barH + 6);
      long bar = Math.round(barMax * acc[i]);
      h.append("<text x=\"0\" y=\"").append(y + 17).append("\">").append(esc(labels.get(i))).append("</text>")
          .append("<rect x=\"").append(barX).append("\" y=\"").append(y).append("\" width=\"").append(bar)
          .append("\" height=\"").append(barH).append("\" fill=\"#3a7\"/>")
          .append("<text x=\"").append(barX + bar + 6).append("\" y=\"").append(y + 17).append("\">")
          .append(esc(values.get(i))).append("</text>");
    }
    h.append("</svg></body></html>\n");
    return h.toString();
  }

  /** @param texts chart texts @return an upper bound of the widest one's width in px */
  private static int textWidth(List<String> texts) {
    int chars = texts.stream().mapToInt(String::length).max().orElse(0);
    return (int) Math.ceil(chars * CHART_CHAR_EM * CHART_FONT_PX);
  }

  private static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
  }
}
