package io.github.vlm4j.vision.multi;

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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One image-encoder graph of a {@link MultiEncoder}: a float pixel input (NCHW or NHWC, named by
 * the manifest) and the outputs to take, each read as a {@link FeatureGrid}. A graph may declare
 * more outputs than are taken (e.g. a classifier's logits); ONNX Runtime computes only those taken.
 *
 * <p>Thread-safe; owns its graph.
 */
public final class EncoderGraph implements AutoCloseable {
  /**
   * One output to take.
   *
   * @param name the graph output's name
   * @param layout how it is laid out
   * @param key where the manifest names it, for messages (e.g. {@code encoders[0].outputs[1]})
   */
  public record Output(String name, FeatureLayout layout, String key) {}

  private final OnnxGraph graph;
  private final String input;
  private final FeatureLayout inputLayout;
  private final List<Output> outputs;

  private EncoderGraph(OnnxGraph graph, String input, FeatureLayout inputLayout, List<Output> outputs) {
    this.graph = graph;
    this.input = input;
    this.inputLayout = inputLayout;
    this.outputs = List.copyOf(outputs);
  }

  /**
   * Opens and validates the graph: the pixel input exists, is float of rank 4 with 3 channels where
   * the layout puts them and static sizes equal to every view's; it is the only input; every output
   * taken exists with the rank its layout implies and is float.
   *
   * @param folder model folder
   * @param file graph file
   * @param settings session settings
   * @param input the pixel input's name
   * @param inputLayout NCHW or NHWC
   * @param outputs the outputs to take, at least one
   * @param views the views this graph will be run on
   * @return the graph; the caller owns it
   * @throws ModelLoadException MISSING_FILE, RUNTIME, or GRAPH_MISMATCH naming the file, the manifest
   *     key and what was expected and found
   */
  public static EncoderGraph open(ModelFolder folder, String file, SessionSettings settings, String input,
      FeatureLayout inputLayout, List<Output> outputs, List<ViewSpec> views) throws ModelLoadException {
    OnnxGraph g = OnnxGraph.open(folder, file, settings);
    try {
      TensorSpec px = g.requireInput(input);
      if (px.type() != OnnxJavaType.FLOAT || px.rank() != 4) {
        throw g.mismatch("input " + px.describe() + " must be float of rank 4 (" + inputLayout.label() + ")");
      }
      int c = inputLayout.channelAxis();
      int hAxis = inputLayout == FeatureLayout.NCHW ? 2 : 1;
      if (px.dim(c) >= 0 && px.dim(c) != 3) {
        throw g.mismatch("input " + px.describe() + " has " + px.dim(c) + " channels at dimension " + c
            + " but layout " + inputLayout.label() + " puts the 3 colour channels there");
      }
      for (ViewSpec v : views) {
        if ((px.dim(hAxis) >= 0 && px.dim(hAxis) != v.height()) || (px.dim(hAxis + 1) >= 0
            && px.dim(hAxis + 1) != v.width())) {
          throw g.mismatch("input " + px.describe() + " does not take a " + v.width() + "x" + v.height()
              + " view (" + inputLayout.label() + ")");
        }
      }
      for (String name : g.inputs().keySet()) {
        if (!name.equals(input)) {
          throw g.mismatch("declares input '" + name + "' besides the pixels '" + input + "'; inputs are "
              + g.inputs().values());
        }
      }
      for (Output o : outputs) {
        Optional<TensorSpec> s = g.output(o.name());
        if (s.isEmpty()) {
          throw g.mismatch("has no output '" + o.name() + "' (" + o.key() + ".name); its outputs are "
              + g.outputs().values());
        }
        if (s.get().type() != OnnxJavaType.FLOAT || s.get().rank() != o.layout().rank()) {
          throw g.mismatch("output " + s.get().describe() + " must be float of rank " + o.layout().rank()
              + " for layout " + o.layout().label() + " (" + o.key() + ".layout)");
        }
      }
      return new EncoderGraph(g, input, inputLayout, outputs);
    } catch (ModelLoadException | RuntimeException e) {
      g.close();
      throw e;
    }
  }

  /**
   * Returns the graph file.
   *
   * @return the file, relative to the model folder
   */
  public String file() {
    return graph.file();
  }

  /**
   * Returns the outputs taken.
   *
   * @return the outputs, in manifest order
   */
  public List<Output> outputs() {
    return outputs;
  }

  /**
   * Runs the graph on one view.
   *
   * @param chw {@code 3 * height * width} floats, CHW
   * @param height view height
   * @param width view width
   * @param runOptions for termination, may be null
   * @return one grid per output taken, in order
   * @throws InferenceException if ONNX Runtime fails or an output does not fit its layout
   */
  public List<FeatureGrid> run(float[] chw, int height, int width, OrtSession.RunOptions runOptions) {
    FloatBuffer b = Tensors.directFloats(chw.length);
    long[] shape;
    if (inputLayout == FeatureLayout.NCHW) {
      b.put(chw);
      shape = new long[] {1, 3, height, width};
    } else {
      int n = height * width;
      for (int p = 0; p < n; p++) {
        b.put(chw[p]).put(chw[n + p]).put(chw[2 * n + p]);
      }
      shape = new long[] {1, height, width, 3};
    }
    java.util.Set<String> wanted = new java.util.LinkedHashSet<>(outputs.stream().map(Output::name).toList());
    try (OnnxTensor t = Tensors.floats(b.flip(), shape);
         OrtSession.Result r = graph.run(Map.of(input, t), wanted, runOptions)) {
      List<FeatureGrid> out = new ArrayList<>();
      for (Output o : outputs) {
        Optional<OnnxValue> v = r.get(o.name());
        if (v.isEmpty() || !(v.get() instanceof OnnxTensor ot)) {
          throw new InferenceException(graph.file() + " produced no tensor '" + o.name() + "'");
        }
        try {
          out.add(FeatureGrid.of(Tensors.readFloats(ot), ot.getInfo().getShape(), o.layout()));
        } catch (IllegalArgumentException e) {
          throw new InferenceException(graph.file() + " output '" + o.name() + "' (" + o.key() + "): "
              + e.getMessage());
        }
      }
      return out;
    }
  }

  @Override
  public void close() {
    graph.close();
  }
}
