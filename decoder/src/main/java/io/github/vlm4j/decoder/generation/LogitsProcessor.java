package io.github.vlm4j.decoder.generation;

/**
 * Modifies next-token logits in place before sampling. Implementations used from several threads
 * must be stateless or thread-safe.
 */
@FunctionalInterface
public interface LogitsProcessor {
  /**
   * Adjusts the logits of the next token.
   *
   * @param sequence prompt ids followed by the ids generated so far
   * @param length number of valid entries in {@code sequence}
   * @param logits next-token logits, modified in place
   */
  void process(int[] sequence, int length, float[] logits);
}
