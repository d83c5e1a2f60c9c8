package io.github.vlm4j.vision;

import java.math.BigDecimal;
import java.math.RoundingMode;

/**
 * Pure functions over images and planar float pixels (CHW, float32), each mirroring one step of
 * transformers.js's image processors. Stateless and thread-safe.
 */
public final class PixelOps {
  private PixelOps() {}

  /**
   * Rescale and normalise as transformers.js does: {@code v*rescale} rounded to float32, then
   * {@code (v-mean)/std} computed in double and rounded to float32; output is planar CHW.
   *
   * @param img the image
   * @param doRescale multiply by {@code rescale}
   * @param rescale usually 1/255
   * @param doNormalize subtract mean, divide by std
   * @param mean per-channel mean (3 values)
   * @param std per-channel std (3 values)
   * @return {@code float[3*h*w]} in CHW order
   */
  public static float[] toNormalizedChw(RgbImage img, boolean doRescale, double rescale, boolean doNormalize,
      double[] mean, double[] std) {
    int w = img.width();
    int h = img.height();
    float[] table = normalizationTable(doRescale, rescale, doNormalize, mean, std);
    byte[] src = img.data();
    float[] out = new float[3 * h * w];
    int plane = h * w;
    for (int i = 0; i < plane; i++) {
      out[i] = table[src[i * 3] & 0xFF];
      out[plane + i] = table[256 + (src[i * 3 + 1] & 0xFF)];
      out[2 * plane + i] = table[512 + (src[i * 3 + 2] & 0xFF)];
    }
    return out;
  }

  /** The normalised value of each byte per channel: {@code table[c * 256 + v]}. */
  private static float[] normalizationTable(boolean doRescale, double rescale, boolean doNormalize, double[] mean,
      double[] std) {
    float[] table = new float[256 * 3];
    for (int c = 0; c < 3; c++) {
      for (int v = 0; v < 256; v++) {
        float x = doRescale ? (float) (rescale * v) : v;
        table[c * 256 + v] = doNormalize ? (float) ((x - mean[c]) / std[c]) : x;
      }
    }
    return table;
  }

  /**
   * {@link #toNormalizedChw} followed by {@link #resizeBilinear}, with the same float32 results,
   * without materialising the normalised image at its own size: only the output is allocated.
   *
   * @param img the image
   * @param doRescale multiply by {@code rescale}
   * @param rescale usually 1/255
   * @param doNormalize subtract mean, divide by std
   * @param mean per-channel mean (3 values)
   * @param std per-channel std (3 values)
   * @param outH output height
   * @param outW output width
   * @return planar pixels {@code [3][outH][outW]}
   */
  public static float[] normalizedResizeBilinear(RgbImage img, boolean doRescale, double rescale, boolean doNormalize,
      double[] mean, double[] std, int outH, int outW) {
    int h = img.height();
    int w = img.width();
    if (h == outH && w == outW) {
      return toNormalizedChw(img, doRescale, rescale, doNormalize, mean, std);
    }
    float[] table = normalizationTable(doRescale, rescale, doNormalize, mean, std);
    byte[] src = img.data();
    Axis ay = Axis.of(h, outH);
    Axis ax = Axis.of(w, outW);
    float[] out = new float[3 * outH * outW];
    for (int ch = 0; ch < 3; ch++) {
      int t = ch * 256;
      int o0 = ch * outH * outW;
      for (int y = 0; y < outH; y++) {
        int r1 = ay.i1[y] * w;
        int r2 = ay.i2[y] * w;
        float dy1 = ay.d1[y];
        float dy2 = ay.d2[y];
        for (int x = 0; x < outW; x++) {
          float a = table[t + (src[(r1 + ax.i1[x]) * 3 + ch] & 0xFF)];
          float b = table[t + (src[(r1 + ax.i2[x]) * 3 + ch] & 0xFF)];
          float c = table[t + (src[(r2 + ax.i1[x]) * 3 + ch] & 0xFF)];
          float d = table[t + (src[(r2 + ax.i2[x]) * 3 + ch] & 0xFF)];
          float top = a * ax.d2[x] + b * ax.d1[x];
          float bot = c * ax.d2[x] + d * ax.d1[x];
          out[o0 + y * outW + x] = top * dy2 + bot * dy1;
        }
      }
    }
    return out;
  }

  /**
   * ONNX {@code Resize(mode=linear, coordinate_transformation_mode=half_pixel)} without
   * antialiasing, in float32 arithmetic: what transformers.js's {@code interpolate_4d} runs.
   *
   * @param chw planar pixels {@code [c][h][w]}
   * @param c channels
   * @param h input height
   * @param w input width
   * @param outH output height
   * @param outW output width
   * @return planar pixels {@code [c][outH][outW]}
   */
  public static float[] resizeBilinear(float[] chw, int c, int h, int w, int outH, int outW) {
    if (h == outH && w == outW) {
      return chw.clone();
    }
    Axis ay = Axis.of(h, outH);
    Axis ax = Axis.of(w, outW);
    float[] out = new float[c * outH * outW];
    for (int ch = 0; ch < c; ch++) {
      int in0 = ch * h * w;
      int o0 = ch * outH * outW;
      for (int y = 0; y < outH; y++) {
        int r1 = in0 + ay.i1[y] * w;
        int r2 = in0 + ay.i2[y] * w;
        float dy1 = ay.d1[y];
        float dy2 = ay.d2[y];
        for (int x = 0; x < outW; x++) {
          float top = chw[r1 + ax.i1[x]] * ax.d2[x] + chw[r1 + ax.i2[x]] * ax.d1[x];
          float bot = chw[r2 + ax.i1[x]] * ax.d2[x] + chw[r2 + ax.i2[x]] * ax.d1[x];
          out[o0 + y * outW + x] = top * dy2 + bot * dy1;
        }
      }
    }
    return out;
  }

  private record Axis(int[] i1, int[] i2, float[] d1, float[] d2) {
    static Axis of(int in, int out) {
      float scale = (float) out / (float) in;
      int[] i1 = new int[out];
      int[] i2 = new int[out];
      float[] d1 = new float[out];
      float[] d2 = new float[out];
      for (int o = 0; o < out; o++) {
        float x = ((float) o + 0.5f) / scale - 0.5f;
        x = Math.max(0f, Math.min(x, (float) (in - 1)));
        int lo = (int) Math.floor(x);
        i1[o] = lo;
        i2[o] = Math.min(lo + 1, in - 1);
        d1[o] = x - lo;
        d2[o] = 1f - d1[o];
      }
      return new Axis(i1, i2, d1, d2);
    }
  }

  /**
   * Copies a window of planar pixels.
   *
   * @param chw source {@code [c][h][w]}
   * @param c channels
   * @param h source height
   * @param w source width
   * @param y0 top row
   * @param x0 left column
   * @param outH window height
   * @param outW window width
   * @param dst destination array
   * @param dstOffset where the window starts in {@code dst}
   */
  public static void crop(float[] chw, int c, int h, int w, int y0, int x0, int outH, int outW, float[] dst, int dstOffset) {
    for (int ch = 0; ch < c; ch++) {
      for (int y = 0; y < outH; y++) {
        System.arraycopy(chw, ch * h * w + (y0 + y) * w + x0, dst, dstOffset + (ch * outH + y) * outW, outW);
      }
    }
  }

  /**
   * transformers.js {@code get_resize_output_image_size} for {@code {shortest_edge, longest_edge}}:
   * scale to the shortest edge (if given), then down to the longest edge (if given), then
   * {@code floor(Number(x.toFixed(2)))}, then at least 1 pixel per side (transformers.js would
   * pass 0 to sharp and fail for an image such as 1x10000; Python transformers' Idefics3 processor
   * and Pillow clamp to 1, which is followed here).
   *
   * @param w source width
   * @param h source height
   * @param shortestEdge target shortest edge, or 0 if not set
   * @param longestEdge cap on the longest edge, or 0 if not set
   * @return {@code {width, height}}
   */
  public static int[] edgeResizeSize(int w, int h, int shortestEdge, int longestEdge) {
    double shortFactor = shortestEdge > 0 ? Math.max((double) shortestEdge / w, (double) shortestEdge / h) : 1;
    double nw = w * shortFactor;
    double nh = h * shortFactor;
    double longFactor = longestEdge > 0 ? Math.min(longestEdge / nw, longestEdge / nh) : 1;
    return new int[] {Math.max(1, toFixed2Floor(nw * longFactor)), Math.max(1, toFixed2Floor(nh * longFactor))};
  }

  /**
   * {@link #edgeResizeSize}, refusing a target larger than {@code maxPixels}: scaling the shortest
   * edge up (e.g. to 336) makes a 1x10000 image 336x3360000, which no encoder can use.
   *
   * @param w source width
   * @param h source height
   * @param shortestEdge target shortest edge, or 0 if not set
   * @param longestEdge cap on the longest edge, or 0 if not set
   * @param maxPixels largest accepted target width*height
   * @return {@code {width, height}}
   * @throws io.github.vlm4j.core.VlmInputException IMAGE_TOO_LARGE naming the aspect ratio
   */
  public static int[] checkedEdgeResizeSize(int w, int h, int shortestEdge, int longestEdge, long maxPixels) {
    double shortFactor = shortestEdge > 0 ? Math.max((double) shortestEdge / w, (double) shortestEdge / h) : 1;
    double nw = w * shortFactor;
    double nh = h * shortFactor;
    double longFactor = longestEdge > 0 ? Math.min(longestEdge / nw, longestEdge / nh) : 1;
    double pixels = nw * longFactor * nh * longFactor;
    if (!(pixels <= maxPixels)) {
      throw new io.github.vlm4j.core.VlmInputException(io.github.vlm4j.core.VlmInputException.Reason.IMAGE_TOO_LARGE,
          "an image of " + w + "x" + h + " (aspect ratio " + aspect(w, h) + ") would be resized to about "
              + Math.round(nw * longFactor) + "x" + Math.round(nh * longFactor) + " for this model, more than "
              + maxPixels + " pixels; crop it to a less extreme aspect ratio");
    }
    return edgeResizeSize(w, h, shortestEdge, longestEdge);
  }

  private static String aspect(int w, int h) {
    return w >= h ? String.format(java.util.Locale.ROOT, "%.1f:1", (double) w / h)
        : String.format(java.util.Locale.ROOT, "1:%.1f", (double) h / w);
  }

  /** JavaScript's {@code Math.floor(Number(x.toFixed(2)))}: round half up on the exact value. */
  static int toFixed2Floor(double x) {
    return new BigDecimal(x).setScale(2, RoundingMode.HALF_UP).setScale(0, RoundingMode.FLOOR).intValueExact();
  }
}
