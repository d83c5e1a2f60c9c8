package io.github.vlm4j.vision;

import java.util.Arrays;

/**
 * Output of a vision graph for one image, copied out of ONNX Runtime: float32 values and the shape
 * the graph produced (e.g. {@code [frames, tokens, width]}).
 *
 * @param data the values, row-major
 * @param shape the shape
 */
public record ImageFeatures(float[] data, long[] shape) {
  /**
   * Copies the shape; checks sizes agree.
   *
   * @param data the values, row-major (not copied)
   * @param shape the shape (copied)
   * @throws IllegalArgumentException if the product of {@code shape} is not {@code data.length}
   */
  public ImageFeatures {
    shape = shape.clone();
    if (Arrays.stream(shape).reduce(1, Math::multiplyExact) != data.length) {
      throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " does not hold " + data.length + " values");
    }
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
    return o instanceof ImageFeatures f && Arrays.equals(data, f.data) && Arrays.equals(shape, f.shape);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(shape) * 31 + Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "ImageFeatures" + Arrays.toString(shape);
  }
}
