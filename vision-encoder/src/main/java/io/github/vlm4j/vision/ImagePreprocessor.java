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

  /**
   * Tells whether this preprocessor's output size follows a pixel budget that a request may change
   * (see {@link #withPixelBudget}).
   *
   * @return {@code true} if {@link #withPixelBudget} is supported (default {@code false})
   */
  default boolean supportsPixelBudget() {
    return false;
  }

  /**
   * Returns a preprocessor like this one that resizes images within {@code budget} instead of the
   * model's default bounds; this preprocessor is unchanged. A budget-derived preprocessor honours the
   * budget: it refuses an image it cannot fit rather than exceeding {@code maxPixels}.
   *
   * @param budget the pixel bounds for the images of one request
   * @return a new preprocessor (immutable and thread-safe, like this one)
   * @throws UnsupportedOperationException if {@link #supportsPixelBudget()} is {@code false} (the
   *     default), naming this class
   */
  default ImagePreprocessor withPixelBudget(PixelBudget budget) {
    throw new UnsupportedOperationException(getClass().getSimpleName()
        + " resizes to sizes fixed by the model's preprocessor_config.json and takes no pixel budget");
  }
}
