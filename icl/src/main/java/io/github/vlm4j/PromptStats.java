package io.github.vlm4j;

import io.github.vlm4j.core.DroppedContext;
import java.util.Arrays;

/**
 * Token counts of a prompt, computed before anything runs.
 *
 * @param promptTokens all tokens of the prompt, image tokens included
 * @param imageTokensPerImage image tokens of each image, in prompt order
 * @param contextWindow the model's context window ({@code max_position_embeddings})
 * @param dropped what the request's {@link ContextPolicy} left out of the conversation ({@link
 *     DroppedContext#NONE} when nothing)
 */
public record PromptStats(int promptTokens, int[] imageTokensPerImage, int contextWindow, DroppedContext dropped) {
  /**
   * Copies the array.
   *
   * @param promptTokens all tokens of the prompt, image tokens included
   * @param imageTokensPerImage image tokens of each image, in prompt order (copied)
   * @param contextWindow the model's context window ({@code max_position_embeddings})
   * @param dropped what the context policy left out (non-null)
   */
  public PromptStats {
    imageTokensPerImage = imageTokensPerImage.clone();
    java.util.Objects.requireNonNull(dropped, "dropped");
  }

  /**
   * Counts of a prompt that holds the whole conversation.
   *
   * @param promptTokens all tokens of the prompt, image tokens included
   * @param imageTokensPerImage image tokens of each image, in prompt order (copied)
   * @param contextWindow the model's context window ({@code max_position_embeddings})
   */
  public PromptStats(int promptTokens, int[] imageTokensPerImage, int contextWindow) {
    this(promptTokens, imageTokensPerImage, contextWindow, DroppedContext.NONE);
  }

  /**
   * Returns the image tokens of each image.
   *
   * @return a copy of the image tokens of each image, in prompt order
   */
  @Override
  public int[] imageTokensPerImage() {
    return imageTokensPerImage.clone();
  }

  /**
   * Returns the number of image tokens.
   *
   * @return image tokens over all images
   */
  public int imageTokens() {
    return Arrays.stream(imageTokensPerImage).sum();
  }

  /**
   * Returns the number of text tokens.
   *
   * @return text tokens (prompt minus image tokens)
   */
  public int textTokens() {
    return promptTokens - imageTokens();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PromptStats p && promptTokens == p.promptTokens && contextWindow == p.contextWindow
        && Arrays.equals(imageTokensPerImage, p.imageTokensPerImage) && dropped.equals(p.dropped);
  }

  @Override
  public int hashCode() {
    return promptTokens * 31 + Arrays.hashCode(imageTokensPerImage);
  }

  @Override
  public String toString() {
    return "PromptStats[" + promptTokens + " tokens, images " + Arrays.toString(imageTokensPerImage) + ", window "
        + contextWindow + (dropped.any() ? ", " + dropped : "") + "]";
  }
}
