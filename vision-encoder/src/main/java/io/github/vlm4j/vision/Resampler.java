package io.github.vlm4j.vision;

import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

/**
 * Resizes 8-bit RGB images with the same arithmetic as Pillow's {@code Image.resize} (the
 * reference of HuggingFace's Python processors): separable convolution, horizontal pass then
 * vertical, antialiased when downscaling (the kernel widens with the scale), coefficients in 22-bit
 * fixed point, intermediate rounded to 8 bits. Results are byte-identical to Pillow (tested against
 * images resized by Pillow). Large images are resized in row blocks on the common fork-join pool
 * (output rows are independent; the result does not depend on the split). Stateless and
 * thread-safe.
 */
public final class Resampler {
  private static final int PRECISION_BITS = 32 - 8 - 2;
  /** Multiply-adds above which a pass is split over the common pool. */
  private static final long PARALLEL_WORK = 1L << 20;

  private Resampler() {}

  /**
   * Resizes an image.
   *
   * @param in source image
   * @param width target width, > 0
   * @param height target height, > 0
   * @param filter resampling filter
   * @return the resized image ({@code in} itself if the size is unchanged)
   */
  public static RgbImage resize(RgbImage in, int width, int height, ResampleFilter filter) {
    return resize(in, width, height, filter, PARALLEL_WORK);
  }

  /** As {@link #resize(RgbImage, int, int, ResampleFilter)}, splitting passes above {@code parallelWork}. */
  static RgbImage resize(RgbImage in, int width, int height, ResampleFilter filter, long parallelWork) {
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
      byte[] dst = new byte[tmpW * tmpH * 3];
      int first = rowFirst;
      int w = tmpW;
      forRowBlocks(tmpH, (long) tmpH * w * ch.ksize, parallelWork, (y0, y1) -> horizontalPass(src, srcW, first, ch, dst, w, y0, y1));
      tmp = dst;
    } else {
      rowFirst = 0;
    }
    if (!vertical) {
      return new RgbImage(tmpW, tmpH, tmp);
    }
    byte[] out = new byte[tmpW * height * 3];
    byte[] mid = tmp;
    int w = tmpW;
    int shift = horizontal ? rowFirst : 0;
    forRowBlocks(height, (long) height * w * cv.ksize, parallelWork, (y0, y1) -> verticalPass(mid, w, shift, cv, out, y0, y1));
    return new RgbImage(tmpW, height, out);
  }

  /** Output rows are independent: large images are resized on the common fork-join pool, in row blocks. */
  private static void forRowBlocks(int rows, long work, long parallelWork, RowBlock body) {
    int workers = ForkJoinPool.getCommonPoolParallelism() + 1;   // the pool's threads and the caller
    if (work < parallelWork || rows < 2) {
      body.run(0, rows);
      return;
    }
    int blocks = Math.min(rows, workers * 4);
    IntStream.range(0, blocks).parallel().forEach(b -> body.run(
        (int) ((long) rows * b / blocks), (int) ((long) rows * (b + 1) / blocks)));
  }

  @FunctionalInterface
  private interface RowBlock {
    void run(int fromRow, int toRow);
  }

  private static void horizontalPass(byte[] src, int srcW, int rowFirst, Coeffs ch, byte[] tmp, int tmpW, int y0,
      int y1) {
    for (int y = y0; y < y1; y++) {
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
  }

  /** Source rows outer, pixels inner (sequential memory access); integer sums, so the order is exact. */
  private static void verticalPass(byte[] tmp, int tmpW, int shift, Coeffs cv, byte[] out, int y0, int y1) {
    int n = tmpW * 3;
    int[] acc = new int[n];
    for (int y = y0; y < y1; y++) {
      int ymin = cv.bounds[y * 2] - shift;
      int ymax = cv.bounds[y * 2 + 1];
      int k0 = y * cv.ksize;
      java.util.Arrays.fill(acc, 1 << (PRECISION_BITS - 1));
      for (int i = 0; i < ymax; i++) {
        int k = cv.kk[k0 + i];
        int row = (ymin + i) * n;
        for (int j = 0; j < n; j++) {
          acc[j] += (tmp[row + j] & 0xFF) * k;
        }
      }
      int d = y * n;
      for (int j = 0; j < n; j++) {
        out[d + j] = clip8(acc[j]);
      }
    }
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
