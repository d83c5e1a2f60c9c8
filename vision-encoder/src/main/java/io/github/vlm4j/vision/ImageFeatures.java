package io.github.vlm4j.vision;

import java.util.Arrays;

/**
 * Output of a vision graph for one image, copied out of ONNX Runtime: float32 values and the shape
 * the graph produced (e.g. {@code [frames, tokens, width]}), and the features some decoders add to
 * their hidden states at the image's token positions after their first layers ({@code injected}:
 * Qwen3-VL's DeepStack, {@code [injectedLayers, rows, width]}; empty for most models).
 *
 * @param data the values, row-major
 * @param shape the shape
 * @param injected per decoder layer, one row per image token: {@code injectedLayers × rows() ×
 *     width()} values, layer-major (empty when the graph has none)
 * @param injectedLayers number of decoder layers {@code injected} feeds (0 when none)
 */
public record ImageFeatures(float[] data, long[] shape, float[] injected, int injectedLayers) {
  private static final float[] NONE = new float[0];

  /**
   * Copies the shape; checks sizes agree.
   *
   * @param data the values, row-major (not copied)
   * @param shape the shape (copied)
   * @param injected layer-major {@code injectedLayers × rows × width} values (not copied)
   * @param injectedLayers number of layers in {@code injected}, >= 0
   * @throws IllegalArgumentException if the sizes disagree
   */
  public ImageFeatures {
    shape = shape.clone();
    if (Arrays.stream(shape).reduce(1, Math::multiplyExact) != data.length) {
      throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " does not hold " + data.length + " values");
    }
    if (injectedLayers < 0 || injected.length != (long) injectedLayers * data.length) {
      throw new IllegalArgumentException(injected.length + " injected values for " + injectedLayers + " layers of "
          + data.length + " feature values");
    }
  }

  /**
   * Features without injected layers.
   *
   * @param data the values, row-major (not copied)
   * @param shape the shape (copied)
   * @throws IllegalArgumentException if the product of {@code shape} is not {@code data.length}
   */
  public ImageFeatures(float[] data, long[] shape) {
    this(data, shape, NONE, 0);
  }

  /**
   * Returns the number of float values held, injected layers included (for memory accounting).
   *
   * @return {@code data.length + injected.length}
   */
  public long values() {
    return (long) data.length + injected.length;
  }

  /**
   * Returns the shape of the features.
   *
   * @return a copy of the shape
   */
  @Override
  public long[] shape() {
    return shape.clone();
  }

  /**
   * Returns the width of each feature vector.
   *
   * @return size of the last dimension
   */
  public int width() {
    return (int) shape[shape.length - 1];
  }

  /**
   * Returns the number of feature vectors.
   *
   * @return number of vectors ({@code data.length / width()})
   */
  public int rows() {
    return data.length / width();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ImageFeatures f && Arrays.equals(data, f.data) && Arrays.equals(shape, f.shape)
        && injectedLayers == f.injectedLayers && Arrays.equals(injected, f.injected);
  }

  @Override
  public int hashCode() {
    return (Arrays.hashCode(shape) * 31 + Arrays.hashCode(data)) * 31 + injectedLayers;
  }

  @Override
  public String toString() {
    return "ImageFeatures" + Arrays.toString(shape) + (injectedLayers == 0 ? "" : " + " + injectedLayers
        + " injected layers");
  }
}
