package io.github.vlm4j.projector;

/**
 * Token embeddings of the text query that a gated cross-modal adapter conditions on.
 *
 * @param data {@code tokens * width} floats
 * @param tokens number of query tokens (may be 0)
 * @param width embedding width
 */
public record QueryEmbeddings(float[] data, int tokens, int width) {
  /**
   * Checks sizes agree.
   *
   * @param data {@code tokens * width} floats (not copied)
   * @param tokens number of query tokens (may be 0)
   * @param width embedding width
   * @throws IllegalArgumentException if {@code data.length != tokens * width}
   */
  public QueryEmbeddings {
    if ((long) tokens * width != data.length) {
      throw new IllegalArgumentException(tokens + " tokens of width " + width + " need " + (long) tokens * width
          + " floats, got " + data.length);
    }
  }
}
