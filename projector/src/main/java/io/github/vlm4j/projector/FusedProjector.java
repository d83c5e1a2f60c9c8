package io.github.vlm4j.projector;

import ai.onnxruntime.OrtSession;
import io.github.vlm4j.vision.ImageFeatures;

/**
 * For exports whose vision graph already includes the projector: the features are the embeddings.
 * Stateless and thread-safe.
 */
public final class FusedProjector implements ImageProjector {
  private final int width;

  /**
   * Creates the projector of a vision graph that already outputs decoder embeddings.
   *
   * @param width the decoder's hidden size, which the vision graph's last dimension must equal
   */
  public FusedProjector(int width) {
    this.width = width;
  }

  @Override
  public String name() {
    return "fused";
  }

  @Override
  public boolean usesQuery() {
    return false;
  }

  @Override
  public ImageEmbeddings project(ImageFeatures features, QueryEmbeddings query, OrtSession.RunOptions runOptions) {
    if (features.width() != width) {
      throw new IllegalStateException("vision features have width " + features.width() + " but the decoder expects "
          + width);
    }
    return new ImageEmbeddings(features.data(), features.rows(), width);
  }
}
