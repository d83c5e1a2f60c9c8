package io.github.vlm4j.decoder.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.VlmInputException;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The samplers never return an id outside the vocabulary, whatever the logits hold. */
class SamplerSafetyTest {
  @Test
  void nanLogitsAreAnInferenceErrorNotIdMinusOne() {
    float[] nan = {Float.NaN, Float.NaN, Float.NaN};
    assertThrows(InferenceException.class, () -> Sampler.multinomial(new SplittableRandom(1)).sample(nan));
    assertThrows(InferenceException.class, () -> Sampler.greedy().sample(nan));
    assertThrows(InferenceException.class, () -> Sampler.greedy().sample(new float[] {1, Float.NaN, 3}));
  }

  @Test
  void allMinusInfinityIsAnInferenceError() {
    float[] none = {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY};
    assertThrows(InferenceException.class, () -> Sampler.multinomial(new SplittableRandom(1)).sample(none));
    assertThrows(InferenceException.class, () -> Sampler.greedy().sample(none));
  }

  @Test
  void positiveInfinityWhenSamplingIsAnInferenceError() {
    float[] inf = {1, Float.POSITIVE_INFINITY, Float.POSITIVE_INFINITY};
    assertThrows(InferenceException.class, () -> Sampler.multinomial(new SplittableRandom(1)).sample(inf));
    assertEquals(1, Sampler.greedy().sample(inf), "greedy keeps the first maximal index");
  }

  @Test
  void theSmallestTemperatureKeepsTheDistributionFinite() {
    GenerationConfig cfg = GenerationConfig.builder().temperature(GenerationConfig.MIN_TEMPERATURE).seed(3).build();
    Sampler s = cfg.newSampler();
    for (int trial = 0; trial < 100; trial++) {
      float[] logits = {30.5f, -12f, 30.49f, 0f, -1e4f};
      for (LogitsProcessor p : cfg.processors(0)) {
        p.process(new int[0], 0, logits);
      }
      assertEquals(0, s.sample(logits), "the argmax, as the temperature tends to 0");
    }
  }

  @Test
  void temperaturesBelowTheMinimumAreRefused() {
    VlmInputException e = assertThrows(VlmInputException.class, () -> GenerationConfig.builder().temperature(1e-300));
    assertEquals(VlmInputException.Reason.INVALID_OPTION, e.reason());
    assertThrows(VlmInputException.class, () -> new GenerationConfig(8, true, 1e-300, 0, 1, 1,
        java.util.Optional.empty(), java.util.List.of(), java.util.List.of(), java.util.List.of(), java.util.Optional.empty(), 0, 0,
        java.util.Map.of()));
  }
}
