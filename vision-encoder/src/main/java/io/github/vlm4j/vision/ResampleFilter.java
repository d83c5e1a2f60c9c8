package io.github.vlm4j.vision;

/**
 * Resampling filters with Pillow's numbering, as {@code preprocessor_config.json} states them in
 * {@code "resample"} (0 nearest, 1 Lanczos, 2 bilinear, 3 bicubic, 4 box, 5 Hamming).
 */
public enum ResampleFilter {
  /** 0: nearest neighbour. */
  NEAREST(0, 0.0),
  /** 1: Lanczos, a = 3. */
  LANCZOS(1, 3.0),
  /** 2: bilinear (triangle), antialiased when downscaling. */
  BILINEAR(2, 1.0),
  /** 3: bicubic, a = -0.5. */
  BICUBIC(3, 2.0),
  /** 4: box. */
  BOX(4, 0.5),
  /** 5: Hamming. */
  HAMMING(5, 1.0);

  private final int code;
  private final double support;

  ResampleFilter(int code, double support) {
    this.code = code;
    this.support = support;
  }

  /**
   * Returns the filter's code in Pillow.
   *
   * @return Pillow's numeric code
   */
  public int code() {
    return code;
  }

  double support() {
    return support;
  }

  /**
   * Looks up a filter by its code in Pillow.
   *
   * @param code Pillow's numeric code
   * @return the filter
   * @throws IllegalArgumentException for an unknown code
   */
  public static ResampleFilter fromPillowCode(int code) {
    for (ResampleFilter f : values()) {
      if (f.code == code) {
        return f;
      }
    }
    throw new IllegalArgumentException("unknown resample code " + code + "; expected 0..5 (Pillow numbering)");
  }

  double weight(double x) {
    switch (this) {
      case BOX:
        return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
      case BILINEAR:
        x = Math.abs(x);
        return x < 1.0 ? 1.0 - x : 0.0;
      case HAMMING:
        x = Math.abs(x);
        if (x == 0.0) {
          return 1.0;
        }
        if (x >= 1.0) {
          return 0.0;
        }
        x = x * Math.PI;
        return StrictMath.sin(x) / x * (0.54 + 0.46 * StrictMath.cos(x));
      case BICUBIC: {
        final double a = -0.5;
        x = Math.abs(x);
        if (x < 1.0) {
          return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        }
        if (x < 2.0) {
          return (((x - 5) * x + 8) * x - 4) * a;
        }
        return 0.0;
      }
      case LANCZOS:
        return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
      default:
        throw new IllegalStateException(name() + " has no convolution kernel");
    }
  }

  private static double sinc(double x) {
    if (x == 0.0) {
      return 1.0;
    }
    x = x * Math.PI;
    return StrictMath.sin(x) / x;
  }
}
