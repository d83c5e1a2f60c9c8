package io.github.vlm4j.core.prompt;

/**
 * A piece of a prompt before tokenization. Text is tokenized as text (adjacent text pieces
 * together, as a HuggingFace tokenizer would see them between special tokens); tokens are inserted
 * by id; image slots are replaced by the model family's expansion of each image.
 */
public sealed interface PromptPiece {
  /**
   * Text, tokenized without special-token parsing.
   *
   * @param text the text
   */
  record Text(String text) implements PromptPiece {}

  /**
   * A token inserted by id.
   *
   * @param id the token id
   */
  record Token(int id) implements PromptPiece {}

  /**
   * Where the k-th image of the prompt goes, before expansion.
   *
   * @param imageIndex index among the prompt's images
   */
  record ImageSlot(int imageIndex) implements PromptPiece {}

  /**
   * {@code count} image tokens that will receive the next {@code count} feature rows of image k.
   *
   * @param imageIndex index among the prompt's images
   * @param count number of tokens
   */
  record ImageTokens(int imageIndex, int count) implements PromptPiece {}
}
