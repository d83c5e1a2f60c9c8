package io.github.vlm4j.decoder.generation;

import io.github.vlm4j.core.InferenceException;
import java.util.random.RandomGenerator;

/**
 * Picks the next token from processed logits. The built-in samplers never return an id outside
 * {@code [0, logits.length)}: logits the model or a processor made NaN (or, when sampling, +infinity),
 * or a step where every token is -infinity, end the request with an {@link InferenceException}.
 */
@FunctionalInterface
public interface Sampler {
  /**
   * Chooses the next token.
   *
   * @param logits processed logits
   * @return the chosen token id
   * @throws InferenceException if the logits hold no usable distribution (NaN, all -infinity)
   */
  int sample(float[] logits);

  /**
   * Returns a sampler that picks the most likely token.
   *
   * @return argmax, returning the first maximal index (as transformers.js does); thread-safe
   */
  static Sampler greedy() {
    return logits -> {
      int best = -1;
      float bestVal = Float.NEGATIVE_INFINITY;
      for (int i = 0; i < logits.length; i++) {
        float l = logits[i];
        if (l > bestVal) {
          bestVal = l;
          best = i;
        } else if (Float.isNaN(l)) {
          throw nan(i);
        }
      }
      if (best < 0) {
        throw noToken(logits.length);
      }
      return best;
    };
  }

  /**
   * Returns a sampler that draws tokens at random.
   *
   * @param random source of randomness (seed it for reproducible samples); not shared across threads
   * @return a sampler drawing from the softmax distribution; not thread-safe (its random source and
   *     a reused probability buffer: no allocation per decode step)
   */
  static Sampler multinomial(RandomGenerator random) {
    double[][] scratch = {new double[0]};
    return logits -> {
      for (int i = 0; i < logits.length; i++) {
        if (Float.isNaN(logits[i]) || logits[i] == Float.POSITIVE_INFINITY) {
          throw nan(i);
        }
      }
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
      if (last < 0) {
        throw noToken(logits.length);
      }
      return last;
    };
  }

  private static InferenceException nan(int id) {
    return new InferenceException("the logits are not usable: token " + id
        + " has a NaN or +infinite score (a broken model or logits processor)");
  }

  private static InferenceException noToken(int vocab) {
    return new InferenceException("every one of the " + vocab
        + " tokens has a score of -infinity; no token can be chosen (a logits processor removed them all)");
  }
}
