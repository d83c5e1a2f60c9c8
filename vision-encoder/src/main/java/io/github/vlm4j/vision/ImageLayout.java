package io.github.vlm4j.vision;

/**
 * How an image was cut into frames, without the pixels: what the prompt's image expansion needs
 * (tile grid, frame sizes) and what the vision encoder's input shape is.
 *
 * @param frames number of frames (tiles plus global image, or 1)
 * @param height frame height (for frames of different sizes: the last frame's)
 * @param width frame width (for frames of different sizes: the last frame's)
 * @param rows tile rows (0 if not split)
 * @param cols tile columns (0 if not split)
 * @param frameSizes empty when every frame is {@code height x width}; else {@code 2 * frames}
 *     values {@code h0, w0, h1, w1, ...} (copied; layouts compare by value, frame sizes included)
 */
public record ImageLayout(int frames, int height, int width, int rows, int cols, int[] frameSizes) {
  /**
   * Checks the frame sizes agree with the frame count.
   *
   * @param frames number of frames
   * @param height frame height (the last frame's)
   * @param width frame width (the last frame's)
   * @param rows tile rows (0 if not split)
   * @param cols tile columns (0 if not split)
   * @param frameSizes empty, or {@code 2 * frames} sizes (copied)
   * @throws IllegalArgumentException if {@code frameSizes} is neither empty nor {@code 2 * frames}
   *     values, or its last frame is not {@code height x width}
   */
  public ImageLayout {
    frameSizes = frameSizes.clone();
    if (frameSizes.length != 0 && (frameSizes.length != 2 * frames || frameSizes[2 * frames - 2] != height
        || frameSizes[2 * frames - 1] != width)) {
      throw new IllegalArgumentException(frameSizes.length + " frame sizes for " + frames + " frames, the last "
          + height + "x" + width);
    }
  }

  /**
   * A layout whose frames all have one size.
   *
   * @param frames number of frames
   * @param height frame height
   * @param width frame width
   * @param rows tile rows (0 if not split)
   * @param cols tile columns (0 if not split)
   */
  public ImageLayout(int frames, int height, int width, int rows, int cols) {
    this(frames, height, width, rows, cols, new int[0]);
  }

  /**
   * Returns the frame sizes.
   *
   * @return a copy: empty when every frame is {@code height x width}, else {@code h0, w0, h1, w1, ...}
   */
  @Override
  public int[] frameSizes() {
    return frameSizes.clone();
  }

  /**
   * Returns the height of one frame.
   *
   * @param frame frame index
   * @return its height
   */
  public int frameHeight(int frame) {
    return frameSizes.length == 0 ? height : frameSizes[2 * frame];
  }

  /**
   * Returns the width of one frame.
   *
   * @param frame frame index
   * @return its width
   */
  public int frameWidth(int frame) {
    return frameSizes.length == 0 ? width : frameSizes[2 * frame + 1];
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ImageLayout other && frames == other.frames && height == other.height
        && width == other.width && rows == other.rows && cols == other.cols
        && java.util.Arrays.equals(frameSizes, other.frameSizes);
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(frames, height, width, rows, cols, java.util.Arrays.hashCode(frameSizes));
  }

  @Override
  public String toString() {
    return "ImageLayout[frames=" + frames + ", height=" + height + ", width=" + width + ", rows=" + rows + ", cols="
        + cols + (frameSizes.length == 0 ? "" : ", frameSizes=" + java.util.Arrays.toString(frameSizes)) + "]";
  }
}
