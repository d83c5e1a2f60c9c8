package io.github.vlm4j.decoder;

/**
 * Features a decoder adds to its hidden states after its first layers, one vector per prompt
 * position and layer (Qwen3-VL's DeepStack: the vision tower's intermediate features at the image
 * tokens, zeros at text tokens), fed as the decoder graph's {@link CausalDecoder#INJECTED} input.
 *
 * <p>Immutable by convention (the array is not copied) and thread-safe to read.
 *
 * @param layers number of decoder layers fed, >= 1
 * @param length number of positions
 * @param width hidden size
 * @param data {@code layers × length × width} values, layer-major (not copied)
 */
public record InjectedFeatures(int layers, int length, int width, float[] data) {
  /**
   * Checks the sizes.
   *
   * @param layers number of decoder layers fed, >= 1
   * @param length number of positions, >= 0
   * @param width hidden size, >= 1
   * @param data {@code layers × length × width} values, layer-major (not copied)
   * @throws IllegalArgumentException if the sizes disagree
   */
  public InjectedFeatures {
    if (layers < 1 || length < 0 || width < 1 || data.length != (long) layers * length * width) {
      throw new IllegalArgumentException(data.length + " values for " + layers + " layers of " + length + " x "
          + width);
    }
  }

  /**
   * Returns the features of positions {@code [from, to)}.
   *
   * @param from first position, inclusive
   * @param to last position, exclusive
   * @return a copy of that stretch (this object when it is the whole)
   */
  public InjectedFeatures slice(int from, int to) {
    if (from < 0 || to > length || from > to) {
      throw new IndexOutOfBoundsException("slice [" + from + ", " + to + ") of " + length + " positions");
    }
    if (from == 0 && to == length) {
      return this;
    }
    int n = to - from;
    float[] out = new float[layers * n * width];
    for (int l = 0; l < layers; l++) {
      System.arraycopy(data, (l * length + from) * width, out, l * n * width, n * width);
    }
    return new InjectedFeatures(layers, n, width, out);
  }

  @Override
  public String toString() {
    return "InjectedFeatures[" + layers + " layers x " + length + " x " + width + "]";
  }
}
