package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.onnx.Dtype;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The fp16 and weight-only int8 variants load and run, and reproduce their own goldens (computed by
 * the kit in PyTorch with the same weight, KV-cache and logits rounding): ids equal; first-step
 * logits within 1e-2 for fp16 (float16 logits) and 1e-3 for q8 with float32 compute.
 *
 * <p>With ONNX Runtime's default settings the q8 graph runs as {@code MatMulNBits} with int8
 * activations (accuracy level 4), a different arithmetic the PyTorch simulation does not model; that
 * fast path is held to a looser documented tolerance on the same goldens.
 */
class VariantsTest {
  static final String MODEL = "vlm4j-tiny-idefics3";

  @ParameterizedTest(name = "{0} accuracy level {2}")
  @CsvSource({"fp16, 1e-2, default", "q8, 1e-3, 1"})
  void variantReproducesItsGoldens(String dtype, double tolerance, String accuracyLevel) throws Exception {
    assertVariantGoldens(MODEL, dtype, tolerance, accuracyLevel);
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource({"vlm4j-tiny-qwen2-vl, fp16, 2e-2", "vlm4j-tiny-qwen2-vl, q8, 1e-3",
      "vlm4j-tiny-qwen2_5-vl, fp16, 2e-2", "vlm4j-tiny-qwen2_5-vl, q8, 1e-3",
      "vlm4j-tiny-qwen3-vl, fp16, 2e-2", "vlm4j-tiny-qwen3-vl, q8, 1e-3",
      "vlm4j-tiny-qwen3-vl-deepstack, fp16, 2e-2", "vlm4j-tiny-qwen3-vl-deepstack, q8, 1e-3",
      "vlm4j-tiny-lfm2-vl, fp16, 2e-2", "vlm4j-tiny-lfm2-vl, q8, 1e-3",
      "vlm4j-tiny-gemma3, fp16, 2e-2", "vlm4j-tiny-gemma3, q8, 1e-3"})
  void newFamilyVariantsReproduceTheirGoldens(String name, String dtype, double tolerance) throws Exception {
    // q8: the float (accuracy level 1) MatMulNBits path the goldens' PyTorch dequantization matches; ONNX
    // Runtime's default int8-activation path drifts by ~2e-2 (measured: 13.4978 vs 13.5187), as
    // VariantsTest documents for the SmolVLM-layout model
    VariantsTest.assertVariantGoldens(name, dtype, tolerance, dtype.equals("q8") ? "1" : "default");
  }


  /**
   * Loads {@code name} in {@code dtype} and asserts every golden case's variant ids and first-step
   * top-5 logits (within {@code tolerance}).
   *
   * @param accuracyLevel MatMulNBits accuracy level for q8 graphs, or "default"
   */
  static void assertVariantGoldens(String name, String dtype, double tolerance, String accuracyLevel)
      throws Exception {
    var builder = VisionLanguageModel.builder(Fixtures.model(name)).dtype(dtype);
    if (!accuracyLevel.equals("default")) {
      builder.sessionConfig(io.github.vlm4j.core.onnx.SessionSettings.QDQ_MATMULNBITS_ACCURACY_LEVEL, accuracyLevel);
    }
    try (VisionLanguageModel model = builder.build()) {
      assertTrue(model.dtypes().values().stream().allMatch(d -> d == Dtype.parse(dtype)));
      for (JsonNode c : Fixtures.json(Fixtures.model(name).resolve("goldens.json")).get("cases")) {
        JsonNode g = c.get("variants").get(dtype);
        GoldenParityTest.FirstLogits probe = new GoldenParityTest.FirstLogits();
        GenerationResult r = model.generate(GoldenParityTest.messages(name, c),
            GenerationConfig.builder().maxNewTokens(c.get("max_new_tokens").asInt()).addProcessor(probe).build(),
            GoldenParityTest.options(c), TokenStreamer.none());
        assertArrayEquals(Fixtures.ints(g.get("generated_ids")), r.tokenIds(), dtype + " " + c.get("name").asText());
        for (JsonNode t : g.get("first_step_top5")) {
          double expected = t.get(1).asDouble();
          float got = probe.first[t.get(0).asInt()];
          assertTrue(Math.abs(got - expected) <= tolerance,
              dtype + " " + c.get("name").asText() + ": logit " + t.get(0) + " expected " + expected + ", got " + got);
        }
      }
    }
  }


  /** Logit tolerance of q8 on ONNX Runtime's default (int8-activation) MatMulNBits path. */
  static final double Q8_DEFAULT_TOLERANCE = 0.05;

  /**
   * q8 with ONNX Runtime's default settings (the fast path users get): every golden case runs, the
   * first-step logits are within {@value #Q8_DEFAULT_TOLERANCE} of the q8 goldens, and the greedy ids
   * equal the goldens wherever no step of the golden run was a near tie (top-2 margin above twice
   * the tolerance), since a near tie may legitimately flip under different arithmetic.
   */
  @org.junit.jupiter.api.Test
  void q8OnTheDefaultFastPathStaysWithinItsDocumentedTolerance() throws Exception {
    int idsChecked = 0;
    try (VisionLanguageModel model = VisionLanguageModel.builder(Fixtures.model(MODEL)).dtype("q8").build()) {
      for (JsonNode c : Fixtures.json(Fixtures.model(MODEL).resolve("goldens.json")).get("cases")) {
        JsonNode g = c.get("variants").get("q8");
        GoldenParityTest.FirstLogits probe = new GoldenParityTest.FirstLogits();
        GenerationResult r = model.generate(GoldenParityTest.messages(MODEL, c),
            GenerationConfig.builder().maxNewTokens(c.get("max_new_tokens").asInt()).addProcessor(probe).build(),
            GoldenParityTest.options(c), TokenStreamer.none());
        for (JsonNode t : g.get("first_step_top5")) {
          double expected = t.get(1).asDouble();
          float got = probe.first[t.get(0).asInt()];
          assertTrue(Math.abs(got - expected) <= Q8_DEFAULT_TOLERANCE,
              "q8 default " + c.get("name").asText() + ": logit " + t.get(0) + " expected " + expected + ", got " + got);
        }
        if (g.path("min_top2_margin").asDouble(0) > 2 * Q8_DEFAULT_TOLERANCE) {
          assertArrayEquals(Fixtures.ints(g.get("generated_ids")), r.tokenIds(), "q8 default " + c.get("name").asText());
          idsChecked++;
        }
      }
    }
    assertTrue(idsChecked > 0, "no golden case had a clear enough margin to compare ids");
  }
}
