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
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ImageInput;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code vlm4j fewshot-eval}: a labelled query set answered from a labelled demo pool (k nearest
 * demos per label for each query); writes accuracy, a confusion matrix and timings as JSON and an
 * HTML page with the matrix and per-label accuracy bars.
 */
@Command(name = "fewshot-eval", mixinStandardHelpOptions = true,
    description = {"Evaluate few-shot classification: demos from --pool, labelled queries from --queries.",
        "Both folders are laid out as <folder>/<label>/<image>."})
public final class FewShotEvalCommand implements Callable<Integer> {
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

  @Option(names = "--out", paramLabel = "DIR", defaultValue = "fewshot-eval",
      description = "Where report.json and report.html go (default: ${DEFAULT-VALUE}).")
  Path out;

  @Option(names = "--json", description = "Print the report JSON on stdout too.")
  boolean json;

  @Override
  public Integer call() {
    PrintStream stdout = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    try {
      if (shots < 1) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "--shots must be >= 1, got " + shots);
      }
      RequestOptions options = fewShot.requestOptions();
      List<DemoPool.Entry> queries = DemoPool.readFolder(queriesDir);
      long t0 = System.nanoTime();
      try (VisionLanguageModel m = model.load(); GenerationSession s = m.newSession()) {
        DemoPool demos = DemoPool.fromFolder(m, pool, options);
        List<String> labels = demos.labels();
        for (DemoPool.Entry q : queries) {
          if (!labels.contains(q.label())) {
            throw new VlmInputException(VlmInputException.Reason.INVALID_DEMO_POOL,
                "query " + q.name() + " has label \"" + q.label() + "\" which the pool does not have " + labels);
          }
        }
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
          progress(i + 1, queries.size(), correct);
        }
        System.err.println();
        double seconds = (System.nanoTime() - t0) / 1e9;
        root.put("model", m.source());
        root.put("pool", pool.toString()).put("queries", queriesDir.toString()).put("shotsPerLabel", shots);
        root.put("style", fewShot.style.name());
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
        Files.createDirectories(out);
        mapper.writeValue(out.resolve("report.json").toFile(), root);
        Files.writeString(out.resolve("report.html"), html(root, labels, confusion), StandardCharsets.UTF_8);
        stdout.printf(Locale.ROOT, "accuracy %.3f (%d/%d), %d-shot per label, median %.1f ms per query; report: %s%n",
            (double) correct / queries.size(), correct, queries.size(), shots, sorted[sorted.length / 2],
            out.resolve("report.html"));
        if (json) {
          stdout.println(mapper.writeValueAsString(root));
        }
      }
      return 0;
    } catch (Exception e) {
      return Errors.report(e, model.verbose);
    }
  }

  private static void progress(int done, int total, int correct) {
    int width = 30;
    int filled = done * width / total;
    System.err.printf(Locale.ROOT, "\r[%s%s] %d/%d  accuracy so far %.3f", "#".repeat(filled),
        " ".repeat(width - filled), done, total, (double) correct / done);
  }

  private static double round(double v) {
    return Math.round(v * 1000) / 1000.0;
  }

  /** A self-contained page: summary, confusion matrix (shaded), per-label accuracy bars (SVG). */
  static String html(ObjectNode root, List<String> labels, int[][] confusion) throws IOException {
    StringBuilder h = new StringBuilder();
    h.append("<!doctype html><html><head><meta charset=\"utf-8\"><title>vlm4j few-shot evaluation</title>")
        .append("<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #999;padding:4px 8px;")
        .append("text-align:right}table{border-collapse:collapse}</style></head><body>")
        .append("<h1>Few-shot evaluation</h1><p>")
        .append(esc(String.format(Locale.ROOT, "accuracy %.1f%% (%d of %d), %d demo(s) per label, style %s",
            100 * root.get("accuracy").asDouble(), root.get("correct").asInt(), root.get("total").asInt(),
            root.get("shotsPerLabel").asInt(), root.get("style").asText())))
        .append("<br>model ").append(esc(root.get("model").asText())).append("<br>median ")
        .append(root.get("timingsMs").get("perQueryMedian").asDouble()).append(" ms per query</p>")
        .append("<h2>Confusion matrix</h2><table><tr><th>true \\ predicted</th>");
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
    int barH = 24;
    h.append("<svg width=\"520\" height=\"").append(labels.size() * (barH + 6) + 10).append("\">");
    for (int i = 0; i < labels.size(); i++) {
      int rowTotal = Arrays.stream(confusion[i]).sum();
      double acc = rowTotal == 0 ? 0 : (double) confusion[i][i] / rowTotal;
      int y = 5 + i * (barH + 6);
      h.append("<text x=\"0\" y=\"").append(y + 17).append("\">").append(esc(labels.get(i))).append("</text>")
          .append("<rect x=\"120\" y=\"").append(y).append("\" width=\"").append(Math.round(300 * acc))
          .append("\" height=\"").append(barH).append("\" fill=\"#3a7\"/>")
          .append("<text x=\"").append(130 + Math.round(300 * acc)).append("\" y=\"").append(y + 17).append("\">")
          .append(String.format(Locale.ROOT, "%.1f%% of %d", 100 * acc, rowTotal)).append("</text>");
    }
    h.append("</svg></body></html>\n");
    return h.toString();
  }

  private static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
  }
}
