package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.vlm4j.FewShotPrompt;
import io.github.vlm4j.LabelScores;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.prompt.ImageInput;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code vlm4j fewshot} and {@code vlm4j fewshot-eval}: same scores as the library, reports, errors. */
class FewShotCliTest {
  static final Path MODEL = Fixtures.model("vlm4j-tiny-idefics3");

  @Test
  void fewshotPrintsTheLibrarysScoresAndReusesTheDemos() throws Exception {
    Fixtures.EvalCase ec = Fixtures.evalCases("icl_1shot").get(0);
    Fixtures.EvalCase other = Fixtures.evalCases("icl_1shot").get(1);
    JsonNode demoLabels = ec.meta().get("demo_labels");
    List<String> args = new ArrayList<>(List.of("fewshot", "--json", "--model", MODEL.toString()));
    for (int i = 0; i < demoLabels.size(); i++) {
      args.addAll(List.of("--demo", ec.images().get(i) + "=" + demoLabels.get(i).asText()));
    }
    Path q1 = ec.images().get(demoLabels.size());
    Path q2 = other.images().get(other.images().size() - 1);
    args.addAll(List.of("--query", q1.toString(), "--query", q2.toString()));
    CliTest.Run r = CliTest.cli(args.toArray(String[]::new));
    assertEquals(0, r.exit(), r.err());
    JsonNode out = new ObjectMapper().readTree(r.out());
    JsonNode first = out.get("queries").get(0);
    try (VisionLanguageModel m = VisionLanguageModel.load(MODEL)) {
      FewShotPrompt p = EvalParityTest.fewShot(ec);
      List<String> labels = new ArrayList<>();
      first.get("scores").forEach(s -> labels.add(s.get("label").asText()));
      LabelScores lib = m.classify(p, labels, RequestOptions.DEFAULT);
      assertEquals(lib.best().label(), first.get("label").asText());
      for (int i = 0; i < labels.size(); i++) {
        assertEquals(lib.scores().get(i).logProb(), first.get("scores").get(i).get("logProb").asDouble(), 1e-5);
      }
    }
    assertEquals(0, first.get("cachedPrefixTokens").asInt());
    assertTrue(out.get("queries").get(1).get("cachedPrefixTokens").asInt() > 0, r.out());
  }

  @Test
  void fewshotEvalWritesAccuracyConfusionAndAChart(@TempDir Path tmp) throws Exception {
    List<Fixtures.EvalCase> parts = Fixtures.evalCases("inspection");
    int poolSize = Math.min(10, parts.size() / 2);
    for (int i = 0; i < parts.size() && i < poolSize + 12; i++) {
      Fixtures.EvalCase c = parts.get(i);
      Path d = Files.createDirectories(tmp.resolve(i < poolSize ? "pool" : "queries").resolve(c.answer()));
      Files.copy(c.images().get(0), d.resolve(c.id() + ".png"));
    }
    Path out = tmp.resolve("report");
    CliTest.Run r = CliTest.cli("fewshot-eval", "--model", MODEL.toString(), "--pool", tmp.resolve("pool").toString(),
        "--queries", tmp.resolve("queries").toString(), "--shots", "1", "--no-image-splitting", "--out", out.toString());
    assertEquals(0, r.exit(), r.err());
    JsonNode rep = Fixtures.json(out.resolve("report.json"));
    int total = rep.get("total").asInt();
    int diagonal = 0;
    int sum = 0;
    for (int i = 0; i < rep.get("confusion").size(); i++) {
      for (int j = 0; j < rep.get("confusion").get(i).size(); j++) {
        sum += rep.get("confusion").get(i).get(j).asInt();
        diagonal += i == j ? rep.get("confusion").get(i).get(j).asInt() : 0;
      }
    }
    assertEquals(total, sum);
    assertEquals(rep.get("correct").asInt(), diagonal);
    assertEquals((double) diagonal / total, rep.get("accuracy").asDouble(), 1e-12);
    int agree = 0;
    for (JsonNode q : rep.get("perQuery")) {
      agree += q.get("label").asText().equals(q.get("prediction").asText()) ? 1 : 0;
    }
    assertEquals(diagonal, agree);
    assertTrue(rep.get("caches").get("imageHits").asInt() > 0, "pool images are encoded once");
    String html = Files.readString(out.resolve("report.html"));
    assertTrue(html.contains("<svg") && html.contains("Confusion matrix"), html);
    assertTrue(r.out().contains("accuracy "), r.out());
  }

  @Test
  void badFewShotArgumentsAreOneLineErrors(@TempDir Path tmp) throws Exception {
    Path img = Fixtures.evalCases("inspection").get(0).images().get(0);
    CliTest.Run r = CliTest.cli("fewshot", "--model", MODEL.toString(), "--demo", img.toString(), "--query", img.toString());
    assertEquals(1, r.exit());
    assertTrue(r.err().contains("--demo expects IMG=LABEL"), r.err());
    Files.copy(img, tmp.resolve("unlabelled.png"));
    r = CliTest.cli("fewshot-eval", "--model", MODEL.toString(), "--pool", tmp.toString(), "--queries", tmp.toString(),
        "--out", tmp.resolve("o").toString());
    assertEquals(1, r.exit());
    assertTrue(r.err().contains("INVALID_DEMO_POOL") && r.err().contains("without a label folder"), r.err());
    assertEquals(1, r.err().strip().split("\n").length, r.err());
  }

  /** Without {@code --out} the reports go to a new temporary folder whose path is printed. */
  @Test
  void fewshotEvalWithoutOutWritesIntoANewTemporaryFolder(@TempDir Path tmp) throws Exception {
    Path pool = onePictureFolders(tmp.resolve("pool"), "ok", 2, 0);
    Path queries = onePictureFolders(tmp.resolve("queries"), "ok", 2, 2);
    Path cwd = Path.of("").toAbsolutePath();
    List<Path> before = list(cwd);
    CliTest.Run r = CliTest.cli("fewshot-eval", "--model", MODEL.toString(), "--pool", pool.toString(),
        "--queries", queries.toString(), "--no-image-splitting");
    assertEquals(0, r.exit(), r.err());
    assertEquals(before, list(cwd), "nothing is written to the working directory");
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("report: (\\S+report\\.html)").matcher(r.out());
    assertTrue(m.find(), r.out());
    Path dir = Path.of(m.group(1)).getParent();
    try {
      assertTrue(dir.getFileName().toString().startsWith("vlm4j-fewshot-eval-"), dir.toString());
      assertFalse(dir.toRealPath().startsWith(cwd.toRealPath()), dir + " is not under the working directory");
      assertEquals(2, Fixtures.json(dir.resolve("report.json")).get("total").asInt());
      assertTrue(Files.isRegularFile(dir.resolve("report.html")));
    } finally {
      for (String f : new String[] {"report.json", "report.html"}) {
        Files.deleteIfExists(dir.resolve(f));
      }
      Files.deleteIfExists(dir);
    }
  }

  /**
   * report.html: every bar's text ("100.0% of 31") fits inside the chart (it used to be cut to "of 3"
   * by the SVG's fixed width), and the page shows the settings of the run.
   */
  @Test
  void reportHtmlShowsWholeBarTextsAndTheSettings(@TempDir Path tmp) throws Exception {
    // One label: every query is predicted right, so the bar is full and its text the longest.
    Path pool = onePictureFolders(tmp.resolve("pool"), "ok", 2, 0);
    Path queries = onePictureFolders(tmp.resolve("queries"), "ok", 31, 2);
    Path out = tmp.resolve("report");
    CliTest.Run r = CliTest.cli("fewshot-eval", "--model", MODEL.toString(), "--pool", pool.toString(),
        "--queries", queries.toString(), "--no-image-splitting", "--style", "SINGLE_TURN", "--out", out.toString());
    assertEquals(0, r.exit(), r.err());
    String html = Files.readString(out.resolve("report.html"));
    java.util.regex.Matcher svg = java.util.regex.Pattern.compile("<svg[^>]*>").matcher(html);
    assertTrue(svg.find(), html);
    double width = Double.parseDouble(attribute(svg.group(), "width"));
    String fontSize = attribute(svg.group(), "font-size");
    double font = fontSize == null ? 16 : Double.parseDouble(fontSize);
    java.util.regex.Matcher text = java.util.regex.Pattern.compile("<text x=\"(\\d+(?:\\.\\d+)?)\"[^>]*>([^<]*)</text>")
        .matcher(html.substring(svg.start()));
    List<String> texts = new ArrayList<>();
    while (text.find()) {
      texts.add(text.group(2));
      // 0.55 em is the advance of a sans-serif digit: a text ending past the width is cut.
      double end = Double.parseDouble(text.group(1)) + text.group(2).length() * 0.55 * font;
      assertTrue(end <= width, "\"" + text.group(2) + "\" ends at " + end + " px in a chart " + width + " px wide");
    }
    assertTrue(texts.contains("100.0% of 31"), texts.toString());
    String page = html.replaceAll("<[^>]+>", " ").replaceAll("\\s+", " ");
    for (String setting : new String[] {"image splitting off", "shots (demos per label) 1", "style SINGLE_TURN",
        "model " + MODEL, "dtype fp32"}) {
      assertTrue(page.contains(setting), "report.html should show '" + setting + "': " + page);
    }
  }

  /** @return the value of an XML attribute in a start tag, or null */
  static String attribute(String tag, String name) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\s" + java.util.regex.Pattern.quote(name)
        + "=\"([^\"]*)\"").matcher(tag);
    return m.find() ? m.group(1) : null;
  }

  /** Copies {@code n} inspection pictures (from the {@code skip}-th on) into {@code dir/label/}. */
  static Path onePictureFolders(Path dir, String label, int n, int skip) throws Exception {
    List<Fixtures.EvalCase> parts = Fixtures.evalCases("inspection");
    Path d = Files.createDirectories(dir.resolve(label));
    for (int i = 0; i < n; i++) {
      Fixtures.EvalCase c = parts.get(skip + i);
      Files.copy(c.images().get(0), d.resolve(c.id() + ".png"));
    }
    return dir;
  }

  static List<Path> list(Path dir) throws Exception {
    try (java.util.stream.Stream<Path> s = Files.list(dir)) {
      return s.sorted().toList();
    }
  }
}
