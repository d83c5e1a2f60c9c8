package io.github.vlm4j.core.prompt;

import java.util.Objects;

/**
 * Text in a message. It is always tokenized as text: strings such as {@code <image>} or {@code
 * <end_of_utterance>} inside it never become special tokens.
 *
 * @param text the text
 */
public record TextPart(String text) implements ContentPart {
  /**
   * Rejects null.
   *
   * @param text the text
   */
  public TextPart {
    Objects.requireNonNull(text, "text");
  }
}
