package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
}
