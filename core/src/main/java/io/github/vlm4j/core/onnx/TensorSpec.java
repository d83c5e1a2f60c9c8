package io.github.vlm4j.core.onnx;

import ai.onnxruntime.OnnxJavaType;
import java.util.Arrays;

/**
 * A graph input or output as the graph declares it: name, element type and shape, where a dynamic
 * dimension is {@code -1} and carries its symbolic name (e.g. {@code batch_size}).
 *
 * @param name the input/output name
 * @param type the element type
 * @param shape the declared shape; -1 for dynamic dimensions
 * @param dimNames symbolic dimension names; empty strings for static dimensions
 */
public record TensorSpec(String name, OnnxJavaType type, long[] shape, String[] dimNames) {

  /**
   * Copies the arrays.
   *
   * @param name the input/output name
   * @param type the element type
   * @param shape the declared shape; -1 for dynamic dimensions (copied)
   * @param dimNames symbolic dimension names; empty strings for static dimensions (copied)
   */
  public TensorSpec {
    shape = shape.clone();
    dimNames = dimNames.clone();
  }

  /**
   * Returns the declared shape.
   *
   * @return a copy of the declared shape; -1 for dynamic dimensions
   */
  @Override
  public long[] shape() {
    return shape.clone();
  }

  /**
   * Returns the symbolic dimension names.
   *
   * @return a copy of the symbolic dimension names; empty strings for static dimensions
   */
  @Override
  public String[] dimNames() {
    return dimNames.clone();
  }

  /**
   * Returns the rank.
   *
   * @return the number of dimensions
   */
  public int rank() {
    return shape.length;
  }

  /**
   * Returns the declared size of one dimension.
   *
   * @param i dimension index
   * @return the static size, or -1 if dynamic
   */
  public long dim(int i) {
    return shape[i];
  }

  /**
   * Returns the symbolic name of one dimension.
   *
   * @param i dimension index
   * @return the symbolic name of a dynamic dimension, or "" for a static one
   */
  public String dimName(int i) {
    return dimNames[i] == null ? "" : dimNames[i];
  }

  /**
   * Describes this tensor for messages: name, element type and shape.
   *
   * @return e.g. {@code past_key_values.0.key FLOAT[batch_size,2,past_sequence_length,32]}
   */
  public String describe() {
    StringBuilder sb = new StringBuilder(name).append(' ').append(type).append('[');
    for (int i = 0; i < shape.length; i++) {
      if (i > 0) {
        sb.append(',');
      }
      sb.append(shape[i] >= 0 ? Long.toString(shape[i]) : (dimName(i).isEmpty() ? "?" : dimName(i)));
    }
    return sb.append(']').toString();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorSpec t
        && name.equals(t.name)
        && type == t.type
        && Arrays.equals(shape, t.shape)
        && Arrays.equals(dimNames, t.dimNames);
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return describe();
  }
}
