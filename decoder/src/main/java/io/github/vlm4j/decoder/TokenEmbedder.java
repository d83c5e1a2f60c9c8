package io.github.vlm4j.decoder;

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
import java.nio.LongBuffer;
import java.util.Map;

/**
 * The {@code embed_tokens} graph: {@code input_ids [batch, seq]} (int64) to {@code inputs_embeds
 * [batch, seq, hidden]}. Thread-safe; owns its graph.
 */
public final class TokenEmbedder implements AutoCloseable {
  private final OnnxGraph graph;
  private final int hidden;
  private final OnnxJavaType outType;

  private TokenEmbedder(OnnxGraph graph, int hidden, OnnxJavaType outType) {
    this.graph = graph;
    this.hidden = hidden;
    this.outType = outType;
  }

  /**
   * Opens a token-embedding graph and checks its output width.
   *
   * @param folder model folder
   * @param file graph file, e.g. {@code onnx/embed_tokens.onnx}
   * @param settings session settings
   * @param hidden the decoder's hidden size
   * @return the embedder; the caller owns it
   * @throws ModelLoadException MISSING_FILE, RUNTIME or GRAPH_MISMATCH
   */
  public static TokenEmbedder open(ModelFolder folder, String file, SessionSettings settings, int hidden)
      throws ModelLoadException {
    OnnxGraph g = OnnxGraph.open(folder, file, settings);
    try {
      TensorSpec in = g.requireInput("input_ids");
      if (in.type() != OnnxJavaType.INT64 || in.rank() != 2) {
        throw g.mismatch("input " + in.describe() + " must be int64 [batch, sequence]");
      }
      if (g.inputs().size() != 1) {
        throw g.mismatch("must take only input_ids, declares " + g.inputs().values());
      }
      TensorSpec out = g.requireOutput("inputs_embeds");
      if (out.rank() != 3 || (out.dim(2) >= 0 && out.dim(2) != hidden)) {
        throw g.mismatch("output " + out.describe() + " must be [batch, sequence, " + hidden
            + "] (text_config.hidden_size)");
      }
      if (out.type() != OnnxJavaType.FLOAT && out.type() != OnnxJavaType.FLOAT16) {
        throw g.mismatch("output " + out.describe() + " must be float or float16");
      }
      return new TokenEmbedder(g, hidden, out.type());
    } catch (ModelLoadException | RuntimeException e) {
      g.close();
      throw e;
    }
  }

  /**
   * Returns the embedding graph.
   *
   * @return the graph
   */
  public OnnxGraph graph() {
    return graph;
  }

  /**
   * Returns the element type of the embeddings.
   *
   * @return the output element type
   */
  public OnnxJavaType outputType() {
    return outType;
  }

  /**
   * Returns the width of the embeddings.
   *
   * @return the hidden size
   */
  public int hidden() {
    return hidden;
  }

  /**
   * Embeds a sequence and copies the result out (for merging image features).
   *
   * @param ids token ids
   * @param runOptions for termination, may be null
   * @return {@code ids.length * hidden} floats
   */
  public float[] embed(int[] ids, OrtSession.RunOptions runOptions) {
    LongBuffer b = Tensors.directLongs(ids.length);
    for (int id : ids) {
      b.put(id);
    }
    b.flip();
    try (OnnxTensor t = Tensors.longs(b, 1, ids.length);
         OrtSession.Result r = graph.run(Map.of("input_ids", t), Map.of(), runOptions)) {
      float[] out = Tensors.readFloats(r.get("inputs_embeds")
          .orElseThrow(() -> new InferenceException(graph.file() + " produced no inputs_embeds")));
      if (out.length != ids.length * hidden) {
        throw new InferenceException(graph.file() + " produced " + out.length + " values for " + ids.length
            + " tokens of width " + hidden);
      }
      return out;
    }
  }

  /**
   * Embeds ids already in a tensor and returns ONNX Runtime's result, whose {@code inputs_embeds}
   * can be fed to the decoder without a copy. The caller owns the result.
   *
   * @param inputIds int64 tensor {@code [1, n]}
   * @param runOptions for termination, may be null
   * @return the result holding {@code inputs_embeds}
   */
  public OrtSession.Result run(OnnxTensor inputIds, OrtSession.RunOptions runOptions) {
    return graph.run(Map.of("input_ids", inputIds), Map.of(), runOptions);
  }

  @Override
  public void close() {
    graph.close();
  }
}
