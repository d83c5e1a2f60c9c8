package io.github.vlm4j.vision.multi;

import io.github.vlm4j.vision.PixelOps;
import io.github.vlm4j.vision.ResampleFilter;
import io.github.vlm4j.vision.Resampler;
import io.github.vlm4j.vision.RgbImage;

/**
 * One view of an image for one encoder: resized to {@code width x height} with {@code filter}
 * (Pillow-exact), scaled to [0, 1] (divided by 255), normalised per channel as {@code (v - mean) /
 * std}; planar CHW.
 *
 * @param height view height in pixels
 * @param width view width in pixels
 * @param filter resize filter
 * @param mean per-channel mean (3 values)
 * @param std per-channel standard deviation (3 values)
 */
public record ViewSpec(int height, int width, ResampleFilter filter, double[] mean, double[] std) {
  /**
   * Checks and copies the values.
   *
   * @param height view height in pixels, at least 1
   * @param width view width in pixels, at least 1
   * @param filter resize filter
   * @param mean per-channel mean (3 values, copied)
   * @param std per-channel standard deviation (3 positive values, copied)
   * @throws IllegalArgumentException if a size is below 1 or mean/std do not have 3 values
   */
  public ViewSpec {
    if (height < 1 || width < 1 || mean.length != 3 || std.length != 3) {
      throw new IllegalArgumentException("a view needs a size of at least 1x1 and 3 means and stds, got "
          + width + "x" + height + ", " + mean.length + " means, " + std.length + " stds");
    }
    mean = mean.clone();
    std = std.clone();
  }

  /**
   * Returns the per-channel mean.
   *
   * @return a copy of the 3 means
   */
  @Override
  public double[] mean() {
    return mean.clone();
  }

  /**
   * Returns the per-channel standard deviation.
   *
   * @return a copy of the 3 standard deviations
   */
  @Override
  public double[] std() {
    return std.clone();
  }

  /**
   * Makes this view of an image.
   *
   * @param image the decoded image
   * @return {@code 3 * height * width} floats, CHW (a new array)
   */
  public float[] pixels(RgbImage image) {
    RgbImage img = image.width() == width && image.height() == height ? image
        : Resampler.resize(image, width, height, filter);
    return PixelOps.toNormalizedChw(img, true, 1.0 / 255.0, true, mean, std);
  }
}
