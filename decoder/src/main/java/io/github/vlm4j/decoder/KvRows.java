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
 * Moves cache rows between batches without passing them through Java: tiny ONNX graphs shipped in
 * the jar ({@code kv/*.onnx}, written by {@code decoder/tools/kv_graphs.py}) concatenate two caches
 * along the batch axis, keep some rows of a cache, and repeat one row. Keys and values ({@link
 * CacheEntry#growsWithSequence()}) are left-padded with zeros to the longer sequence when
 * concatenated, and lose the leading positions none of the kept rows uses when rows are kept;
 * fixed-size states (convolution states) only change along the batch axis. Each call returns ONNX
 * Runtime's result, which owns the new tensor.
 *
 * <p>Thread-safe; owns its six graphs (the state graphs are opened on first use).
 */
final class KvRows implements AutoCloseable {
  private final OnnxGraph[] kv;
  private final String suffix;
  /** concat, select, repeat for fixed-size states; opened on first use, guarded by {@code this}. */
  private OnnxGraph[] state;
  private boolean closed;

  private KvRows(OnnxGraph[] kv, String suffix) {
    this.kv = kv;
    this.suffix = suffix;
  }

  static KvRows open(OnnxJavaType kvType) throws ModelLoadException {
    String suffix = kvType == OnnxJavaType.FLOAT16 ? "_float16.onnx" : "_float32.onnx";
    return new KvRows(openAll("", suffix), suffix);
  }

  private static OnnxGraph[] openAll(String prefix, String suffix) throws ModelLoadException {
    SessionSettings one = SessionSettings.builder().intraOpThreads(1).build();
    String[] names = {"concat", "select", "repeat"};
    OnnxGraph[] out = new OnnxGraph[names.length];
    try {
      for (int i = 0; i < names.length; i++) {
        out[i] = OnnxGraph.openResource(KvRows.class, "kv/" + prefix + names[i] + suffix, one);
      }
      return out;
    } catch (ModelLoadException | RuntimeException e) {
      for (OnnxGraph g : out) {
        if (g != null) {
          g.close();
        }
      }
      throw e;
    }
  }

  private OnnxGraph[] graphs(CacheEntry entry) {
    if (entry.growsWithSequence()) {
      return kv;
    }
    synchronized (this) {
      if (closed) {
        throw new IllegalStateException("the KV row graphs are closed");
      }
      if (state == null) {
        try {
          state = openAll("state_", suffix);
        } catch (ModelLoadException e) {
          throw new InferenceException("cannot open vlm4j's state row graphs: " + e.getMessage(), e);
        }
      }
      return state;
    }
  }

  /**
   * The rows of {@code a}, then those of {@code b}: {@code [Ba+Bb, H, max(Ta, Tb), D]} for keys and
   * values (the shorter left-padded), {@code [Ba+Bb, C, L]} for states.
   */
  OrtSession.Result concat(CacheEntry entry, OnnxTensor a, OnnxTensor b, OrtSession.RunOptions options) {
    return graphs(entry)[0].run(Map.of("a", a, "b", b), Map.of(), options);
  }

  /** {@code x[rows, :, from:, :]} for keys and values, {@code x[rows]} for states. */
  OrtSession.Result select(CacheEntry entry, OnnxTensor x, int[] rows, int from, OrtSession.RunOptions options) {
    LongBuffer r = Tensors.directLongs(rows.length);
    for (int row : rows) {
      r.put(row);
    }
    LongBuffer f = Tensors.directLongs(1).put(0, from);
    try (OnnxTensor rt = Tensors.longs(r.flip(), rows.length);
         OnnxTensor ft = Tensors.longs(f, 1)) {
      return entry.growsWithSequence()
          ? kv[1].run(Map.of("x", x, "rows", rt, "from", ft), Map.of(), options)
          : graphs(entry)[1].run(Map.of("x", x, "rows", rt), Map.of(), options);
    }
  }

  /** {@code count} copies of the single row of {@code x}. */
  OrtSession.Result repeat(CacheEntry entry, OnnxTensor x, int count, OrtSession.RunOptions options) {
    try (OnnxTensor c = Tensors.longs(Tensors.directLongs(1).put(0, count), 1)) {
      return graphs(entry)[2].run(Map.of("x", x, "count", c), Map.of(), options);
    }
  }

  static OnnxTensor out(OrtSession.Result r) {
    return (OnnxTensor) r.get("out").orElseThrow(() -> new InferenceException("a KV row graph produced no output"));
  }

  @Override
  public synchronized void close() {
    closed = true;
    for (OnnxGraph g : kv) {
      g.close();
    }
    if (state != null) {
      for (OnnxGraph g : state) {
        g.close();
      }
    }
  }
}
