package io.github.vlm4j.projector;

/**
 * Image embeddings in the decoder's width, one row per image token, in the order the tokens appear.
 *
 * @param data {@code rows * width} floats
 * @param rows number of image tokens they fill
 * @param width the decoder's hidden size
 */
public record ImageEmbeddings(float[] data, int rows, int width) {
  /**
   * Checks sizes agree.
   *
   * @param data {@code rows * width} floats (not copied)
   * @param rows number of image tokens they fill
   * @param width the decoder's hidden size
   * @throws IllegalArgumentException if {@code data.length != rows * width}
   */
  public ImageEmbeddings {
    if ((long) rows * width != data.length) {
      throw new IllegalArgumentException(rows + " rows of width " + width + " need " + (long) rows * width
          + " floats, got " + data.length);
    }
  }
}
