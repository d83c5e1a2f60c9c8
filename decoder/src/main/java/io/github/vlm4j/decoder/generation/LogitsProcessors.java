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
    // per-thread scratch marks, cleared after each call: no allocation per decode step
    ThreadLocal<boolean[]> marks = new ThreadLocal<>();
    return (seq, len, logits) -> {
      boolean[] seen = marks.get();
      if (seen == null || seen.length < logits.length) {
        seen = new boolean[logits.length];
        marks.set(seen);
      }
      for (int i = 0; i < len; i++) {
        int id = seq[i];
        if (id >= 0 && id < logits.length && !seen[id]) {
          seen[id] = true;
          float l = logits[id];
          logits[id] = (float) (l < 0 ? l * penalty : l / penalty);
        }
      }
      for (int i = 0; i < len; i++) {
        int id = seq[i];
        if (id >= 0 && id < logits.length) {
          seen[id] = false;
        }
      }
    };
  }

  /**
   * OpenAI's presence and frequency penalties: the logit of every token generated so far (the ids
   * after the first {@code promptLength}) loses {@code presence} once and {@code frequency} per time
   * it was generated.
   *
   * @param presence subtracted once per distinct generated token
   * @param frequency subtracted per occurrence
   * @param promptLength ids at the start of the sequence that are not counted
   * @return the processor
   */
  public static LogitsProcessor presenceAndFrequency(double presence, double frequency, int promptLength) {
    // per-thread scratch counts, cleared after each call: no allocation per decode step
    ThreadLocal<int[]> scratch = new ThreadLocal<>();
    return (seq, len, logits) -> {
      int[] counts = scratch.get();
      if (counts == null || counts.length < logits.length) {
        counts = new int[logits.length];
        scratch.set(counts);
      }
      for (int i = promptLength; i < len; i++) {
        int id = seq[i];
        if (id >= 0 && id < logits.length) {
          counts[id]++;
        }
      }
      for (int i = promptLength; i < len; i++) {
        int id = seq[i];
        if (id >= 0 && id < logits.length && counts[id] > 0) {
          logits[id] = (float) (logits[id] - presence - frequency * counts[id]);
          counts[id] = 0;
        }
      }
    };
  }

  /**
   * Adds a fixed bias to the logits of some token ids.
   *
   * @param bias token id to the value added
   * @return the processor; it throws {@link io.github.vlm4j.core.VlmInputException} (INVALID_OPTION) for an
   *     id beyond the vocabulary
   */
  public static LogitsProcessor logitBias(java.util.Map<Integer, Double> bias) {
    int[] ids = bias.keySet().stream().mapToInt(Integer::intValue).sorted().toArray();
    float[] values = new float[ids.length];
    for (int i = 0; i < ids.length; i++) {
      values[i] = bias.get(ids[i]).floatValue();
    }
    return (seq, len, logits) -> {
      if (ids.length > 0 && ids[ids.length - 1] >= logits.length) {
        throw new io.github.vlm4j.core.VlmInputException(io.github.vlm4j.core.VlmInputException.Reason.INVALID_OPTION,
            "logit bias names token id " + ids[ids.length - 1] + ", expected ids below the vocabulary size "
            + logits.length);
      }
      for (int i = 0; i < ids.length; i++) {
        logits[ids[i]] += values[i];
      }
    };
  }

  /**
   * Divides every logit by {@code t}.
   *
   * @param t &gt; 0
   * @return the processor
   */
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
    // the k-th largest value from a min-heap of k entries (per-thread scratch): O(vocab log k), no
    // allocation per decode step
    ThreadLocal<float[]> heaps = ThreadLocal.withInitial(() -> new float[k]);
    return (seq, len, logits) -> {
      if (k >= logits.length) {
        return;
      }
      float[] heap = heaps.get();
      System.arraycopy(logits, 0, heap, 0, k);
      for (int i = k / 2 - 1; i >= 0; i--) {
        siftDown(heap, i, k);
      }
      for (int i = k; i < logits.length; i++) {
        if (Float.compare(logits[i], heap[0]) > 0) {
          heap[0] = logits[i];
          siftDown(heap, 0, k);
        }
      }
      float threshold = heap[0];
      for (int i = 0; i < logits.length; i++) {
        if (logits[i] < threshold) {
          logits[i] = Float.NEGATIVE_INFINITY;
        }
      }
    };
  }

  private static void siftDown(float[] heap, int i, int n) {
    while (true) {
      int smallest = i;
      int l = 2 * i + 1;
      int r = l + 1;
      if (l < n && Float.compare(heap[l], heap[smallest]) < 0) {
        smallest = l;
      }
      if (r < n && Float.compare(heap[r], heap[smallest]) < 0) {
        smallest = r;
      }
      if (smallest == i) {
        return;
      }
      float t = heap[i];
      heap[i] = heap[smallest];
      heap[smallest] = t;
      i = smallest;
    }
  }

  /**
   * Nucleus filtering: keeps the most probable tokens whose cumulative probability first reaches
   * {@code p} (at least one), sets the rest to -infinity.
   *
   * @param p in (0, 1]
   * @return the processor
   */
  public static LogitsProcessor topP(double p) {
    ThreadLocal<double[]> scratch = new ThreadLocal<>();
    return (seq, len, logits) -> {
      if (p >= 1.0) {
        return;
      }
      double[] probs = scratch.get();
      if (probs == null || probs.length < logits.length) {
        probs = new double[logits.length];
        scratch.set(probs);
      }
      softmax(logits, probs);
      // only tokens of non-zero probability need ordering (after top-k, a few): zero-probability
      // tokens come last in the descending order, and are removed exactly when the cut falls before them
      int positive = 0;
      for (int i = 0; i < logits.length; i++) {
        if (probs[i] > 0) {
          positive++;
        }
      }
      Integer[] order = new Integer[positive];
      for (int i = 0, j = 0; i < logits.length; i++) {
        if (probs[i] > 0) {
          order[j++] = i;
        }
      }
      double[] pr = probs;
      Arrays.sort(order, (a, b) -> Double.compare(pr[b], pr[a]));
      double above = 0;
      boolean keep = true;
      for (int i : order) {
        if (!keep) {
          logits[i] = Float.NEGATIVE_INFINITY;
          continue;
        }
        above += probs[i];
        if (above >= p) {
          keep = false;
        }
      }
      if (!keep) {
        for (int i = 0; i < logits.length; i++) {
          if (probs[i] == 0) {
            logits[i] = Float.NEGATIVE_INFINITY;
          }
        }
      }
    };
  }

  /**
   * Computes the softmax of logits.
   *
   * @param logits logits, possibly with -infinity entries
   * @return softmax probabilities (double precision)
   */
  public static double[] softmax(float[] logits) {
    double[] p = new double[logits.length];
    softmax(logits, p);
    return p;
  }

  /** Softmax of {@code logits} into the first {@code logits.length} entries of {@code p}. */
  static void softmax(float[] logits, double[] p) {
    double max = Double.NEGATIVE_INFINITY;
    for (float l : logits) {
      max = Math.max(max, l);
    }
    double sum = 0;
    for (int i = 0; i < logits.length; i++) {
      p[i] = logits[i] == Float.NEGATIVE_INFINITY ? 0 : Math.exp(logits[i] - max);
      sum += p[i];
    }
    for (int i = 0; i < logits.length; i++) {
      p[i] /= sum;
    }
  }
}
