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
 * Runs a Qwen2-VL-style vision graph: flattened patches {@code pixel_values [num_patches,
 * 3*T*P*P]} (float or float16) and a patch grid {@code [num_images, 3]} int64 (named {@code
 * grid_thw} in Qwen2-VL exports, {@code image_grid_thw} in Qwen2.5-VL ones; any name is accepted)
 * in, merged image features {@code [num_patches / merge², hidden]} out. Feeds one image per run,
 * as {@link SmartResizePreprocessor} produced it, with the grid {@code [[t, H/P, W/P]]}.
 *
 * <p>Thread-safe (ONNX Runtime sessions may run concurrently); owns its graph, which {@link
 * #close()} releases.
 */
public final class PatchGridEncoder implements ImageEncoder {
  /** The patches input every such export declares. */
  public static final String PIXELS = "pixel_values";
  /**
   * The optional second output of Qwen3-VL exports with DeepStack: {@code [layers, num_tokens,
   * hidden]} features the decoder adds at the image's token positions after its first layers.
   */
  public static final String DEEPSTACK = "deepstack_features";

  private final OnnxGraph graph;
  private final TensorSpec pixels;
  private final String gridInput;
  private final String output;
  private final int patch;
  private final int temporal;
  private final int merge;
  private final int injectedLayers;

  private PatchGridEncoder(OnnxGraph graph, TensorSpec pixels, String gridInput, String output, int patch,
      int temporal, int merge, int injectedLayers) {
    this.injectedLayers = injectedLayers;
    this.graph = graph;
    this.pixels = pixels;
    this.gridInput = gridInput;
    this.output = output;
    this.patch = patch;
    this.temporal = temporal;
    this.merge = merge;
  }

  /**
   * Opens and validates the graph: {@code pixel_values} float or float16 of rank 2 whose last
   * dimension (if static) is {@code 3*T*P*P}; exactly one other input, int64 of rank 2 whose last
   * dimension (if static) is 3; one output, float or float16 of rank 2 whose last dimension (if
   * static) is {@code hidden}, and optionally {@link #DEEPSTACK} {@code [layers, num_tokens, hidden]}
   * with a fixed number of layers.
   *
   * @param folder model folder
   * @param file graph file, e.g. {@code onnx/vision_encoder.onnx}
   * @param settings session settings
   * @param patchSize {@code patch_size} of the preprocessor config
   * @param temporalPatchSize {@code temporal_patch_size}
   * @param mergeSize {@code merge_size}
   * @param hidden the feature width the language model takes
   * @return the encoder; the caller owns it and must close it
   * @throws ModelLoadException MISSING_FILE, RUNTIME, or GRAPH_MISMATCH naming the input or output
   *     that disagrees and what was expected
   * @throws IllegalArgumentException if a size argument is below 1
   */
  public static PatchGridEncoder open(ModelFolder folder, String file, SessionSettings settings, int patchSize,
      int temporalPatchSize, int mergeSize, int hidden) throws ModelLoadException {
    if (patchSize < 1 || temporalPatchSize < 1 || mergeSize < 1 || hidden < 1) {
      throw new IllegalArgumentException("patch, temporal patch, merge sizes and hidden must be at least 1, got "
          + patchSize + ", " + temporalPatchSize + ", " + mergeSize + ", " + hidden);
    }
    OnnxGraph g = OnnxGraph.open(folder, file, settings);
    try {
      long width = 3L * temporalPatchSize * patchSize * patchSize;
      TensorSpec px = g.requireInput(PIXELS);
      if (px.type() != OnnxJavaType.FLOAT && px.type() != OnnxJavaType.FLOAT16) {
        throw g.mismatch("input " + px.describe() + " must be float or float16");
      }
      if (px.rank() != 2) {
        throw g.mismatch("input " + px.describe() + " must have rank 2 [num_patches, " + width
            + "] (flattened patches of 3 channels x " + temporalPatchSize + " frames x " + patchSize + "x" + patchSize
            + "), as Qwen2-VL vision exports declare");
      }
      if (px.dim(1) >= 0 && px.dim(1) != width) {
        throw g.mismatch("input " + px.describe() + " has patches of " + px.dim(1) + " values but the preprocessor"
            + " makes 3*" + temporalPatchSize + "*" + patchSize + "*" + patchSize + " = " + width
            + " (patch_size, temporal_patch_size of preprocessor_config.json)");
      }
      List<TensorSpec> others = g.inputs().values().stream().filter(s -> !s.name().equals(PIXELS)).toList();
      if (others.size() != 1) {
        throw g.mismatch("must declare exactly one input besides " + PIXELS + ", the int64 [num_images, 3] patch grid"
            + " (grid_thw or image_grid_thw); its inputs are " + g.inputs().values().stream().map(TensorSpec::describe)
            .toList());
      }
      TensorSpec grid = others.get(0);
      if (grid.type() != OnnxJavaType.INT64 || grid.rank() != 2 || (grid.dim(1) >= 0 && grid.dim(1) != 3)) {
        throw g.mismatch("input " + grid.describe() + " must be the int64 [num_images, 3] patch grid (t, h, w)");
      }
      TensorSpec deep = g.outputs().get(DEEPSTACK);
      if (g.outputs().size() != (deep == null ? 1 : 2)) {
        throw g.mismatch("must declare the [num_tokens, " + hidden + "] image features and, for DeepStack, '" + DEEPSTACK
            + "' [layers, num_tokens, " + hidden + "]; its outputs are "
            + g.outputs().values().stream().map(TensorSpec::describe).toList());
      }
      TensorSpec out = g.outputs().values().stream().filter(o -> !o.name().equals(DEEPSTACK)).findFirst().orElseThrow();
      if (out.type() != OnnxJavaType.FLOAT && out.type() != OnnxJavaType.FLOAT16) {
        throw g.mismatch("output " + out.describe() + " must be float or float16");
      }
      if (out.rank() != 2) {
        throw g.mismatch("output " + out.describe() + " must have rank 2 [num_tokens, " + hidden + "]");
      }
      if (out.dim(1) >= 0 && out.dim(1) != hidden) {
        throw g.mismatch("output " + out.describe() + " has features of width " + out.dim(1)
            + " but the language model takes " + hidden);
      }
      int layers = 0;
      if (deep != null) {
        if ((deep.type() != OnnxJavaType.FLOAT && deep.type() != OnnxJavaType.FLOAT16) || deep.rank() != 3
            || deep.dim(0) < 1 || deep.dim(0) > 64 || (deep.dim(2) >= 0 && deep.dim(2) != hidden)) {
          throw g.mismatch("output " + deep.describe() + " must be float [layers, num_tokens, " + hidden
              + "] with a fixed number of layers (1 to 64)");
        }
        layers = (int) deep.dim(0);
      }
      return new PatchGridEncoder(g, px, grid.name(), out.name(), patchSize, temporalPatchSize, mergeSize, layers);
    } catch (ModelLoadException | RuntimeException e) {
      g.close();
      throw e;
    }
  }

  /**
   * Encodes one image.
   *
   * @param image the flattened patches {@link SmartResizePreprocessor} made ({@code frames} a
   *     multiple of {@code temporal_patch_size}, sides multiples of {@code patch_size * merge_size})
   * @param runOptions for termination, may be null
   * @return features {@code [t*(H/P)*(W/P)/merge², hidden]}, a new array the caller owns
   * @throws IllegalArgumentException if the image is not a whole grid of merged patches
   * @throws InferenceException if ONNX Runtime fails or the graph returns another number of rows
   */
  @Override
  public ImageFeatures encode(PreprocessedImage image, OrtSession.RunOptions runOptions) {
    int[] grid = SmartResizePreprocessor.gridThw(image.layout(), patch, temporal);
    int tokens = SmartResizePreprocessor.imageTokens(image.layout(), patch, temporal, merge);
    long patches = (long) grid[0] * grid[1] * grid[2];
    long[] shape = {patches, 3L * temporal * patch * patch};
    float[] px = image.pixels();
    Map<String, OnnxTensor> feeds = new HashMap<>();
    try {
      if (pixels.type() == OnnxJavaType.FLOAT16) {
        ShortBuffer b = Tensors.directShorts(px.length);
        for (float v : px) {
          b.put(Tensors.toHalf(v));
        }
        feeds.put(PIXELS, Tensors.halfs(b.flip(), shape));
      } else {
        FloatBuffer b = Tensors.directFloats(px.length);
        b.put(px).flip();
        feeds.put(PIXELS, Tensors.floats(b, shape));
      }
      LongBuffer g = Tensors.directLongs(3);
      g.put(grid[0]).put(grid[1]).put(grid[2]).flip();
      feeds.put(gridInput, Tensors.longs(g, 1, 3));
      try (OrtSession.Result r = graph.run(feeds, Map.of(), runOptions)) {
        Optional<OnnxValue> v = r.get(output);
        if (v.isEmpty() || !(v.get() instanceof OnnxTensor t)) {
          throw new InferenceException(graph.file() + " produced no tensor '" + output + "'");
        }
        long[] outShape = t.getInfo().getShape();
        if (outShape.length != 2 || outShape[0] != tokens) {
          throw new InferenceException(graph.file() + " returned " + output + " of shape " + Arrays.toString(outShape)
              + " for a patch grid of " + grid[0] + "x" + grid[1] + "x" + grid[2] + "; expected [" + tokens
              + ", hidden] (" + patches + " patches merged " + merge + "x" + merge + ")");
        }
        float[] data = Tensors.readFloats(t);
        if (injectedLayers == 0) {
          return new ImageFeatures(data, outShape);
        }
        Optional<OnnxValue> d = r.get(DEEPSTACK);
        if (d.isEmpty() || !(d.get() instanceof OnnxTensor dt)) {
          throw new InferenceException(graph.file() + " produced no tensor '" + DEEPSTACK + "'");
        }
        long[] dShape = dt.getInfo().getShape();
        if (dShape.length != 3 || dShape[0] != injectedLayers || dShape[1] != outShape[0] || dShape[2] != outShape[1]) {
          throw new InferenceException(graph.file() + " returned " + DEEPSTACK + " of shape " + Arrays.toString(dShape)
              + "; expected [" + injectedLayers + ", " + outShape[0] + ", " + outShape[1] + "]");
        }
        return new ImageFeatures(data, outShape, Tensors.readFloats(dt), injectedLayers);
      }
    } finally {
      feeds.values().forEach(OnnxTensor::close);
    }
  }

  @Override
  public int injectedLayers() {
    return injectedLayers;
  }

  /**
   * Returns the declared output of the vision graph.
   *
   * @return its spec ({@code [num_tokens, hidden]}; -1 where dynamic)
   */
  @Override
  public TensorSpec outputSpec() {
    return graph.outputs().get(output);
  }

  /**
   * Names the graph file.
   *
   * @return the one file this encoder runs, relative to the model folder
   */
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

  /**
   * Returns the name of the patch-grid input.
   *
   * @return e.g. {@code grid_thw} or {@code image_grid_thw}
   */
  public String gridInput() {
    return gridInput;
  }

  /** Closes the graph; the encoder must not be used afterwards. */
  @Override
  public void close() {
    graph.close();
  }

  @Override
  public String toString() {
    return "PatchGridEncoder[" + graph.file() + ", patch " + patch + ", temporal " + temporal + ", merge " + merge + "]";
  }
}
