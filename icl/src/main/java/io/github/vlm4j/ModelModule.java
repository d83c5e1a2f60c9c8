package io.github.vlm4j;

/** The graphs of a model, named by their base file name in the onnx-community layout. */
public enum ModelModule {
  /** {@code onnx/vision_encoder*.onnx}: pixels to image features. */
  VISION_ENCODER("vision_encoder"),
  /** {@code onnx/embed_tokens*.onnx}: token ids to embeddings. */
  EMBED_TOKENS("embed_tokens"),
  /** {@code onnx/decoder_model_merged*.onnx}: embeddings plus KV cache to logits. */
  DECODER("decoder_model_merged"),
  /** {@code onnx/encoder_model*.onnx}: the encoder of encoder–decoder models (Florence-2). */
  ENCODER("encoder_model");

  private final String baseName;

  ModelModule(String baseName) {
    this.baseName = baseName;
  }

  /**
   * Returns the graph's file base name.
   *
   * @return the file base name, e.g. {@code decoder_model_merged}
   */
  public String baseName() {
    return baseName;
  }
}
