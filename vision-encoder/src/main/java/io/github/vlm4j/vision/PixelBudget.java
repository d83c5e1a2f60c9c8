package io.github.vlm4j.vision;

/**
 * Bounds on the pixel count a pixel-budget preprocessor (Qwen2-VL's {@link
 * SmartResizePreprocessor}) resizes an image to: images with fewer than {@code minPixels} pixels
 * are scaled up, images with more than {@code maxPixels} are scaled down, keeping the aspect ratio
 * as far as multiples of the patch grid allow. The number of image tokens follows from the pixel
 * count ({@code pixels / (patch*merge)²}), so the budget is also a bound on prompt length. Immutable
 * and thread-safe.
 *
 * @param minPixels smallest pixel count, at least 1
 * @param maxPixels largest pixel count, at least {@code minPixels}, at most {@link #MAX_PIXELS}
 */
public record PixelBudget(int minPixels, int maxPixels) {
  /** Largest accepted {@code maxPixels}: {@link PreprocessorConfig#MAX_PIXEL_BUDGET} (8,192²). */
  public static final int MAX_PIXELS = PreprocessorConfig.MAX_PIXEL_BUDGET;

  /**
   * Checks the bounds.
   *
   * @param minPixels smallest pixel count, at least 1
   * @param maxPixels largest pixel count, in [{@code minPixels}, {@value #MAX_PIXELS}]
   * @throws IllegalArgumentException if {@code 1 <= minPixels <= maxPixels <= MAX_PIXELS} does not hold
   */
  public PixelBudget {
    if (minPixels < 1) {
      throw new IllegalArgumentException("minPixels must be at least 1, got " + minPixels);
    }
    if (maxPixels < minPixels) {
      throw new IllegalArgumentException("maxPixels must be at least minPixels (" + minPixels + "), got " + maxPixels);
    }
    if (maxPixels > MAX_PIXELS) {
      throw new IllegalArgumentException("maxPixels must be at most " + MAX_PIXELS + " (8192x8192), got " + maxPixels);
    }
  }
}
