package io.github.vlm4j.decoder.generation;

/** Log-probabilities from raw logits (label scoring). Stateless and thread-safe. */
public final class LogProbs {
  private LogProbs() {}

  /**
   * Returns the natural-log probability of one token under a softmax over one row of logits,
   * computed in double precision with the row's maximum subtracted first.
   *
   * @param logits logits, one or more rows of {@code vocab} values
   * @param from index of the row's first value
   * @param vocab row length
   * @param token the token, in {@code [0, vocab)}
   * @return {@code log softmax(logits[from .. from + vocab))[token]}
   */
  public static double at(float[] logits, int from, int vocab, int token) {
    double max = Double.NEGATIVE_INFINITY;
    for (int i = from; i < from + vocab; i++) {
      max = Math.max(max, logits[i]);
    }
    double z = 0;
    for (int i = from; i < from + vocab; i++) {
      z += Math.exp(logits[i] - max);
    }
    return logits[from + token] - max - Math.log(z);
  }
}
