package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.core.onnx.Dtype;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import io.github.vlm4j.florence.FlorenceAnswer;
import io.github.vlm4j.florence.FlorenceBox;
import io.github.vlm4j.florence.FlorenceInput;
import io.github.vlm4j.florence.FlorenceModel;
import io.github.vlm4j.florence.FlorenceQuad;
import io.github.vlm4j.florence.FlorenceRegion;
import io.github.vlm4j.florence.FlorenceResult;
import io.github.vlm4j.florence.FlorenceTask;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The tiny Florence-2 folder's goldens (PyTorch, {@code florence2_kit.py}): for every case the
 * prompt ids, the greedy ids (forced {@code <s>} first, forced {@code </s>} at the length limit),
 * the generated text with special tokens, the first- and second-step top-5 logits (1e-4, before the
 * forced tokens) and the post-processed answer, which must equal transformers.js 4.3.1's own {@code
 * post_process_generation} of the same text ({@code tjs_post_processed}, written by {@code
 * peer-check.sh --florence2}). The fp16 / q8 variants reproduce their own goldens.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FlorenceGoldenTest {
  static final String NAME = "vlm4j-tiny-florence2";
  private static final Pattern LOC = Pattern.compile("<loc_(\\d+)>");
  private FlorenceModel model;

  @BeforeAll
  void load() throws Exception {
    model = FlorenceModel.load(Fixtures.model(NAME));
  }

  @AfterAll
  void close() {
    model.close();
  }

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (JsonNode c : Fixtures.json(Fixtures.model(NAME).resolve("goldens.json")).get("cases")) {
      out.add(Arguments.of(c.get("name").asText(), c));
    }
    return out.stream();
  }

  /** The case's task and input: the text after the task token, or its region's four bins. */
  static FlorenceInput input(JsonNode c, FlorenceTask task) {
    String rest = c.get("text").asText().substring(task.token().length());
    if (task.takesRegion()) {
      Matcher m = LOC.matcher(rest);
      int[] b = new int[4];
      for (int i = 0; i < 4; i++) {
        assertTrue(m.find(), rest);
        b[i] = Integer.parseInt(m.group(1));
      }
      return new FlorenceRegion(b[0], b[1], b[2], b[3]);
    }
    return task.takesInput() ? FlorenceInput.text(rest) : null;
  }

  static final class Probe implements io.github.vlm4j.decoder.generation.LogitsProcessor {
    final List<float[]> steps = new ArrayList<>();

    @Override
    public void process(int[] sequence, int length, float[] logits) {
      if (steps.size() < 2) {
        steps.add(logits.clone());
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void reproducesPyTorchGolden(String name, JsonNode c) {
    assertCase(model, c, "fp32", 1e-4);
  }

  static void assertCase(FlorenceModel model, JsonNode c, String dtype, double tolerance) {
    JsonNode want = dtype.equals("fp32") ? c : c.get("variants").get(dtype);
    Path image = Fixtures.model(NAME).resolve(c.get("image").asText());
    Probe probe = new Probe();
    GenerationConfig cfg = GenerationConfig.builder().maxNewTokens(c.get("max_new_tokens").asInt())
        .addProcessor(probe).build();
    var task = FlorenceTask.fromToken(c.get("task").asText());
    int[] generated;
    String raw;
    if (task.isEmpty()) {   // free text
      var r = model.generate(c.get("prompt").asText(), ImageInput.of(image), cfg, TokenStreamer.none());
      generated = r.tokenIds();
      raw = null;
    } else {
      FlorenceInput input = input(c, task.get());
      if (dtype.equals("fp32")) {
        assertArrayEquals(Fixtures.ints(c.get("prompt_ids")), model.promptIds(task.get(), input), "prompt ids");
      }
      FlorenceAnswer a = model.run(task.get(), ImageInput.of(image), input, cfg, TokenStreamer.none());
      assertEquals(c.get("prompt").asText(), a.prompt() + (input instanceof FlorenceRegion r
          ? r.tokens() + task.get().template().substring(task.get().template().indexOf("{input}") + 7) : ""));
      generated = a.generation().tokenIds();
      raw = a.rawText();
      if (dtype.equals("fp32")) {
        assertEquals(65, a.generation().usage().imageTokens());
        assertPostProcessed(c, task.get(), a);
      }
    }
    assertArrayEquals(Fixtures.ints(want.get("generated_ids")), generated, dtype + " generated ids");
    if (raw != null && dtype.equals("fp32")) {
      assertEquals(c.get("generated_text").asText(), raw);
    }
    String[] steps = {"first_step_top5", "second_step_top5"};
    for (int s = 0; s < 2; s++) {
      if (!want.has(steps[s])) {
        continue;
      }
      for (JsonNode t : want.get(steps[s])) {
        double expected = t.get(1).asDouble();
        float got = probe.steps.get(s)[t.get(0).asInt()];
        assertTrue(Math.abs(got - expected) <= tolerance, dtype + " " + steps[s] + " logit " + t.get(0) + ": expected "
            + expected + ", got " + got);
      }
    }
  }

  /** Java's parse equals transformers.js's post_process_generation of the same generated text. */
  static void assertPostProcessed(JsonNode c, FlorenceTask task, FlorenceAnswer a) {
    JsonNode tjs = c.get("tjs_post_processed");
    if (tjs.has("error")) {
      assertTrue(a.result().isEmpty(), task + ": transformers.js does not post-process it, nor does vlm4j");
      return;
    }
    JsonNode want = tjs.get(task.token());
    FlorenceResult got = a.result().orElseThrow();
    if (got instanceof FlorenceResult.Text t) {
      assertEquals(want.asText(), t.text());
    } else if (got instanceof FlorenceResult.Boxes b) {
      assertEquals(want.get("bboxes").size(), b.boxes().size(), "boxes");
      for (int i = 0; i < b.boxes().size(); i++) {
        FlorenceBox box = b.boxes().get(i);
        assertEquals(want.get("labels").get(i).asText(), box.label());
        assertArrayEquals(doubles(want.get("bboxes").get(i)), box.coordinates(), "box " + i);
      }
    } else if (got instanceof FlorenceResult.Quads q) {
      assertEquals(want.get("quad_boxes").size(), q.quads().size(), "quads");
      for (int i = 0; i < q.quads().size(); i++) {
        FlorenceQuad quad = q.quads().get(i);
        assertEquals(want.get("labels").get(i).asText(), quad.label());
        assertArrayEquals(doubles(want.get("quad_boxes").get(i)), quad.coordinates(), "quad " + i);
      }
    }
  }

  static double[] doubles(JsonNode a) {
    double[] out = new double[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).asDouble();
    }
    return out;
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"fp16, 2e-2", "q8, 1e-3"})
  void variantsReproduceTheirGoldens(String dtype, double tolerance) throws Exception {
    // q8: the float (accuracy level 1) MatMulNBits path the goldens' dequantization matches, as VariantsTest
    var settings = io.github.vlm4j.core.onnx.SessionSettings.builder();
    if (dtype.equals("q8")) {
      settings.configEntry(io.github.vlm4j.core.onnx.SessionSettings.QDQ_MATMULNBITS_ACCURACY_LEVEL, "1");
    }
    try (FlorenceModel variant = FlorenceModel.load(Fixtures.model(NAME), Dtype.parse(dtype), settings.build())) {
      for (JsonNode c : Fixtures.json(Fixtures.model(NAME).resolve("goldens.json")).get("cases")) {
        assertCase(variant, c, dtype, tolerance);
      }
    }
  }
}
