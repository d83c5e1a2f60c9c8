package io.github.vlm4j.vision;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.onnx.OnnxGraph;
import io.github.vlm4j.core.onnx.SessionSettings;
import io.github.vlm4j.core.onnx.TensorSpec;
import io.github.vlm4j.core.onnx.Tensors;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Runs a vision graph ({@code vision_encoder.onnx}) on preprocessed frames. The feeding convention
 * comes from the graph's declared inputs, not from the model family: {@code pixel_values} of rank 5
 * ({@code [batch, num_images, 3, H, W]}, with an optional boolean {@code pixel_attention_mask}
 * {@code [batch, num_images, H, W]}) as Idefics3/SmolVLM exports declare, or rank 4 ({@code
 * [num_images, 3, H, W]}) as LLaVA and ViT-only exports declare. float16 inputs are fed as float16.
 *
 * <p>Thread-safe; owns its graph.
 */
public final class VisionEncoder implements ImageEncoder {
  private final OnnxGraph graph;
  private final TensorSpec pixels;
  private final TensorSpec mask;
  private final String output;

  private VisionEncoder(OnnxGraph graph, TensorSpec pixels, TensorSpec mask, String output) {
    this.graph = graph;
    this.pixels = pixels;
    this.mask = mask;
    this.output = output;
  }

  /**
   * Opens and validates the graph.
   *
   * @param folder model folder
   * @param file graph file, e.g. {@code onnx/vision_encoder.onnx}
   * @param settings session settings
   * @param frameHeight frame height the preprocessor produces
   * @param frameWidth frame width the preprocessor produces
   * @return the encoder; the caller owns it
   * @throws ModelLoadException MISSING_FILE, RUNTIME, or GRAPH_MISMATCH naming the input that disagrees
   */
  public static VisionEncoder open(ModelFolder folder, String file, SessionSettings settings, int frameHeight,
      int frameWidth) throws ModelLoadException {
    OnnxGraph g = OnnxGraph.open(folder, file, settings);
    try {
      TensorSpec px = g.requireInput("pixel_values");
      if (px.rank() != 4 && px.rank() != 5) {
        throw g.mismatch("input " + px.describe() + " must have rank 4 [num_images,3,H,W] or 5 [batch,num_images,3,H,W]");
      }
      if (px.type() != OnnxJavaType.FLOAT && px.type() != OnnxJavaType.FLOAT16) {
        throw g.mismatch("input " + px.describe() + " must be float or float16");
      }
      int r = px.rank();
      checkDim(g, px, r - 3, 3, "channels");
      checkDim(g, px, r - 2, frameHeight, "frame height (preprocessor_config.json)");
      checkDim(g, px, r - 1, frameWidth, "frame width (preprocessor_config.json)");
      TensorSpec m = g.input("pixel_attention_mask").orElse(null);
      if (m != null && (m.type() != OnnxJavaType.BOOL || m.rank() != px.rank() - 1)) {
        throw g.mismatch("input " + m.describe() + " must be bool of rank " + (px.rank() - 1));
      }
      for (String name : g.inputs().keySet()) {
        if (!name.equals("pixel_values") && !name.equals("pixel_attention_mask")) {
          throw g.mismatch("declares input '" + name + "' that vlm4j does not know how to feed; inputs are "
              + g.inputs().values());
        }
      }
      if (g.outputs().isEmpty()) {
        throw g.mismatch("declares no outputs");
      }
      return new VisionEncoder(g, px, m, g.outputs().keySet().iterator().next());
    } catch (ModelLoadException | RuntimeException e) {
      g.close();
      throw e;
    }
  }

  private static void checkDim(OnnxGraph g, TensorSpec s, int i, int expected, String what) throws ModelLoadException {
    if (s.dim(i) >= 0 && s.dim(i) != expected) {
      throw g.mismatch("input " + s.describe() + " has " + what + " " + s.dim(i) + " but " + expected + " is produced");
    }
  }

  /**
   * Returns the declared output of the vision graph.
   *
   * @return the graph's output as declared (its last dimension is the feature width)
   */
  @Override
  public TensorSpec outputSpec() {
    return graph.outputs().get(output);
  }

  /**
   * Returns the vision graph's file name.
   *
   * @return the graph file
   */
  public String file() {
    return graph.file();
  }

  @Override
  public java.util.List<String> files() {
    return java.util.List.of(graph.file());
  }

  /**
   * Returns the vision graph.
   *
   * @return the graph
   */
  public OnnxGraph graph() {
    return graph;
  }

  /**
   * Runs the vision graph on one image.
   *
   * @param image preprocessed frames of one image
   * @param runOptions for termination, may be null
   * @return the graph's output for that image
   */
  @Override
  public ImageFeatures encode(PreprocessedImage image, OrtSession.RunOptions runOptions) {
    int n = image.frames();
    long[] shape = pixels.rank() == 5
        ? new long[] {1, n, 3, image.height(), image.width()}
        : new long[] {n, 3, image.height(), image.width()};
    Map<String, OnnxTensor> feeds = new HashMap<>();
    try {
      float[] px = image.pixels();
      if (pixels.type() == OnnxJavaType.FLOAT16) {
        ShortBuffer b = Tensors.directShorts(px.length);
        for (float v : px) {
          b.put(Tensors.toHalf(v));
        }
        feeds.put("pixel_values", Tensors.halfs(b.flip(), shape));
      } else {
        FloatBuffer b = Tensors.directFloats(px.length);
        b.put(px).flip();
        feeds.put("pixel_values", Tensors.floats(b, shape));
      }
      if (mask != null) {
        int count = n * image.height() * image.width();
        ByteBuffer m = ByteBuffer.allocateDirect(count);
        for (int i = 0; i < count; i++) {
          m.put((byte) 1);
        }
        long[] ms = mask.rank() == 4 ? new long[] {1, n, image.height(), image.width()}
            : new long[] {n, image.height(), image.width()};
        feeds.put("pixel_attention_mask", Tensors.bools(m.flip(), ms));
      }
      try (OrtSession.Result r = graph.run(feeds, Map.of(), runOptions)) {
        Optional<ai.onnxruntime.OnnxValue> v = r.get(output);
        if (v.isEmpty() || !(v.get() instanceof OnnxTensor t)) {
          throw new InferenceException(graph.file() + " produced no tensor '" + output + "'");
        }
        return new ImageFeatures(Tensors.readFloats(t), t.getInfo().getShape());
      }
    } finally {
      feeds.values().forEach(OnnxTensor::close);
    }
  }

  @Override
  public void close() {
    graph.close();
  }
}
