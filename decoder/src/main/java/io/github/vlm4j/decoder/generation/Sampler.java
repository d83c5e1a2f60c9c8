package io.github.vlm4j.decoder.generation;

import java.util.random.RandomGenerator;

/** Picks the next token from processed logits. */
@FunctionalInterface
public interface Sampler {
  /**
   * @param logits processed logits
   * @return the chosen token id
   */
  int sample(float[] logits);

  /** @return argmax, returning the first maximal index (as transformers.js does); thread-safe */
  static Sampler greedy() {
    return logits -> {
      int best = 0;
      float bestVal = logits[0];
      for (int i = 1; i < logits.length; i++) {
        if (logits[i] > bestVal) {
          bestVal = logits[i];
          best = i;
        }
      }
      return best;
    };
  }

  /**
   * @param random source of randomness (seed it for reproducible samples); not shared across threads
   * @return a sampler drawing from the softmax distribution; not thread-safe (its random source and
   *     a reused probability buffer: no allocation per decode step)
   */
  static Sampler multinomial(RandomGenerator random) {
    double[][] scratch = {new double[0]};
    return logits -> {
      if (scratch[0].length < logits.length) {
        scratch[0] = new double[logits.length];
      }
      double[] p = scratch[0];
      LogitsProcessors.softmax(logits, p);
      double u = random.nextDouble();
      double acc = 0;
      int last = -1;
      for (int i = 0; i < logits.length; i++) {
        if (p[i] > 0) {
          acc += p[i];
          last = i;
          if (u < acc) {
            return i;
          }
        }
      }
      return last;
    };
  }
}
