package io.github.vlm4j.core.prompt;

import java.util.Arrays;

/**
 * Token ids of a prompt and how many image tokens each image occupies (in order).
 *
 * @param ids token ids
 * @param imageTokensPerImage image tokens of image k at index k
 */
public record TokenizedPrompt(int[] ids, int[] imageTokensPerImage) {
  /**
   * Copies the arrays.
   *
   * @param ids token ids (copied)
   * @param imageTokensPerImage image tokens of image k at index k (copied)
   */
  public TokenizedPrompt {
    ids = ids.clone();
    imageTokensPerImage = imageTokensPerImage.clone();
  }

  /**
   * Returns the prompt's token ids.
   *
   * @return a copy of the token ids
   */
  @Override
  public int[] ids() {
    return ids.clone();
  }

  /**
   * Returns the number of image tokens of each image.
   *
   * @return a copy of the image token counts, image k at index k
   */
  @Override
  public int[] imageTokensPerImage() {
    return imageTokensPerImage.clone();
  }

  /**
   * Returns the prompt length in tokens.
   *
   * @return the number of tokens
   */
  public int length() {
    return ids.length;
  }

  /**
   * Returns the number of image tokens.
   *
   * @return image tokens over all images
   */
  public int imageTokenCount() {
    return Arrays.stream(imageTokensPerImage).sum();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TokenizedPrompt p && Arrays.equals(ids, p.ids)
        && Arrays.equals(imageTokensPerImage, p.imageTokensPerImage);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(ids);
  }

  @Override
  public String toString() {
    return "TokenizedPrompt[" + ids.length + " tokens, images " + Arrays.toString(imageTokensPerImage) + "]";
  }
}
