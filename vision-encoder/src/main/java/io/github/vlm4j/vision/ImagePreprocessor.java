package io.github.vlm4j.vision;

/** Turns a decoded image into encoder frames. Implementations are immutable and thread-safe. */
public interface ImagePreprocessor {
  /**
   * @param image the decoded image
   * @param splitOverride for tiling preprocessors: force splitting on/off; null for the config default
   * @return the frames
   */
  PreprocessedImage preprocess(RgbImage image, Boolean splitOverride);

  /** @return frame height the encoder expects */
  int frameHeight();

  /** @return frame width the encoder expects */
  int frameWidth();
}
