package io.github.vlm4j.vision;

/**
 * An image ready for the vision encoder: {@code frames} frames of float32 values and the tiling grid
 * ({@code rows x cols} tiles before a global frame, or 0 x 0 when the image was not split). Frames
 * are {@code 3 x height x width} each, or of the sizes {@code frameSizes} lists. Inside a frame the
 * values are planar CHW unless the preprocessor that made them documents another order (patch
 * preprocessors store flattened patches).
 *
 * @param pixels the frames' floats, frame after frame
 * @param frames number of frames
 * @param height frame height (for frames of different sizes: the last frame's)
 * @param width frame width (for frames of different sizes: the last frame's)
 * @param rows tile rows (0 if not split)
 * @param cols tile columns (0 if not split)
 * @param frameSizes empty when every frame is {@code height x width}; else {@code h0, w0, h1, w1, ...}
 */
public record PreprocessedImage(float[] pixels, int frames, int height, int width, int rows, int cols,
    int[] frameSizes) {
  /**
   * Checks the sizes agree.
   *
   * @param pixels the frames' floats (not copied)
   * @param frames number of frames
   * @param height frame height (the last frame's)
   * @param width frame width (the last frame's)
   * @param rows tile rows (0 if not split)
   * @param cols tile columns (0 if not split)
   * @param frameSizes empty, or {@code 2 * frames} sizes (copied)
   * @throws IllegalArgumentException if {@code pixels.length} is not {@code 3 x} the frames' pixel
   *     count, or the frame sizes do not fit the frame count
   */
  public PreprocessedImage {
    frameSizes = frameSizes.clone();
    ImageLayout layout = new ImageLayout(frames, height, width, rows, cols, frameSizes);
    long expected = 0;
    for (int i = 0; i < frames; i++) {
      expected += 3L * layout.frameHeight(i) * layout.frameWidth(i);
    }
    if (expected != pixels.length) {
      throw new IllegalArgumentException("expected " + expected + " floats for " + frames + " frames of 3x"
          + (frameSizes.length == 0 ? height + "x" + width : java.util.Arrays.toString(frameSizes)) + ", got "
          + pixels.length);
    }
  }

  /**
   * An image whose frames all have one size.
   *
   * @param pixels {@code frames*3*height*width} floats (not copied)
   * @param frames number of frames
   * @param height frame height
   * @param width frame width
   * @param rows tile rows (0 if not split)
   * @param cols tile columns (0 if not split)
   * @throws IllegalArgumentException if {@code pixels.length != frames*3*height*width}
   */
  public PreprocessedImage(float[] pixels, int frames, int height, int width, int rows, int cols) {
    this(pixels, frames, height, width, rows, cols, new int[0]);
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
   * Returns the layout of the frames.
   *
   * @return the frame layout (no pixels)
   */
  public ImageLayout layout() {
    return new ImageLayout(frames, height, width, rows, cols, frameSizes);
  }
}
