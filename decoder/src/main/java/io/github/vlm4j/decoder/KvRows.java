package io.github.vlm4j.decoder;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.onnx.OnnxGraph;
import io.github.vlm4j.core.onnx.SessionSettings;
import io.github.vlm4j.core.onnx.Tensors;
import java.nio.LongBuffer;
import java.util.Map;

/**
 * Moves KV-cache rows between batches without passing them through Java: three tiny ONNX graphs
 * shipped in the jar ({@code kv/*.onnx}, written by {@code decoder/tools/kv_graphs.py}) concatenate
 * two caches along the batch axis (left-padding the shorter one with zeros), keep some rows of a
 * cache (dropping leading positions none of them uses), and repeat one row. Each call returns ONNX
 * Runtime's result, which owns the new tensor.
 *
 * <p>Thread-safe; owns its three graphs.
 */
final class KvRows implements AutoCloseable {
  private final OnnxGraph concat;
  private final OnnxGraph select;
  private final OnnxGraph repeat;

  private KvRows(OnnxGraph concat, OnnxGraph select, OnnxGraph repeat) {
    this.concat = concat;
    this.select = select;
    this.repeat = repeat;
  }

  static KvRows open(OnnxJavaType kvType) throws ModelLoadException {
    String suffix = kvType == OnnxJavaType.FLOAT16 ? "_float16.onnx" : "_float32.onnx";
    SessionSettings one = SessionSettings.builder().intraOpThreads(1).build();
    OnnxGraph c = null;
    OnnxGraph s = null;
    try {
      c = OnnxGraph.openResource(KvRows.class, "kv/concat" + suffix, one);
      s = OnnxGraph.openResource(KvRows.class, "kv/select" + suffix, one);
      OnnxGraph r = OnnxGraph.openResource(KvRows.class, "kv/repeat" + suffix, one);
      return new KvRows(c, s, r);
    } catch (ModelLoadException | RuntimeException e) {
      if (c != null) {
        c.close();
      }
      if (s != null) {
        s.close();
      }
      throw e;
    }
  }

  /** {@code [Ba+Bb, H, max(Ta, Tb), D]}: the rows of {@code a}, then those of {@code b}, left-padded. */
  OrtSession.Result concat(OnnxTensor a, OnnxTensor b, OrtSession.RunOptions options) {
    return concat.run(Map.of("a", a, "b", b), Map.of(), options);
  }

  /** {@code x[rows, :, from:, :]}. */
  OrtSession.Result select(OnnxTensor x, int[] rows, int from, OrtSession.RunOptions options) {
    LongBuffer r = Tensors.directLongs(rows.length);
    for (int row : rows) {
      r.put(row);
    }
    LongBuffer f = Tensors.directLongs(1).put(0, from);
    try (OnnxTensor rt = Tensors.longs(r.flip(), rows.length);
         OnnxTensor ft = Tensors.longs(f, 1)) {
      return select.run(Map.of("x", x, "rows", rt, "from", ft), Map.of(), options);
    }
  }

  /** {@code count} copies of the single row of {@code x}. */
  OrtSession.Result repeat(OnnxTensor x, int count, OrtSession.RunOptions options) {
    try (OnnxTensor c = Tensors.longs(Tensors.directLongs(1).put(0, count), 1)) {
      return repeat.run(Map.of("x", x, "count", c), Map.of(), options);
    }
  }

  static OnnxTensor out(OrtSession.Result r) {
    return (OnnxTensor) r.get("out").orElseThrow(() -> new InferenceException("a KV row graph produced no output"));
  }

  @Override
  public void close() {
    concat.close();
    select.close();
    repeat.close();
  }
}
