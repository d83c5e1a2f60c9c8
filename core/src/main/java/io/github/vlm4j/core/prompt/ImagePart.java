package io.github.vlm4j.core.prompt;

import java.util.Objects;

/**
 * An image in a message, placed where it appears among the text parts.
 *
 * @param image the image
 */
public record ImagePart(ImageInput image) implements ContentPart {
  /**
   * Rejects null.
   *
   * @param image the image
   */
  public ImagePart {
    Objects.requireNonNull(image, "image");
  }
}
