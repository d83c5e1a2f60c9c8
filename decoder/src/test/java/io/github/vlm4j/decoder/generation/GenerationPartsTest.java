package io.github.vlm4j.decoder.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.vlm4j.core.VlmInputException;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Logits processors, samplers and config validation, with HuggingFace semantics. */
class GenerationPartsTest {
  @Test
  void repetitionPenaltyDividesPositiveAndMultipliesNegativeOncePerId() {
    float[] l = {2f, -2f, 1f, 4f};
    LogitsProcessors.repetitionPenalty(2.0).process(new int[] {0, 1, 0, 1, 9}, 4, l);
    assertArrayEquals(new float[] {1f, -4f, 1f, 4f}, l);
  }

  @Test
  void topKKeepsTiesWithTheKth() {
    float[] l = {1f, 5f, 3f, 3f, 0f};
    LogitsProcessors.topK(2).process(new int[0], 0, l);
    assertEquals(5f, l[1]);
    assertEquals(3f, l[2]);
    assertEquals(3f, l[3]);
    assertEquals(Float.NEGATIVE_INFINITY, l[0]);
    assertEquals(Float.NEGATIVE_INFINITY, l[4]);
  }

  @Test
  void repetitionPenaltyIsTheSameOnEveryCall() {
    LogitsProcessor p = LogitsProcessors.repetitionPenalty(2.0);
    for (int round = 0; round < 3; round++) {   // per-thread marks must be cleared between calls
      float[] l = {2f, -2f, 1f, 4f};
      p.process(new int[] {0, 1, 0, 1, 9}, 4, l);
      assertArrayEquals(new float[] {1f, -4f, 1f, 4f}, l);
    }
  }

  @Test
  void topKThresholdIsTheKthLargestOnRandomLogits() {
    SplittableRandom r = new SplittableRandom(11);
    for (int k : new int[] {1, 2, 7, 50, 999}) {
      LogitsProcessor p = LogitsProcessors.topK(k);
      for (int round = 0; round < 20; round++) {
        float[] l = new float[1000];
        for (int i = 0; i < l.length; i++) {
          l[i] = (float) r.nextInt(-300, 300) / 10f;   // many ties
        }
        float[] sorted = l.clone();
        java.util.Arrays.sort(sorted);
        float threshold = sorted[sorted.length - k];
        float[] expected = l.clone();
        for (int i = 0; i < expected.length; i++) {
          if (expected[i] < threshold) {
            expected[i] = Float.NEGATIVE_INFINITY;
          }
        }
        p.process(new int[0], 0, l);
        assertArrayEquals(expected, l, "k=" + k);
      }
    }
  }

  /** The textbook nucleus filter over every token (sort all ids by probability, stable). */
  private static void referenceTopP(float[] logits, double p) {
    double[] probs = LogitsProcessors.softmax(logits);
    Integer[] order = new Integer[logits.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    java.util.Arrays.sort(order, (a, b) -> Double.compare(probs[b], probs[a]));
    double above = 0;
    boolean keep = true;
    for (int i : order) {
      if (!keep) {
        logits[i] = Float.NEGATIVE_INFINITY;
        continue;
      }
      above += probs[i];
      keep = above < p;
    }
  }

  @Test
  void topPEqualsTheFullSortOnRandomLogits() {
    SplittableRandom r = new SplittableRandom(5);
    for (double p : new double[] {0.1, 0.5, 0.9, 0.999999}) {
      LogitsProcessor topP = LogitsProcessors.topP(p);
      for (int round = 0; round < 30; round++) {
        float[] l = new float[500];
        for (int i = 0; i < l.length; i++) {
          l[i] = round % 3 == 0 && r.nextInt(4) > 0 ? Float.NEGATIVE_INFINITY   // as after top-k
              : round % 3 == 1 ? -400f * r.nextInt(3)                           // exp(-800) underflows to 0
              : (float) r.nextInt(-50, 50) / 7f;
        }
        float[] expected = l.clone();
        referenceTopP(expected, p);
        topP.process(new int[0], 0, l);
        assertArrayEquals(expected, l, "p=" + p + " round " + round);
      }
    }
  }

  @Test
  void topPKeepsTheSmallestSetReachingP() {
    float[] l = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.2)};
    float[] a = l.clone();
    LogitsProcessors.topP(0.75).process(new int[0], 0, a);
    assertTrue(a[0] > Float.NEGATIVE_INFINITY && a[1] > Float.NEGATIVE_INFINITY);
    assertEquals(Float.NEGATIVE_INFINITY, a[2]);
    float[] b = l.clone();
    LogitsProcessors.topP(0.5).process(new int[0], 0, b);
    assertTrue(b[0] > Float.NEGATIVE_INFINITY);
    assertEquals(Float.NEGATIVE_INFINITY, b[1]);
  }

  @Test
  void greedyReturnsTheFirstMaximum() {
    assertEquals(1, Sampler.greedy().sample(new float[] {0f, 3f, 3f, -1f}));
  }

  @Test
  void seededSamplingIsReproducibleAndFollowsTheDistribution() {
    float[] l = {0f, (float) Math.log(3), Float.NEGATIVE_INFINITY};
    int[] a = new int[200];
    int[] b = new int[200];
    Sampler s1 = Sampler.multinomial(new SplittableRandom(42));
    Sampler s2 = Sampler.multinomial(new SplittableRandom(42));
    int ones = 0;
    for (int i = 0; i < 200; i++) {
      a[i] = s1.sample(l);
      b[i] = s2.sample(l);
      assertTrue(a[i] != 2, "a token with zero probability was sampled");
      ones += a[i];
    }
    assertArrayEquals(a, b);
    assertTrue(ones > 120 && ones < 180, "P(1)=0.75, got " + ones + "/200");
  }

  @Test
  void processorsRunInHuggingFaceOrderAndCallerProcessorsAreAppended() {
    StringBuilder order = new StringBuilder();
    GenerationConfig cfg = GenerationConfig.builder().temperature(0.5).topK(3).topP(0.9).repetitionPenalty(1.2)
        .addProcessor((s, n, l) -> order.append("mine")).build();
    assertEquals(5, cfg.processors(0).size());
    float[] l = {1f, 2f, 3f, 4f};
    cfg.processors(0).forEach(p -> p.process(new int[0], 0, l));
    assertEquals("mine", order.toString());
    assertEquals(3, GenerationConfig.greedy(8).toBuilder().repetitionPenalty(1.1).addProcessor((s, n, x) -> { })
        .addProcessor((s, n, x) -> { }).build().processors(0).size());
  }

  @Test
  void presenceAndFrequencyPenaltiesCountOnlyGeneratedTokens() {
    // prompt [0, 0, 1], generated [2, 2, 3, 2]: token 2 three times, 3 once; 0 and 1 only in the prompt
    int[] seq = {0, 0, 1, 2, 2, 3, 2};
    float[] l = {1f, 1f, 1f, 1f, 1f};
    GenerationConfig cfg = GenerationConfig.builder().presencePenalty(0.5).frequencyPenalty(0.25).build();
    cfg.processors(3).forEach(p -> p.process(seq, seq.length, l));
    assertArrayEquals(new float[] {1f, 1f, 1f - 0.5f - 0.75f, 1f - 0.5f - 0.25f, 1f}, l, 1e-6f);
    // the same call again: the scratch counts were cleared
    float[] again = {1f, 1f, 1f, 1f, 1f};
    cfg.processors(3).forEach(p -> p.process(seq, seq.length, again));
    assertArrayEquals(l, again, 0f);
    // negative values reward repetition, as OpenAI's do
    float[] n = {0f, 0f, 0f, 0f};
    GenerationConfig.builder().frequencyPenalty(-1).build().processors(0).forEach(p -> p.process(new int[] {1, 1}, 2, n));
    assertArrayEquals(new float[] {0f, 2f, 0f, 0f}, n, 0f);
  }

  @Test
  void logitBiasIsAddedAndIdsBeyondTheVocabularyAreRefused() {
    float[] l = {0f, 5f, 0f};
    GenerationConfig cfg = GenerationConfig.builder().logitBias(java.util.Map.of(0, 100.0, 1, -100.0)).build();
    cfg.processors(0).forEach(p -> p.process(new int[0], 0, l));
    assertArrayEquals(new float[] {100f, -95f, 0f}, l, 0f);
    assertEquals(0, cfg.newSampler().sample(l));
    GenerationConfig far = GenerationConfig.builder().logitBias(java.util.Map.of(3, 1.0)).build();
    io.github.vlm4j.core.VlmInputException e = org.junit.jupiter.api.Assertions.assertThrows(
        io.github.vlm4j.core.VlmInputException.class,
        () -> far.processors(0).forEach(p -> p.process(new int[0], 0, new float[3])));
    assertTrue(e.getMessage().contains("token id 3") && e.getMessage().contains("vocabulary size 3"), e.getMessage());
  }

  @Test
  void penaltiesAndBiasesOutOfRangeAreTyped() {
    for (Runnable bad : new Runnable[] {
        () -> GenerationConfig.builder().presencePenalty(2.5).build(),
        () -> GenerationConfig.builder().frequencyPenalty(Double.NaN).build(),
        () -> GenerationConfig.builder().logitBias(java.util.Map.of(-1, 1.0)).build(),
        () -> GenerationConfig.builder().logitBias(java.util.Map.of(1, 101.0)).build()}) {
      io.github.vlm4j.core.VlmInputException e = org.junit.jupiter.api.Assertions.assertThrows(
          io.github.vlm4j.core.VlmInputException.class, bad::run);
      assertEquals(io.github.vlm4j.core.VlmInputException.Reason.INVALID_OPTION, e.reason());
    }
  }

  @Test
  void temperatureZeroMeansGreedy() {
    GenerationConfig g = GenerationConfig.builder().temperature(0).build();
    assertEquals(false, g.doSample());
    assertEquals(1, g.newSampler().sample(new float[] {0f, 1f}));
  }

  @Test
  void invalidOptionsAreTyped() {
    for (Runnable r : new Runnable[] {
        () -> GenerationConfig.builder().maxNewTokens(0).build(),
        () -> GenerationConfig.builder().temperature(-1).build(),
        () -> GenerationConfig.builder().topK(-1).build(),
        () -> GenerationConfig.builder().topP(0).build(),
        () -> GenerationConfig.builder().repetitionPenalty(0).build(),
        () -> GenerationConfig.builder().stopStrings(java.util.List.of("")).build()}) {
      VlmInputException e = assertThrows(VlmInputException.class, r::run);
      assertEquals(VlmInputException.Reason.INVALID_OPTION, e.reason());
    }
  }
}
