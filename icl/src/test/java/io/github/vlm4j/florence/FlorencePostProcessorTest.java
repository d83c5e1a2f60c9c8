package io.github.vlm4j.florence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.VlmInputException.Reason;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Holds {@link FlorencePostProcessor} and {@link FlorenceTask} to transformers.js 4.3.1's
 * {@code Florence2Processor}: its answers on the corpus {@code florence_post_corpus.json} are
 * committed as {@code florence_post_tjs.json} (src/test/node/florence-post-check.mjs; PeerParityTest
 * reruns it when node is installed). Coordinates are compared exactly: transformers.js computes
 * {@code ((N + 0.5) / 1000) * size} in IEEE double, which Java reproduces operation by operation,
 * and JSON numbers written by JavaScript read back to the same double.
 */
class FlorencePostProcessorTest {
  static final Path FIXTURES = Path.of(System.getProperty("vlm4j.root", "../..") + "/src/test/resources/fixtures");
  static final ObjectMapper JSON = new ObjectMapper();

  static JsonNode fixture(String name) throws IOException {
    return JSON.readTree(FIXTURES.resolve(name).toFile());
  }

  @Test
  void everyCorpusCaseEqualsTransformersJs() throws IOException {
    JsonNode corpus = fixture("florence_post_corpus.json").get("cases");
    JsonNode tjs = fixture("florence_post_tjs.json").get("cases");
    assertEquals(corpus.size(), tjs.size(), "one transformers.js answer per corpus case");
    int equal = 0;
    int rejected = 0;
    int unsupported = 0;
    int unknown = 0;
    for (int i = 0; i < corpus.size(); i++) {
      JsonNode c = corpus.get(i);
      JsonNode t = tjs.get(i);
      String name = c.get("name").asText();
      assertEquals(name, t.get("name").asText(), "fixture order");
      String token = c.get("task").asText();
      String text = c.get("text").asText();
      int w = c.get("width").asInt();
      int h = c.get("height").asInt();
      Optional<FlorenceTask> known = FlorenceTask.fromToken(token);
      if (known.isEmpty()) {
        // unknown tasks: transformers.js answers the text with <s> and </s> removed (documented on fromToken)
        assertEquals(text.replace("<s>", "").replace("</s>", ""), t.get("result").get(token).asText(), name);
        unknown++;
        continue;
      }
      FlorenceTask task = known.get();
      if (t.has("error")) {
        assertFalse(task.answerKind().supported(), name + ": transformers.js raised " + t.get("error"));
        assertThrows(UnsupportedOperationException.class, () -> FlorencePostProcessor.parse(text, task, w, h), name);
        unsupported++;
        continue;
      }
      JsonNode answer = t.get("result").get(token);
      assertEquals(1, t.get("result").size(), name + ": one key, the task");
      if (answer.toString().contains("\"Infinity\"")) {
        VlmInputException e = assertThrows(VlmInputException.class,
            () -> FlorencePostProcessor.parse(text, task, w, h), name + ": transformers.js gave Infinity");
        assertEquals(Reason.INVALID_GENERATION, e.reason(), name);
        rejected++;
        continue;
      }
      FlorenceResult result = FlorencePostProcessor.parse(text, task, w, h);
      assertEquals(task, result.task(), name);
      if (answer.isTextual()) {
        assertEquals(answer.asText(), assertInstanceOf(FlorenceResult.Text.class, result, name).text(), name);
      } else if (answer.has("quad_boxes")) {
        List<FlorenceQuad> quads = assertInstanceOf(FlorenceResult.Quads.class, result, name).quads();
        assertRegions(name, answer.get("labels"), answer.get("quad_boxes"), labels(quads, FlorenceQuad::label),
            coordinates(quads, FlorenceQuad::coordinates));
      } else {
        List<FlorenceBox> boxes = assertInstanceOf(FlorenceResult.Boxes.class, result, name).boxes();
        assertRegions(name, answer.get("labels"), answer.get("bboxes"), labels(boxes, FlorenceBox::label),
            coordinates(boxes, FlorenceBox::coordinates));
      }
      equal++;
    }
    System.out.println("Florence-2 post-processing: " + equal + " of " + corpus.size() + " corpus cases equal "
        + "transformers.js, " + rejected + " rejected where it gives Infinity, " + unsupported + " unsupported as in it");
    assertEquals(corpus.size(), equal + rejected + unsupported + unknown, "every case compared");
    assertTrue(corpus.size() >= 220 && rejected == 3 && unsupported == 3 && unknown == 1,
        equal + " equal, " + rejected + " rejected, " + unsupported + " unsupported, " + unknown + " unknown");
  }

  static <T> List<String> labels(List<T> regions, java.util.function.Function<T, String> label) {
    List<String> out = new ArrayList<>();
    regions.forEach(r -> out.add(label.apply(r)));
    return out;
  }

  static <T> List<double[]> coordinates(List<T> regions, java.util.function.Function<T, double[]> coords) {
    List<double[]> out = new ArrayList<>();
    regions.forEach(r -> out.add(coords.apply(r)));
    return out;
  }

  static void assertRegions(String name, JsonNode labels, JsonNode coords, List<String> javaLabels,
      List<double[]> javaCoords) {
    assertEquals(labels.size(), javaLabels.size(), name + " region count");
    for (int r = 0; r < labels.size(); r++) {
      assertEquals(labels.get(r).asText(), javaLabels.get(r), name + " label " + r);
      JsonNode expected = coords.get(r);
      assertEquals(expected.size(), javaCoords.get(r).length, name + " coordinates of " + r);
      for (int k = 0; k < expected.size(); k++) {
        assertEquals(expected.get(k).asDouble(), javaCoords.get(r)[k], name + " region " + r + " coordinate " + k);
      }
    }
  }

  @Test
  void promptsEqualTransformersJsExceptTheDocumentedDeviations() throws IOException {
    JsonNode corpus = fixture("florence_post_corpus.json").get("prompts");
    JsonNode tjs = fixture("florence_post_tjs.json").get("prompts");
    assertEquals(corpus.size(), tjs.size());
    Set<FlorenceTask> covered = new HashSet<>();
    int equal = 0;
    int deviations = 0;
    for (int i = 0; i < corpus.size(); i++) {
      JsonNode c = corpus.get(i);
      String name = c.get("name").asText();
      assertEquals(name, tjs.get(i).get("name").asText(), "fixture order");
      String expected = tjs.get(i).get("prompt").asText();
      FlorenceTask task = FlorenceTask.fromToken(c.get("task").asText()).orElseThrow();
      String input = c.get("input").isNull() ? null : c.get("input").asText();
      if (!c.has("deviation")) {
        assertEquals(expected, input == null ? task.prompt() : task.prompt(input), name);
        covered.add(task);
        equal++;
        continue;
      }
      deviations++;
      if (!task.takesInput()) {
        VlmInputException e = assertThrows(VlmInputException.class, () -> task.prompt(input), name);
        assertEquals(Reason.INVALID_PROMPT, e.reason(), name);
        assertEquals(task.token() + input, expected, name + ": transformers.js sends the text unchanged");
        continue;
      }
      // vlm4j inserts the input verbatim; transformers.js's answer differs (the deviation is real)
      String[] around = task.template().split("\\{input\\}", -1);
      String verbatim = around[0] + input + around[1];
      assertEquals(verbatim, task.prompt(input), name);
      assertNotEquals(expected, verbatim, name + ": transformers.js should differ here");
    }
    assertEquals(Set.of(FlorenceTask.values()), covered, "every task's prompt compared");
    assertTrue(equal >= 27 && deviations == 4, equal + " equal, " + deviations + " deviations");
  }

  @Test
  void theTasksAreTheProcessorConfigurationsTasks() throws IOException {
    JsonNode config = fixture("florence_post_corpus.json").get("processor_config");
    JsonNode kinds = config.get("tasks_answer_post_processing_type");
    JsonNode fixed = config.get("task_prompts_without_inputs");
    JsonNode withInput = config.get("task_prompts_with_input");
    Set<String> tokens = new HashSet<>();
    for (FlorenceTask task : FlorenceTask.values()) {
      tokens.add(task.token());
      assertEquals(kinds.get(task.token()).asText().toUpperCase(java.util.Locale.ROOT), task.answerKind().name(),
          task.token());
      JsonNode prompt = task.takesInput() ? withInput.get(task.token()) : fixed.get(task.token());
      assertEquals(prompt.asText(), task.template(), task.token());
      assertEquals(task.takesInput(), withInput.has(task.token()), task.token());
    }
    Set<String> configured = new HashSet<>();
    kinds.fieldNames().forEachRemaining(configured::add);
    fixed.fieldNames().forEachRemaining(configured::add);
    withInput.fieldNames().forEachRemaining(configured::add);
    assertEquals(configured, tokens);
  }

  @Test
  void inputAndNoInputTasksRejectTheWrongPromptCall() {
    VlmInputException e = assertThrows(VlmInputException.class, FlorenceTask.CAPTION_TO_PHRASE_GROUNDING::prompt);
    assertEquals(Reason.INVALID_PROMPT, e.reason());
    assertTrue(e.getMessage().contains("takes a text input"), e.getMessage());
    e = assertThrows(VlmInputException.class, () -> FlorenceTask.OD.prompt("cars"));
    assertEquals(Reason.INVALID_PROMPT, e.reason());
    assertThrows(NullPointerException.class, () -> FlorenceTask.REGION_TO_OCR.prompt(null));
  }

  @Test
  void overlongTextIsRejectedNotTruncated() {
    String atCap = "a".repeat(FlorencePostProcessor.MAX_TEXT_CHARS);
    assertEquals(atCap, ((FlorenceResult.Text) FlorencePostProcessor.parse(atCap, FlorenceTask.CAPTION, 1, 1)).text());
    VlmInputException e = assertThrows(VlmInputException.class,
        () -> FlorencePostProcessor.parse(atCap + "a", FlorenceTask.OD, 1, 1));
    assertEquals(Reason.INVALID_GENERATION, e.reason());
    assertTrue(e.getMessage().contains(String.valueOf(FlorencePostProcessor.MAX_TEXT_CHARS + 1)), e.getMessage());
  }

  @Test
  void tooManyRegionsAreRejectedNotTruncated() {
    String box = "x<loc_1><loc_2><loc_3><loc_4>";
    String quad = "x<loc_1><loc_2><loc_3><loc_4><loc_5><loc_6><loc_7><loc_8>";
    int cap = FlorencePostProcessor.MAX_REGIONS;
    assertEquals(cap, ((FlorenceResult.Boxes) FlorencePostProcessor.parse(box.repeat(cap), FlorenceTask.OD, 9, 9))
        .boxes().size());
    assertEquals(cap, ((FlorenceResult.Quads) FlorencePostProcessor.parse(quad.repeat(cap),
        FlorenceTask.OCR_WITH_REGION, 9, 9)).quads().size());
    for (Map.Entry<FlorenceTask, String> t : Map.of(FlorenceTask.OD, box, FlorenceTask.REGION_PROPOSAL, box,
        FlorenceTask.OCR_WITH_REGION, quad).entrySet()) {
      VlmInputException e = assertThrows(VlmInputException.class,
          () -> FlorencePostProcessor.parse(t.getValue().repeat(cap + 1), t.getKey(), 9, 9));
      assertEquals(Reason.INVALID_GENERATION, e.reason());
      assertTrue(e.getMessage().contains(String.valueOf(cap)), e.getMessage());
    }
  }

  /**
   * Texts on which a backtracking regex (transformers.js's) is quadratic: about a million chars
   * without a complete region. transformers.js needs about a minute for 100,000 such chars
   * (measured with node 20); a linear parse does a million in milliseconds, so 10 s cannot be a
   * scheduling accident.
   */
  @Test
  void hostileTextParsesInLinearTime() {
    int n = FlorencePostProcessor.MAX_TEXT_CHARS;
    String huge = "<loc_" + "9".repeat(n - 6) + ">";
    Map<FlorenceTask, List<String>> hostile = Map.of(
        FlorenceTask.OD, List.of("a".repeat(n - 21) + "<loc_1><loc_2><loc_3>", "<loc_1><loc_2><loc_3>a".repeat(n / 22),
            huge),
        FlorenceTask.OCR_WITH_REGION, List.of("a".repeat(n - 49) + "<loc_1><loc_2><loc_3><loc_4><loc_5><loc_6><loc_7>",
            "a<loc_1><loc_2><loc_3><loc_4><loc_5><loc_6><loc_7>".repeat(n / 50), huge));
    assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
      for (Map.Entry<FlorenceTask, List<String>> e : hostile.entrySet()) {
        for (String text : e.getValue()) {
          assertTrue(text.length() > n - 60 && text.length() <= n, "about a million chars: " + text.length());
          FlorenceResult r = FlorencePostProcessor.parse(text, e.getKey(), 640, 480);
          assertTrue(r instanceof FlorenceResult.Boxes b ? b.boxes().isEmpty()
              : ((FlorenceResult.Quads) r).quads().isEmpty(), e.getKey() + " found a region");
        }
      }
    });
  }

  @Test
  void imageSizeBelowOnePixelIsRejected() {
    for (int[] size : new int[][] {{0, 10}, {10, 0}, {-1, 5}}) {
      VlmInputException e = assertThrows(VlmInputException.class,
          () -> FlorencePostProcessor.parse("cat<loc_1><loc_2><loc_3><loc_4>", FlorenceTask.OD, size[0], size[1]));
      assertEquals(Reason.IMAGE_EMPTY, e.reason());
      assertTrue(e.getMessage().contains(size[0] + "x" + size[1]), e.getMessage());
    }
    assertThrows(NullPointerException.class, () -> FlorencePostProcessor.parse(null, FlorenceTask.OD, 1, 1));
    assertThrows(NullPointerException.class, () -> FlorencePostProcessor.parse("", null, 1, 1));
  }

  @Test
  void resultsAreImmutable() {
    FlorenceResult.Boxes b = (FlorenceResult.Boxes) FlorencePostProcessor.parse(
        "cat<loc_1><loc_2><loc_3><loc_4>", FlorenceTask.OD, 10, 10);
    assertThrows(UnsupportedOperationException.class, () -> b.boxes().clear());
    double[] c = b.boxes().get(0).coordinates();
    c[0] = 99;
    assertEquals(((1 + 0.5) / 1000) * 10, b.boxes().get(0).x1());
    List<FlorenceBox> source = new ArrayList<>(b.boxes());
    FlorenceResult.Boxes copy = new FlorenceResult.Boxes(FlorenceTask.OD, source);
    source.clear();
    assertEquals(1, copy.boxes().size());
  }
}
