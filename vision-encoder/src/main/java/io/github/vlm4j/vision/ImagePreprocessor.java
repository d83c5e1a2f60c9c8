package io.github.vlm4j.vision;

/** Turns a decoded image into encoder frames. Implementations are immutable and thread-safe. */
public interface ImagePreprocessor {
  /**
   * Turns a decoded image into the frames the vision encoder takes.
   *
   * @param image the decoded image
   * @param splitOverride for tiling preprocessors: force splitting on/off; null for the config default
   * @return the frames
   */
  PreprocessedImage preprocess(RgbImage image, Boolean splitOverride);

  /**
   * Tells whether this preprocessor can split images into tiles.
   *
   * @return whether this preprocessor can split an image into tiles, i.e. whether a split override
   *     passed to {@link #preprocess} means anything (default {@code false}: one frame per image)
   */
  default boolean splitsImages() {
    return false;
  }

  /**
   * Returns the frame height.
   *
   * @return frame height the encoder expects
   */
  int frameHeight();

  /**
   * Returns the frame width.
   *
   * @return frame width the encoder expects
   */
  int frameWidth();
}
