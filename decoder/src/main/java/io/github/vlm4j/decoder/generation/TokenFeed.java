package io.github.vlm4j.decoder.generation;

/**
 * Runs the decoder on one chosen token of a sequence: through the sequence's own decoder state, or
 * as its row of a step shared with other sequences.
 */
@FunctionalInterface
public interface TokenFeed {
  /**
   * Appends a token to the sequence and returns the logits of the new position.
   *
   * @param token the chosen token id
   * @return the logits after it (an array the feed may reuse on its next call)
   */
  float[] feed(int token);
}
