package io.github.vlm4j.decoder.generation;

import java.util.Arrays;

/** The standard processors, with HuggingFace semantics. Each is stateless and thread-safe. */
public final class LogitsProcessors {
  private LogitsProcessors() {}

  /**
   * Repetition penalty over every distinct id in the sequence, prompt included: positive logits are
   * divided by {@code penalty}, negative ones multiplied.
   *
   * @param penalty > 0; 1 means none
   * @return the processor
   */
  public static LogitsProcessor repetitionPenalty(double penalty) {
    return (seq, len, logits) -> {
      boolean[] seen = new boolean[logits.length];
      for (int i = 0; i < len; i++) {
        int id = seq[i];
        if (id >= 0 && id < logits.length && !seen[id]) {
          seen[id] = true;
          float l = logits[id];
          logits[id] = (float) (l < 0 ? l * penalty : l / penalty);
        }
      }
    };
  }

  /** @param t > 0 @return divides logits by {@code t} */
  public static LogitsProcessor temperature(double t) {
    return (seq, len, logits) -> {
      for (int i = 0; i < logits.length; i++) {
        logits[i] = (float) (logits[i] / t);
      }
    };
  }

  /**
   * Keeps the {@code k} largest logits (and ties with the k-th), sets the rest to -infinity.
   *
   * @param k > 0
   * @return the processor
   */
  public static LogitsProcessor topK(int k) {
    return (seq, len, logits) -> {
      if (k >= logits.length) {
        return;
      }
      float[] sorted = logits.clone();
      Arrays.sort(sorted);
      float threshold = sorted[sorted.length - k];
      for (int i = 0; i < logits.length; i++) {
        if (logits[i] < threshold) {
          logits[i] = Float.NEGATIVE_INFINITY;
        }
      }
    };
  }

  /**
   * Nucleus filtering: keeps the most probable tokens whose cumulative probability first reaches
   * {@code p} (at least one), sets the rest to -infinity.
   *
   * @param p in (0, 1]
   * @return the processor
   */
  public static LogitsProcessor topP(double p) {
    return (seq, len, logits) -> {
      if (p >= 1.0) {
        return;
      }
      double[] probs = softmax(logits);
      Integer[] order = new Integer[logits.length];
      for (int i = 0; i < order.length; i++) {
        order[i] = i;
      }
      Arrays.sort(order, (a, b) -> Double.compare(probs[b], probs[a]));
      double above = 0;
      boolean keep = true;
      for (int rank = 0; rank < order.length; rank++) {
        int i = order[rank];
        if (!keep) {
          logits[i] = Float.NEGATIVE_INFINITY;
          continue;
        }
        above += probs[i];
        if (above >= p) {
          keep = false;
        }
      }
    };
  }

  /**
   * @param logits logits, possibly with -infinity entries
   * @return softmax probabilities (double precision)
   */
  public static double[] softmax(float[] logits) {
    double max = Double.NEGATIVE_INFINITY;
    for (float l : logits) {
      max = Math.max(max, l);
    }
    double[] p = new double[logits.length];
    double sum = 0;
    for (int i = 0; i < logits.length; i++) {
      p[i] = logits[i] == Float.NEGATIVE_INFINITY ? 0 : Math.exp(logits[i] - max);
      sum += p[i];
    }
    for (int i = 0; i < p.length; i++) {
      p[i] /= sum;
    }
    return p;
  }
}
