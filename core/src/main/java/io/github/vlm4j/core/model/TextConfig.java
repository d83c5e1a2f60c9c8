package io.github.vlm4j.core.model;

/**
 * Dimensions of the decoder language model.
 *
 * @param vocabSize logits width
 * @param hiddenSize embedding width
 * @param numLayers decoder layers (KV-cache entries per direction)
 * @param numHeads attention heads
 * @param numKvHeads key/value heads (grouped-query attention)
 * @param headDim per-head width
 * @param maxPositions context window ({@code max_position_embeddings}); Integer.MAX_VALUE if unstated
 */
public record TextConfig(
    int vocabSize, int hiddenSize, int numLayers, int numHeads, int numKvHeads, int headDim, int maxPositions) {

  /**
   * Computes the KV-cache size of one token.
   *
   * @param bytesPerElement bytes per cache element (e.g. 4 for float32, 2 for float16)
   * @return KV-cache bytes per token at the given element size (2 x layers x kv heads x head dim)
   */
  public long kvBytesPerToken(int bytesPerElement) {
    return 2L * numLayers * numKvHeads * headDim * bytesPerElement;
  }
}
