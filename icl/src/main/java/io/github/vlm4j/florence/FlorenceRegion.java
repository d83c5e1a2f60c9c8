package io.github.vlm4j.florence;

/**
 * A region given to a Florence-2 region task ({@code <REGION_TO_CATEGORY>}, {@code
 * <REGION_TO_DESCRIPTION>}, {@code <REGION_TO_OCR>}, ...) as its four location bins, each in
 * {@code [0, 999]} (the model quantizes an image side into 1000 bins). The prompt carries them as
 * the tokens {@code <loc_x1><loc_y1><loc_x2><loc_y2>}, inserted by id. Immutable.
 *
 * @param x1 left bin
 * @param y1 top bin
 * @param x2 right bin
 * @param y2 bottom bin
 */
public record FlorenceRegion(int x1, int y1, int x2, int y2) implements FlorenceInput {
  /** Bins per image side. */
  public static final int BINS = 1000;

  /**
   * Checks the bins.
   *
   * @param x1 left bin
   * @param y1 top bin
   * @param x2 right bin
   * @param y2 bottom bin
   * @throws IllegalArgumentException if a bin is outside {@code [0, 999]}
   */
  public FlorenceRegion {
    for (int v : new int[] {x1, y1, x2, y2}) {
      if (v < 0 || v >= BINS) {
        throw new IllegalArgumentException("location bins must be in [0, " + (BINS - 1) + "], got " + v);
      }
    }
  }

  /**
   * The region of a pixel box of an image: each coordinate to the bin it falls in ({@code floor(v /
   * side × 1000)}, clamped to {@code [0, 999]}), the inverse of the post-processing's {@code (bin +
   * 0.5) / 1000 × side}.
   *
   * @param x1 left, in pixels
   * @param y1 top, in pixels
   * @param x2 right, in pixels
   * @param y2 bottom, in pixels
   * @param width image width, at least 1
   * @param height image height, at least 1
   * @return the region
   * @throws IllegalArgumentException if a size is below 1 or a coordinate is not finite
   */
  public static FlorenceRegion ofPixels(double x1, double y1, double x2, double y2, int width, int height) {
    if (width < 1 || height < 1) {
      throw new IllegalArgumentException("image sides must be at least 1, got " + width + "x" + height);
    }
    return new FlorenceRegion(bin(x1, width), bin(y1, height), bin(x2, width), bin(y2, height));
  }

  private static int bin(double v, int side) {
    if (!Double.isFinite(v)) {
      throw new IllegalArgumentException("coordinates must be finite, got " + v);
    }
    return (int) Math.max(0, Math.min(BINS - 1, Math.floor(v / side * BINS)));
  }

  /**
   * Returns the location tokens.
   *
   * @return {@code <loc_x1><loc_y1><loc_x2><loc_y2>}
   */
  public String tokens() {
    return "<loc_" + x1 + "><loc_" + y1 + "><loc_" + x2 + "><loc_" + y2 + ">";
  }
}
