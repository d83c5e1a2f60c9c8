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
   * Names the graph files this stage runs.
   *
   * @return the files, relative to the model folder, in the order they run
   */
  List<String> files();

  /** Closes the graphs. */
  @Override
  void close();
}
