package io.github.vlm4j.vision;

import ai.onnxruntime.OrtSession;
import io.github.vlm4j.core.onnx.TensorSpec;
import java.util.List;

/**
 * The image stage of a model: preprocessed frames in, image features out (one graph, as {@link
 * VisionEncoder}, or several encoders combined, as {@link io.github.vlm4j.vision.multi.MultiEncoder}).
 *
 * <p>Implementations are thread-safe and own their graphs.
 */
public interface ImageEncoder extends AutoCloseable {
  /**
   * Encodes one image.
   *
   * @param image preprocessed frames of one image, as this model's preprocessor made them
   * @param runOptions for termination, may be null
   * @return the features of that image (a new array the caller owns)
   */
  ImageFeatures encode(PreprocessedImage image, OrtSession.RunOptions runOptions);

  /**
   * Describes the features {@link #encode} returns.
   *
   * @return their declared shape (the last dimension is the feature width; -1 where dynamic)
   */
  TensorSpec outputSpec();

  /**
   * Tells how many decoder layers the features' {@link ImageFeatures#injected()} part feeds.
   *
   * @return 0 unless the graph also produces features injected into decoder layers (Qwen3-VL's
   *     DeepStack)
   */
  default int injectedLayers() {
    return 0;
  }

  /**
   * Names the graph files this stage runs.
   *
   * @return the files, relative to the model folder, in the order they run
   */
  List<String> files();

  /** Closes the graphs. */
  @Override
  void close();
}
