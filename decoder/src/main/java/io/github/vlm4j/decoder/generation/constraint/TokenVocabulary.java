package io.github.vlm4j.decoder.generation.constraint;

import io.github.vlm4j.core.text.TextTokenizer;

/**
 * The text each token id stands for, as constrained decoding needs it. Immutable and thread-safe.
 */
public final class TokenVocabulary {
  private TokenVocabulary() {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /**
   * Returns the vocabulary of a tokenizer (computed once per tokenizer and cached).
   *
   * @param tokenizer the tokenizer
   * @return its vocabulary
   */
  public static TokenVocabulary of(TextTokenizer tokenizer) {
    throw new UnsupportedOperationException("not implemented yet");
  }
}
