package io.github.vlm4j.vision;

/**
 * An image ready for the vision encoder: {@code frames} planar frames of {@code 3 x height x width}
 * float32 values, and the tiling grid ({@code rows x cols} tiles before a global frame, or 0 x 0
 * when the image was not split).
 *
 * @param pixels {@code frames*3*height*width} floats, frame-major, CHW inside a frame
 * @param frames number of frames
 * @param height frame height
 * @param width frame width
 * @param rows tile rows (0 if not split)
 * @param cols tile columns (0 if not split)
 */
public record PreprocessedImage(float[] pixels, int frames, int height, int width, int rows, int cols) {
  /**
   * Checks the sizes agree.
   *
   * @param pixels {@code frames*3*height*width} floats, frame-major, CHW inside a frame (not copied)
   * @param frames number of frames
   * @param height frame height
   * @param width frame width
   * @param rows tile rows (0 if not split)
   * @param cols tile columns (0 if not split)
   * @throws IllegalArgumentException if {@code pixels.length != frames*3*height*width}
   */
  public PreprocessedImage {
    if ((long) frames * 3 * height * width != pixels.length) {
      throw new IllegalArgumentException("expected " + (long) frames * 3 * height * width + " floats for "
          + frames + " frames of 3x" + height + "x" + width + ", got " + pixels.length);
    }
  }

  /**
   * Returns the layout of the frames.
   *
   * @return the frame layout (no pixels)
   */
  public ImageLayout layout() {
    return new ImageLayout(frames, height, width, rows, cols);
  }
}
