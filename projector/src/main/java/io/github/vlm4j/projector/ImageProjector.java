package io.github.vlm4j.projector;

import ai.onnxruntime.OrtSession;
import io.github.vlm4j.vision.ImageFeatures;

/**
 * Maps a vision graph's output to embeddings in the decoder's width: the identity when the
 * projector is fused into the vision graph (onnx-community exports), an ONNX projector, or a gated
 * cross-modal adapter that also sees the text query. Implementations are thread-safe.
 */
public interface ImageProjector {
  /**
   * Returns the projector's name.
   *
   * @return a short name for messages and listings, e.g. {@code fused}, {@code projector}, an adapter's name
   */
  String name();

  /**
   * Tells whether the projector conditions on the text query.
   *
   * @return whether {@link #project} uses the query embeddings
   */
  boolean usesQuery();

  /**
   * Maps one image's vision features to decoder embeddings.
   *
   * @param features the vision graph's output for one image
   * @param query the text query's embeddings (ignored unless {@link #usesQuery()}); may be null then
   * @param runOptions for termination, may be null
   * @return the image's embeddings
   */
  ImageEmbeddings project(ImageFeatures features, QueryEmbeddings query, OrtSession.RunOptions runOptions);
}
