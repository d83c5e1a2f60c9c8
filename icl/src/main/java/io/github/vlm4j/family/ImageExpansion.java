package io.github.vlm4j.family;

import io.github.vlm4j.core.prompt.PromptPiece;
import io.github.vlm4j.vision.ImageLayout;
import java.util.List;

/** How a family writes one image into the prompt, given how it was preprocessed. */
@FunctionalInterface
public interface ImageExpansion {
  /**
   * Writes one image into the prompt.
   *
   * @param imageIndex index of the image in the prompt
   * @param image how it was cut into frames (grid and frame count)
   * @return the pieces replacing the template's placeholder; image tokens as {@link PromptPiece.ImageTokens}
   */
  List<PromptPiece> expand(int imageIndex, ImageLayout image);
}
