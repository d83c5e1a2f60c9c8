package io.github.vlm4j.projector;

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
import io.github.vlm4j.vision.ImageFeatures;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * A projector or a gated cross-modal adapter held in its own ONNX graph: input {@code
 * image_features} (the vision encoder's output), optionally {@code query_embeds} ({@code [1,
 * query_length, hidden]}, the text query's token embeddings, which makes it a gated adapter), and
 * one output in the decoder's width.
 *
 * <p>Thread-safe; owns its graph.
 */
public final class OnnxProjector implements ImageProjector, AutoCloseable {
  /** Input name for the vision features. */
  public static final String FEATURES = "image_features";
  /** Input name for the text query of a gated adapter. */
  public static final String QUERY = "query_embeds";

  private final String name;
  private final OnnxGraph graph;
  private final TensorSpec features;
  private final boolean query;
  private final String output;
  private final int width;

  private OnnxProjector(String name, OnnxGraph graph, TensorSpec features, boolean query, String output, int width) {
    this.name = name;
    this.graph = graph;
    this.features = features;
    this.query = query;
    this.output = output;
    this.width = width;
  }

  /**
   * Opens and validates a projector or adapter graph.
   *
   * @param folder model folder
   * @param file graph file
   * @param name name for messages (e.g. {@code projector} or the adapter's name)
   * @param settings session settings
   * @param featureSpec the vision encoder's output, whose static dims the input must accept
   * @param hidden the decoder's hidden size, which the output width must equal
   * @return the projector; the caller owns it
   * @throws ModelLoadException MISSING_FILE, RUNTIME or GRAPH_MISMATCH (naming both widths)
   */
  public static OnnxProjector open(ModelFolder folder, String file, String name, SessionSettings settings,
      TensorSpec featureSpec, int hidden) throws ModelLoadException {
    OnnxGraph g = OnnxGraph.open(folder, file, settings);
    try {
      TensorSpec f = g.requireInput(FEATURES);
      if (f.type() != OnnxJavaType.FLOAT) {
        throw g.mismatch("input " + f.describe() + " must be float");
      }
      if (f.rank() != featureSpec.rank()) {
        throw g.mismatch("input " + f.describe() + " has rank " + f.rank() + " but the vision encoder outputs "
            + featureSpec.describe() + "; is '" + name + "' made for this vision encoder?");
      }
      for (int i = 0; i < f.rank(); i++) {
        if (f.dim(i) >= 0 && featureSpec.dim(i) >= 0 && f.dim(i) != featureSpec.dim(i)) {
          throw g.mismatch("input " + f.describe() + " does not accept the vision encoder's output "
              + featureSpec.describe() + " (dimension " + i + "); is '" + name + "' made for this vision encoder?");
        }
      }
      boolean q = g.input(QUERY).isPresent();
      if (q) {
        TensorSpec qs = g.input(QUERY).get();
        if (qs.type() != OnnxJavaType.FLOAT || qs.rank() != 3 || (qs.dim(2) >= 0 && qs.dim(2) != hidden)) {
          throw g.mismatch("input " + qs.describe() + " must be float [1, query_length, " + hidden + "]");
        }
      }
      for (String in : g.inputs().keySet()) {
        if (!in.equals(FEATURES) && !in.equals(QUERY)) {
          throw g.mismatch("declares input '" + in + "'; a projector takes only " + FEATURES + " and " + QUERY);
        }
      }
      if (g.outputs().size() != 1) {
        throw g.mismatch("must have exactly one output, has " + g.outputs().values());
      }
      TensorSpec out = g.outputs().values().iterator().next();
      long w = out.dim(out.rank() - 1);
      if (w >= 0 && w != hidden) {
        throw g.mismatch("outputs " + out.describe() + " of width " + w + " but the decoder's hidden size is "
            + hidden + " (text_config.hidden_size); '" + name + "' was probably trained for another language model");
      }
      return new OnnxProjector(name, g, f, q, out.name(), hidden);
    } catch (ModelLoadException | RuntimeException e) {
      g.close();
      throw e;
    }
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public boolean usesQuery() {
    return query;
  }

  /**
   * Returns the projector graph's file name.
   *
   * @return the graph file
   */
  public String file() {
    return graph.file();
  }

  @Override
  public ImageEmbeddings project(ImageFeatures in, QueryEmbeddings q, OrtSession.RunOptions runOptions) {
    Map<String, OnnxTensor> feeds = new HashMap<>();
    try {
      FloatBuffer fb = Tensors.directFloats(in.data().length);
      fb.put(in.data()).flip();
      feeds.put(FEATURES, Tensors.floats(fb, in.shape()));
      if (query) {
        QueryEmbeddings qq = q == null ? new QueryEmbeddings(new float[0], 0, width) : q;
        FloatBuffer qb = Tensors.directFloats(qq.data().length);
        qb.put(qq.data()).flip();
        feeds.put(QUERY, Tensors.floats(qb, 1, qq.tokens(), qq.width()));
      }
      try (OrtSession.Result r = graph.run(feeds, Map.of(), runOptions)) {
        OnnxValue v = r.get(output).orElseThrow(() -> new InferenceException(graph.file() + " produced no " + output));
        float[] data = Tensors.readFloats(v);
        long[] shape = ((OnnxTensor) v).getInfo().getShape();
        int wOut = (int) shape[shape.length - 1];
        if (wOut != width) {
          throw new InferenceException(graph.file() + " produced width " + wOut + " (shape " + Arrays.toString(shape)
              + "), the decoder needs " + width);
        }
        return new ImageEmbeddings(data, data.length / width, width);
      }
    } finally {
      feeds.values().forEach(OnnxTensor::close);
    }
  }

  /**
   * Describes this projector for listings.
   *
   * @return its name, graph file and inputs (with {@code + query_embeds} if it takes the query)
   */
  public String describe() {
    return name + " (" + graph.file() + ", " + features.describe() + (query ? " + " + QUERY : "") + ")";
  }

  @Override
  public void close() {
    graph.close();
  }
}
