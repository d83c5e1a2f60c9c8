package io.github.vlm4j.vision.multi;

import java.util.Arrays;
import java.util.List;

/**
 * Image features on a spatial grid: {@code channels x height x width} floats, CHW. Every encoder
 * output becomes one (from NCHW, NHWC or a square grid of tokens), so that outputs of different
 * encoders, layers and scales can be pooled to one grid and combined.
 *
 * @param data {@code channels * height * width} floats, CHW (not copied)
 * @param channels feature width
 * @param height grid rows
 * @param width grid columns
 */
public record FeatureGrid(float[] data, int channels, int height, int width) {
  /**
   * Checks the sizes agree.
   *
   * @param data {@code channels * height * width} floats, CHW (not copied)
   * @param channels feature width, at least 1
   * @param height grid rows, at least 1
   * @param width grid columns, at least 1
   * @throws IllegalArgumentException if they do not
   */
  public FeatureGrid {
    if (channels < 1 || height < 1 || width < 1 || (long) channels * height * width != data.length) {
      throw new IllegalArgumentException(data.length + " floats do not make a " + channels + "x" + height + "x"
          + width + " feature grid");
    }
  }

  /**
   * Reads one image's output of a graph.
   *
   * @param data the values of a batch of one, row-major
   * @param shape the output's shape, batch first (rank 4 for NCHW/NHWC, 3 for tokens)
   * @param layout how the output is laid out
   * @return the grid (a square grid for tokens)
   * @throws IllegalArgumentException if the shape does not fit the layout, the batch is not 1 or the
   *     tokens are not a square number
   */
  public static FeatureGrid of(float[] data, long[] shape, FeatureLayout layout) {
    if (shape.length != layout.rank() || shape[0] != 1) {
      throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " is not a batch of one in layout "
          + layout.label());
    }
    switch (layout) {
      case NCHW:
        return new FeatureGrid(data, (int) shape[1], (int) shape[2], (int) shape[3]);
      case NHWC:
        return hwc(data, (int) shape[3], (int) shape[1], (int) shape[2]);
      default:
        int tokens = (int) shape[1];
        int side = (int) Math.round(Math.sqrt(tokens));
        if (side * side != tokens) {
          throw new IllegalArgumentException(tokens + " tokens (shape " + Arrays.toString(shape)
              + ") are not a square grid");
        }
        return hwc(data, (int) shape[2], side, side);
    }
  }

  /** Transposes {@code [h, w, c]} (channels last, as tokens and NHWC are) to CHW. */
  private static FeatureGrid hwc(float[] data, int c, int h, int w) {
    float[] out = new float[data.length];
    for (int p = 0; p < h * w; p++) {
      for (int k = 0; k < c; k++) {
        out[k * h * w + p] = data[p * c + k];
      }
    }
    return new FeatureGrid(out, c, h, w);
  }

  /**
   * Adaptive average pooling to another grid, as PyTorch's {@code adaptive_avg_pool2d}: output cell
   * {@code (i, j)} averages input rows {@code floor(i*H/h)} to {@code ceil((i+1)*H/h)} (exclusive) and
   * the columns likewise (cells overlap when the sizes do not divide; a larger output repeats cells).
   * Sums are taken in double, then rounded to float.
   *
   * @param outH grid rows wanted, at least 1
   * @param outW grid columns wanted, at least 1
   * @return the pooled grid ({@code this} if the size is already right)
   */
  public FeatureGrid pool(int outH, int outW) {
    if (outH == height && outW == width) {
      return this;
    }
    float[] out = new float[channels * outH * outW];
    for (int c = 0; c < channels; c++) {
      for (int i = 0; i < outH; i++) {
        int y0 = Math.floorDiv(i * height, outH);
        int y1 = -Math.floorDiv(-(i + 1) * height, outH);
        for (int j = 0; j < outW; j++) {
          int x0 = Math.floorDiv(j * width, outW);
          int x1 = -Math.floorDiv(-(j + 1) * width, outW);
          double sum = 0;
          for (int y = y0; y < y1; y++) {
            for (int x = x0; x < x1; x++) {
              sum += data[(c * height + y) * width + x];
            }
          }
          out[(c * outH + i) * outW + j] = (float) (sum / ((y1 - y0) * (x1 - x0)));
        }
      }
    }
    return new FeatureGrid(out, channels, outH, outW);
  }

  /**
   * Concatenates grids of one size on channels, in order.
   *
   * @param grids at least one grid, all {@code height x width} alike
   * @return a grid with the channels of all
   * @throws IllegalArgumentException if the grids differ in size
   */
  public static FeatureGrid concatChannels(List<FeatureGrid> grids) {
    FeatureGrid first = grids.get(0);
    int c = 0;
    for (FeatureGrid g : grids) {
      if (g.height != first.height || g.width != first.width) {
        throw new IllegalArgumentException("cannot concatenate a " + g.height + "x" + g.width + " grid with a "
            + first.height + "x" + first.width + " one on channels");
      }
      c += g.channels;
    }
    if (grids.size() == 1) {
      return first;
    }
    float[] out = new float[c * first.height * first.width];
    int at = 0;
    for (FeatureGrid g : grids) {
      System.arraycopy(g.data, 0, out, at, g.data.length);
      at += g.data.length;
    }
    return new FeatureGrid(out, c, first.height, first.width);
  }

  /**
   * Returns the grid as tokens.
   *
   * @return {@code height * width} tokens of {@code channels} floats, row-major over the grid (a new array)
   */
  public float[] tokens() {
    int n = height * width;
    float[] out = new float[data.length];
    for (int k = 0; k < channels; k++) {
      for (int p = 0; p < n; p++) {
        out[p * channels + k] = data[k * n + p];
      }
    }
    return out;
  }
}
