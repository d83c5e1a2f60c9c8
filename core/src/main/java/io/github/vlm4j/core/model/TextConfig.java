package io.github.vlm4j.core.model;

import java.util.List;

/**
 * Dimensions of the decoder language model.
 *
 * @param vocabSize logits width
 * @param hiddenSize embedding width
 * @param numLayers decoder layers
 * @param numHeads attention heads
 * @param numKvHeads key/value heads (grouped-query attention)
 * @param headDim per-head width
 * @param maxPositions context window ({@code max_position_embeddings}); Integer.MAX_VALUE if unstated
 * @param layerTypes {@code text_config.layer_types}, one entry per layer (e.g. {@code
 *     full_attention}, {@code sliding_attention}, or {@code conv} for LFM2's short-convolution
 *     layers), or empty when the config does not list them (every layer attends)
 * @param convWidth channels of a convolution layer's cached state ({@code conv_dim}, else {@code
 *     hidden_size}); meaningful only when a layer is a {@link #CONV} layer
 * @param convCacheLength positions a convolution layer's cached state holds ({@code conv_L_cache});
 *     0 when no layer is a {@link #CONV} layer
 */
public record TextConfig(
    int vocabSize, int hiddenSize, int numLayers, int numHeads, int numKvHeads, int headDim, int maxPositions,
    List<String> layerTypes, int convWidth, int convCacheLength) {
  /** The {@code layer_types} entry of a layer whose cache is a convolution state rather than keys and values. */
  public static final String CONV = "conv";

  /**
   * Copies the layer types.
   *
   * @param vocabSize logits width
   * @param hiddenSize embedding width
   * @param numLayers decoder layers
   * @param numHeads attention heads
   * @param numKvHeads key/value heads
   * @param headDim per-head width
   * @param maxPositions context window
   * @param layerTypes one type per layer, or empty (copied)
   * @param convWidth channels of a convolution layer's state
   * @param convCacheLength positions a convolution layer's state holds (0 without convolution layers)
   * @throws IllegalArgumentException if {@code layerTypes} is neither empty nor one entry per layer
   */
  public TextConfig {
    layerTypes = List.copyOf(layerTypes);
    if (!layerTypes.isEmpty() && layerTypes.size() != numLayers) {
      throw new IllegalArgumentException(layerTypes.size() + " layer types for " + numLayers + " layers");
    }
  }

  /**
   * A config whose layers all attend (no {@code layer_types}).
   *
   * @param vocabSize logits width
   * @param hiddenSize embedding width
   * @param numLayers decoder layers
   * @param numHeads attention heads
   * @param numKvHeads key/value heads
   * @param headDim per-head width
   * @param maxPositions context window
   */
  public TextConfig(int vocabSize, int hiddenSize, int numLayers, int numHeads, int numKvHeads, int headDim,
      int maxPositions) {
    this(vocabSize, hiddenSize, numLayers, numHeads, numKvHeads, headDim, maxPositions, List.of(), hiddenSize, 0);
  }

  /**
   * Tells whether a layer caches a convolution state instead of keys and values.
   *
   * @param layer layer index
   * @return whether {@code layer_types[layer]} is {@value #CONV}
   */
  public boolean isConvLayer(int layer) {
    return !layerTypes.isEmpty() && CONV.equals(layerTypes.get(layer));
  }

  /**
   * Counts the layers that cache keys and values.
   *
   * @return layers that are not {@link #isConvLayer convolution layers}
   */
  public int attentionLayers() {
    int n = 0;
    for (int i = 0; i < numLayers; i++) {
      n += isConvLayer(i) ? 0 : 1;
    }
    return n;
  }

  /**
   * Computes the KV-cache size of one token.
   *
   * @param bytesPerElement bytes per cache element (e.g. 4 for float32, 2 for float16)
   * @return KV-cache bytes per token at the given element size (2 x attention layers x kv heads x
   *     head dim; convolution states do not grow with the sequence)
   */
  public long kvBytesPerToken(int bytesPerElement) {
    return 2L * attentionLayers() * numKvHeads * headDim * bytesPerElement;
  }
}
