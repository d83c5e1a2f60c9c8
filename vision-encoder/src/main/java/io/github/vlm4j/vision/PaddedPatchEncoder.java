package io.github.vlm4j.vision;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtSession;
import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.onnx.OnnxGraph;
import io.github.vlm4j.core.onnx.SessionSettings;
import io.github.vlm4j.core.onnx.TensorSpec;
import io.github.vlm4j.core.onnx.Tensors;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Runs a SigLIP2-NaFlex-style vision graph (LFM2-VL's): the frames of one image as flattened
 * patches padded to one length, {@code pixel_values [frames, max_patches, P·P·3]} (float or
 * float16), which of them are real, {@code pixel_attention_mask [frames, max_patches]} int64, and
 * each frame's patch grid, {@code spatial_shapes [frames, 2]} int64 (rows, columns), in; the
 * projected features of every frame, {@code image_features [tokens, hidden]}, out, frame after frame.
 * Frames come from {@link Lfm2VlPreprocessor}.
 *
 * <p>Thread-safe (ONNX Runtime sessions may run concurrently); owns its graph, which {@link
 * #close()} releases.
 */
public final class PaddedPatchEncoder implements ImageEncoder {
  /** The patches input. */
  public static final String PIXELS = "pixel_values";
  /** The real-patch mask input. */
  public static final String MASK = "pixel_attention_mask";
  /** The per-frame patch grid input. */
  public static final String SHAPES = "spatial_shapes";

  private final OnnxGraph graph;
  private final TensorSpec pixels;
  private final String output;
  private final Lfm2VlPreprocessor preprocessor;

  private PaddedPatchEncoder(OnnxGraph graph, TensorSpec pixels, String output, Lfm2VlPreprocessor preprocessor) {
    this.graph = graph;
    this.pixels = pixels;
    this.output = output;
    this.preprocessor = preprocessor;
  }

  /**
   * Opens and validates the graph: exactly the inputs {@value #PIXELS} (float or float16 {@code
   * [frames, patches, P·P·3]}), {@value #MASK} (int64 {@code [frames, patches]}) and {@value #SHAPES}
   * (int64 {@code [frames, 2]}); one float or float16 output {@code [tokens, hidden]}.
   *
   * @param folder model folder
   * @param file graph file, e.g. {@code onnx/vision_encoder.onnx}
   * @param settings session settings
   * @param preprocessor the model's preprocessor (patch size, padding length, tokens per frame)
   * @param hidden the feature width the language model takes
   * @return the encoder; the caller owns it and must close it
   * @throws ModelLoadException MISSING_FILE, RUNTIME, or GRAPH_MISMATCH naming the input or output
   *     that disagrees and what was expected
   */
  public static PaddedPatchEncoder open(ModelFolder folder, String file, SessionSettings settings,
      Lfm2VlPreprocessor preprocessor, int hidden) throws ModelLoadException {
    OnnxGraph g = OnnxGraph.open(folder, file, settings);
    try {
      int p = preprocessor.patchSize();
      long width = 3L * p * p;
      if (g.inputs().size() != 3) {
        throw g.mismatch("must declare exactly the inputs " + PIXELS + ", " + MASK + " and " + SHAPES + "; its inputs are "
            + g.inputs().values().stream().map(TensorSpec::describe).toList());
      }
      TensorSpec px = g.requireInput(PIXELS);
      if ((px.type() != OnnxJavaType.FLOAT && px.type() != OnnxJavaType.FLOAT16) || px.rank() != 3
          || (px.dim(2) >= 0 && px.dim(2) != width)) {
        throw g.mismatch("input " + px.describe() + " must be float [frames, patches, " + width + "] (flattened "
            + p + "x" + p + " patches of 3 channels; encoder_patch_size of preprocessor_config.json)");
      }
      if (px.dim(1) >= 0 && px.dim(1) != preprocessor.maxPatches()) {
        throw g.mismatch("input " + px.describe() + " takes " + px.dim(1) + " patches per frame but the preprocessor"
            + " pads frames to " + preprocessor.maxPatches() + " (max_image_tokens x downsample_factor^2, or"
            + " (tile_size / encoder_patch_size)^2)");
      }
      TensorSpec mask = g.requireInput(MASK);
      if (mask.type() != OnnxJavaType.INT64 || mask.rank() != 2) {
        throw g.mismatch("input " + mask.describe() + " must be int64 [frames, patches]");
      }
      TensorSpec shapes = g.requireInput(SHAPES);
      if (shapes.type() != OnnxJavaType.INT64 || shapes.rank() != 2 || (shapes.dim(1) >= 0 && shapes.dim(1) != 2)) {
        throw g.mismatch("input " + shapes.describe() + " must be int64 [frames, 2] (patch rows, columns)");
      }
      if (g.outputs().size() != 1) {
        throw g.mismatch("must declare one output, the [tokens, " + hidden + "] image features; its outputs are "
            + g.outputs().values().stream().map(TensorSpec::describe).toList());
      }
      TensorSpec out = g.outputs().values().iterator().next();
      if ((out.type() != OnnxJavaType.FLOAT && out.type() != OnnxJavaType.FLOAT16) || out.rank() != 2
          || (out.dim(1) >= 0 && out.dim(1) != hidden)) {
        throw g.mismatch("output " + out.describe() + " must be float [tokens, " + hidden + "] (the projected image"
            + " features; text_config.hidden_size)");
      }
      return new PaddedPatchEncoder(g, px, out.name(), preprocessor);
    } catch (ModelLoadException | RuntimeException e) {
      g.close();
      throw e;
    }
  }

  /**
   * Encodes one image.
   *
   * @param image frames from {@link Lfm2VlPreprocessor} (sides multiples of {@code
   *     encoder_patch_size})
   * @param runOptions for termination, may be null
   * @return features {@code [tokens, hidden]}, a new array the caller owns
   * @throws InferenceException if ONNX Runtime fails or the graph returns another number of rows
   */
  @Override
  public ImageFeatures encode(PreprocessedImage image, OrtSession.RunOptions runOptions) {
    ImageLayout layout = image.layout();
    int p = preprocessor.patchSize();
    int frames = layout.frames();
    int width = 3 * p * p;
    int pad = preprocessor.maxPatches();
    int tokens = 0;
    for (int f = 0; f < frames; f++) {
      pad = Math.max(pad, (layout.frameHeight(f) / p) * (layout.frameWidth(f) / p));
      tokens += preprocessor.frameTokens(layout, f);
    }
    long[] shape = {frames, pad, width};
    float[] src = image.pixels();
    Map<String, OnnxTensor> feeds = new HashMap<>();
    try {
      int n = Math.multiplyExact(frames * pad, width);
      FloatBuffer f32 = pixels.type() == OnnxJavaType.FLOAT ? Tensors.directFloats(n) : null;
      ShortBuffer f16 = f32 == null ? Tensors.directShorts(n) : null;
      LongBuffer mask = Tensors.directLongs(frames * pad);
      LongBuffer grid = Tensors.directLongs(2 * frames);
      int at = 0;
      for (int f = 0; f < frames; f++) {
        int rows = layout.frameHeight(f) / p;
        int cols = layout.frameWidth(f) / p;
        int count = rows * cols * width;
        int base = f * pad * width;
        if (f32 != null) {
          f32.put(base, src, at, count);
        } else {
          for (int i = 0; i < count; i++) {
            f16.put(base + i, Tensors.toHalf(src[at + i]));
          }
        }
        at += count;
        for (int i = 0; i < rows * cols; i++) {
          mask.put(f * pad + i, 1);
        }
        grid.put(2 * f, rows).put(2 * f + 1, cols);
      }
      feeds.put(PIXELS, f32 != null ? Tensors.floats(f32, shape) : Tensors.halfs(f16, shape));
      feeds.put(MASK, Tensors.longs(mask, frames, pad));
      feeds.put(SHAPES, Tensors.longs(grid, frames, 2));
      try (OrtSession.Result r = graph.run(feeds, Map.of(), runOptions)) {
        Optional<OnnxValue> v = r.get(output);
        if (v.isEmpty() || !(v.get() instanceof OnnxTensor t)) {
          throw new InferenceException(graph.file() + " produced no tensor '" + output + "'");
        }
        long[] outShape = t.getInfo().getShape();
        if (outShape.length != 2 || outShape[0] != tokens) {
          throw new InferenceException(graph.file() + " returned " + output + " of shape " + Arrays.toString(outShape)
              + " for " + frames + " frames " + Arrays.toString(layout.frameSizes()) + "; expected [" + tokens
              + ", hidden]");
        }
        return new ImageFeatures(Tensors.readFloats(t), outShape);
      }
    } finally {
      feeds.values().forEach(OnnxTensor::close);
    }
  }

  @Override
  public TensorSpec outputSpec() {
    return graph.outputs().get(output);
  }

  @Override
  public List<String> files() {
    return List.of(graph.file());
  }

  /**
   * Returns the vision graph (owned by this encoder; do not close it).
   *
   * @return the graph
   */
  public OnnxGraph graph() {
    return graph;
  }

  /** Closes the graph; the encoder must not be used afterwards. */
  @Override
  public void close() {
    graph.close();
  }

  @Override
  public String toString() {
    return "PaddedPatchEncoder[" + graph.file() + ", " + preprocessor + "]";
  }
}
