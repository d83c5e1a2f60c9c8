package io.github.vlm4j.vision;

/**
 * Resizes 8-bit RGB images with the same arithmetic as Pillow's {@code Image.resize} (the
 * reference of HuggingFace's Python processors): separable convolution, horizontal pass then
 * vertical, antialiased when downscaling (the kernel widens with the scale), coefficients in 22-bit
 * fixed point, intermediate rounded to 8 bits. Results are byte-identical to Pillow (tested against
 * images resized by Pillow). Stateless and thread-safe.
 */
public final class Resampler {
  private static final int PRECISION_BITS = 32 - 8 - 2;

  private Resampler() {}

  /**
   * @param in source image
   * @param width target width, > 0
   * @param height target height, > 0
   * @param filter resampling filter
   * @return the resized image ({@code in} itself if the size is unchanged)
   */
  public static RgbImage resize(RgbImage in, int width, int height, ResampleFilter filter) {
    if (width <= 0 || height <= 0) {
      throw new IllegalArgumentException("target size must be positive, got " + width + "x" + height);
    }
    if (in.width() == width && in.height() == height) {
      return in;
    }
    if (filter == ResampleFilter.NEAREST) {
      return nearest(in, width, height);
    }
    boolean horizontal = width != in.width();
    boolean vertical = height != in.height();
    Coeffs ch = horizontal ? Coeffs.of(in.width(), width, filter) : null;
    Coeffs cv = vertical ? Coeffs.of(in.height(), height, filter) : null;
    byte[] src = in.data();
    int srcW = in.width();
    int srcH = in.height();
    int rowFirst = 0;
    int rowLast = srcH;
    if (vertical) {
      rowFirst = cv.bounds[0];
      rowLast = cv.bounds[(height - 1) * 2] + cv.bounds[(height - 1) * 2 + 1];
    }
    byte[] tmp = src;
    int tmpW = srcW;
    int tmpH = srcH;
    if (horizontal) {
      tmpH = rowLast - rowFirst;
      tmpW = width;
      tmp = new byte[tmpW * tmpH * 3];
      for (int y = 0; y < tmpH; y++) {
        int srcRow = (y + rowFirst) * srcW * 3;
        int dstRow = y * tmpW * 3;
        for (int x = 0; x < tmpW; x++) {
          int xmin = ch.bounds[x * 2];
          int xmax = ch.bounds[x * 2 + 1];
          int k0 = x * ch.ksize;
          int r = 1 << (PRECISION_BITS - 1);
          int g = r;
          int b = r;
          for (int i = 0; i < xmax; i++) {
            int k = ch.kk[k0 + i];
            int p = srcRow + (xmin + i) * 3;
            r += (src[p] & 0xFF) * k;
            g += (src[p + 1] & 0xFF) * k;
            b += (src[p + 2] & 0xFF) * k;
          }
          int d = dstRow + x * 3;
          tmp[d] = clip8(r);
          tmp[d + 1] = clip8(g);
          tmp[d + 2] = clip8(b);
        }
      }
    } else {
      rowFirst = 0;
    }
    if (!vertical) {
      return new RgbImage(tmpW, tmpH, tmp);
    }
    byte[] out = new byte[tmpW * height * 3];
    for (int y = 0; y < height; y++) {
      int ymin = cv.bounds[y * 2] - (horizontal ? rowFirst : 0);
      int ymax = cv.bounds[y * 2 + 1];
      int k0 = y * cv.ksize;
      for (int x = 0; x < tmpW; x++) {
        int r = 1 << (PRECISION_BITS - 1);
        int g = r;
        int b = r;
        for (int i = 0; i < ymax; i++) {
          int k = cv.kk[k0 + i];
          int p = ((ymin + i) * tmpW + x) * 3;
          r += (tmp[p] & 0xFF) * k;
          g += (tmp[p + 1] & 0xFF) * k;
          b += (tmp[p + 2] & 0xFF) * k;
        }
        int d = (y * tmpW + x) * 3;
        out[d] = clip8(r);
        out[d + 1] = clip8(g);
        out[d + 2] = clip8(b);
      }
    }
    return new RgbImage(tmpW, height, out);
  }

  private static byte clip8(int acc) {
    int v = acc >> PRECISION_BITS;
    return (byte) (v < 0 ? 0 : Math.min(v, 255));
  }

  /**
   * Pillow's nearest (its scale-only affine path): the source position starts at half a step and
   * is accumulated step by step in double precision, then truncated.
   */
  private static RgbImage nearest(RgbImage in, int width, int height) {
    double sx = (double) in.width() / width;
    double sy = (double) in.height() / height;
    int[] xin = new int[width];
    double xo = sx * 0.5;
    for (int x = 0; x < width; x++) {
      xin[x] = Math.min(xo < 0 ? 0 : (int) xo, in.width() - 1);
      xo += sx;
    }
    byte[] src = in.data();
    byte[] out = new byte[width * height * 3];
    double yo = sy * 0.5;
    for (int y = 0; y < height; y++) {
      int yi = Math.min(yo < 0 ? 0 : (int) yo, in.height() - 1);
      for (int x = 0; x < width; x++) {
        System.arraycopy(src, (yi * in.width() + xin[x]) * 3, out, (y * width + x) * 3, 3);
      }
      yo += sy;
    }
    return new RgbImage(width, height, out);
  }

  /** Filter coefficients for one axis (Pillow's precompute_coeffs + normalize_coeffs_8bpc). */
  private static final class Coeffs {
    final int ksize;
    final int[] bounds;
    final int[] kk;

    private Coeffs(int ksize, int[] bounds, int[] kk) {
      this.ksize = ksize;
      this.bounds = bounds;
      this.kk = kk;
    }

    static Coeffs of(int inSize, int outSize, ResampleFilter filter) {
      double scale = (double) inSize / outSize;
      double filterscale = Math.max(scale, 1.0);
      double support = filter.support() * filterscale;
      int ksize = (int) Math.ceil(support) * 2 + 1;
      int[] bounds = new int[outSize * 2];
      int[] kk = new int[outSize * ksize];
      double[] k = new double[ksize];
      for (int xx = 0; xx < outSize; xx++) {
        double center = (xx + 0.5) * scale;
        double ww = 0.0;
        double ss = 1.0 / filterscale;
        int xmin = (int) (center - support + 0.5);
        if (xmin < 0) {
          xmin = 0;
        }
        int xmax = (int) (center + support + 0.5);
        if (xmax > inSize) {
          xmax = inSize;
        }
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
          double w = filter.weight((x + xmin - center + 0.5) * ss);
          k[x] = w;
          ww += w;
        }
        for (int x = 0; x < ksize; x++) {
          double v = x < xmax ? (ww != 0.0 ? k[x] / ww : k[x]) : 0.0;
          kk[xx * ksize + x] = v < 0 ? (int) (-0.5 + v * (1 << PRECISION_BITS)) : (int) (0.5 + v * (1 << PRECISION_BITS));
        }
        bounds[xx * 2] = xmin;
        bounds[xx * 2 + 1] = xmax;
      }
      return new Coeffs(ksize, bounds, kk);
    }
  }
}
