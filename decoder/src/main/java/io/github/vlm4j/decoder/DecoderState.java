package io.github.vlm4j.decoder;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxTensorLike;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.onnx.Tensors;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One request's decoder state: the KV cache and reusable scratch buffers. Positions are appended
 * either as embeddings (the prompt, with image features merged) or as single tokens (decode steps).
 *
 * <p>The KV cache never passes through Java: the {@code present.*} tensors of one run are fed as the
 * {@code past_key_values.*} of the next, and the previous run's result is closed once the next run
 * has returned. Logits are written by ONNX Runtime into a reusable direct buffer (a pinned output)
 * and only the last position's row is read. A decode step allocates no Java arrays.
 *
 * <p>Not thread-safe: one per request. {@link #terminate()} may be called from another thread to stop
 * a running graph. Owns native tensors; {@link #close()} frees them.
 */
public final class DecoderState implements AutoCloseable {
  private final CausalDecoder decoder;
  private final int vocab;
  private final int hidden;
  private final OrtSession.RunOptions runOptions;
  private OrtSession.Result kv;
  private KvSnapshot base;
  private int pastLength;
  private LongBuffer ones = fill(Tensors.directLongs(256), 1);
  private final LongBuffer stepToken = Tensors.directLongs(1);
  private final LongBuffer stepPosition = Tensors.directLongs(1);
  private FloatBuffer logitsF;
  private ShortBuffer logitsH;
  private final float[] lastRow;
  private OnnxTensor[] emptyPast;
  private boolean closed;

  DecoderState(CausalDecoder decoder) {
    this.decoder = decoder;
    this.vocab = decoder.config().vocabSize();
    this.hidden = decoder.config().hiddenSize();
    this.lastRow = new float[vocab];
    try {
      this.runOptions = new OrtSession.RunOptions();
    } catch (OrtException e) {
      throw new InferenceException("cannot create run options", e);
    }
  }

  private static LongBuffer fill(LongBuffer b, long v) {
    for (int i = 0; i < b.capacity(); i++) {
      b.put(i, v);
    }
    return b;
  }

  /** @return positions held in the KV cache */
  public int pastLength() {
    return pastLength;
  }

  /**
   * Continues from a shared prefix: the state's past is the snapshot's KV cache (not copied). Only
   * allowed on a fresh state.
   *
   * @param snapshot a snapshot of this decoder
   */
  public void startFrom(KvSnapshot snapshot) {
    checkOpen();
    if (kv != null || base != null || pastLength != 0) {
      throw new IllegalStateException("startFrom needs a fresh decoder state");
    }
    if (snapshot.decoder() != decoder) {
      throw new IllegalArgumentException("the snapshot belongs to another decoder");
    }
    snapshot.retain();
    base = snapshot;
    pastLength = snapshot.length();
  }

  /**
   * Turns the current KV cache into a shared read-only snapshot. This state keeps reading it and can
   * continue appending. The caller owns the returned reference and must close it.
   *
   * @param ids the token ids the cache holds (for callers that match prefixes)
   * @param lastLogits the logits after the last position
   * @return the snapshot
   */
  public KvSnapshot snapshot(int[] ids, float[] lastLogits) {
    checkOpen();
    if (kv == null) {
      throw new IllegalStateException("nothing to snapshot: append positions first");
    }
    if (ids.length != pastLength) {
      throw new IllegalArgumentException(ids.length + " ids for " + pastLength + " cached positions");
    }
    KvSnapshot snap = new KvSnapshot(kv, decoder, pastLength, ids, lastLogits);
    kv = null;
    if (base != null) {
      base.release();
    }
    snap.retain();
    base = snap;
    return snap;
  }

  /**
   * Like {@link #append(float[], int)} but returns the logits of every appended position (for
   * scoring candidate continuations).
   *
   * @param embeds {@code s * hidden} floats
   * @param s number of positions
   * @return {@code s * vocab} floats, a new array
   */
  public float[] appendAll(float[] embeds, int s) {
    append(embeds, s);
    int n = s * vocab;
    float[] out = new float[n];
    if (logitsH != null) {
      for (int i = 0; i < n; i++) {
        out[i] = Tensors.fromHalf(logitsH.get(i));
      }
    } else {
      logitsF.get(0, out, 0, n);
    }
    return out;
  }

  /** @return the run options of this state's graph runs (for the caller's own runs to share termination) */
  public OrtSession.RunOptions runOptions() {
    return runOptions;
  }

  /**
   * Appends positions given as embeddings (the prompt), e.g. token embeddings with image features
   * merged in.
   *
   * @param embeds {@code s * hidden} floats
   * @param s number of positions, > 0
   * @return the logits of the last position (float32, an internal array valid until the next call)
   */
  public float[] append(float[] embeds, int s) {
    checkOpen();
    if (s <= 0 || embeds.length != s * hidden) {
      throw new IllegalArgumentException("expected " + s + " x " + hidden + " embeddings, got " + embeds.length + " floats");
    }
    List<OnnxTensor> temps = new ArrayList<>();
    try {
      OnnxTensor e;
      if (decoder.embedsType() == OnnxJavaType.FLOAT16) {
        ShortBuffer b = Tensors.directShorts(embeds.length);
        for (float v : embeds) {
          b.put(Tensors.toHalf(v));
        }
        e = Tensors.halfs(b.flip(), 1, s, hidden);
      } else {
        FloatBuffer b = Tensors.directFloats(embeds.length);
        b.put(embeds).flip();
        e = Tensors.floats(b, 1, s, hidden);
      }
      temps.add(e);
      LongBuffer pos = Tensors.directLongs(s);
      for (int i = 0; i < s; i++) {
        pos.put(i, pastLength + i);
      }
      return run(e, pos, s, temps);
    } finally {
      temps.forEach(OnnxTensor::close);
    }
  }

  /**
   * Appends one token (a decode step): {@code embed_tokens} runs on it and its output is fed to the
   * decoder directly.
   *
   * @param token token id
   * @param embedder the model's token embedder
   * @return the logits of the new position (an internal array valid until the next call)
   */
  public float[] appendToken(int token, TokenEmbedder embedder) {
    checkOpen();
    List<OnnxTensor> temps = new ArrayList<>();
    stepToken.put(0, token);
    OnnxTensor ids = Tensors.longs(stepToken.duplicate(), 1, 1);
    temps.add(ids);
    try (OrtSession.Result er = embedder.run(ids, runOptions)) {
      OnnxValue out = er.get("inputs_embeds").orElseThrow(() -> new InferenceException("embed_tokens produced no inputs_embeds"));
      OnnxTensor e = (OnnxTensor) out;
      if (e.getInfo().type != decoder.embedsType()) {
        e = convert(e);
        temps.add(e);
      }
      stepPosition.put(0, pastLength);
      return run(e, stepPosition.duplicate(), 1, temps);
    } finally {
      temps.forEach(OnnxTensor::close);
    }
  }

  private OnnxTensor convert(OnnxTensor e) {
    float[] v = Tensors.readFloats(e);
    if (decoder.embedsType() == OnnxJavaType.FLOAT16) {
      ShortBuffer b = Tensors.directShorts(v.length);
      for (float x : v) {
        b.put(Tensors.toHalf(x));
      }
      return Tensors.halfs(b.flip(), 1, 1, hidden);
    }
    FloatBuffer b = Tensors.directFloats(v.length);
    b.put(v).flip();
    return Tensors.floats(b, 1, 1, hidden);
  }

  private float[] run(OnnxTensor embeds, LongBuffer positions, int s, List<OnnxTensor> temps) {
    int total = pastLength + s;
    if (total > ones.capacity()) {
      ones = fill(Tensors.directLongs(Math.max(total, ones.capacity() * 2)), 1);
    }
    Map<String, OnnxTensorLike> feeds = new HashMap<>();
    feeds.put("inputs_embeds", embeds);
    OnnxTensor mask = Tensors.longs(ones.duplicate().position(0).limit(total), 1, total);
    temps.add(mask);
    feeds.put("attention_mask", mask);
    if (decoder.takesPositionIds()) {
      OnnxTensor pos = Tensors.longs(positions, 1, s);
      temps.add(pos);
      feeds.put("position_ids", pos);
    }
    for (int i = 0; i < decoder.kvEntries(); i++) {
      OnnxTensor past = kv != null ? (OnnxTensor) kv.get(decoder.presentName(i)).orElseThrow()
          : base != null ? base.past(i) : emptyPast()[i];
      feeds.put(decoder.pastName(i), past);
    }
    OnnxTensor pinned = pinnedLogits(s);
    temps.add(pinned);
    OrtSession.Result r = decoder.graph().run(feeds, Map.of("logits", pinned), runOptions);
    if (kv != null) {
      kv.close();
    }
    if (base != null) {
      base.release();   // the new presents hold the whole sequence; the shared prefix is no longer read
      base = null;
    }
    kv = r;
    pastLength = total;
    int from = (s - 1) * vocab;
    if (logitsH != null) {
      for (int i = 0; i < vocab; i++) {
        lastRow[i] = Tensors.fromHalf(logitsH.get(from + i));
      }
    } else {
      logitsF.get(from, lastRow, 0, vocab);
    }
    return lastRow;
  }

  private OnnxTensor pinnedLogits(int s) {
    int n = Math.multiplyExact(s, vocab);
    if (decoder.logitsType() == OnnxJavaType.FLOAT16) {
      if (logitsH == null || logitsH.capacity() < n) {
        logitsH = Tensors.directShorts(n);
      }
      return Tensors.halfs(logitsH.duplicate().position(0).limit(n), 1, s, vocab);
    }
    if (logitsF == null || logitsF.capacity() < n) {
      logitsF = Tensors.directFloats(n);
    }
    return Tensors.floats(logitsF.duplicate().position(0).limit(n), 1, s, vocab);
  }

  private OnnxTensor[] emptyPast() {
    if (emptyPast == null) {
      var c = decoder.config();
      emptyPast = new OnnxTensor[decoder.kvEntries()];
      for (int i = 0; i < emptyPast.length; i++) {
        emptyPast[i] = Tensors.empty(decoder.kvType(), 1, c.numKvHeads(), 0, c.headDim());
      }
    }
    return emptyPast;
  }

  /** Asks a graph run in progress on another thread to stop (it then fails with ONNX Runtime's error). */
  public void terminate() {
    try {
      runOptions.setTerminate(true);
    } catch (OrtException e) {
      throw new InferenceException("cannot terminate the run", e);
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("this decoder state is closed");
    }
  }

  /** Frees the KV cache and scratch tensors. Idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (kv != null) {
      kv.close();
      kv = null;
    }
    if (base != null) {
      base.release();
      base = null;
    }
    if (emptyPast != null) {
      for (OnnxTensor t : emptyPast) {
        t.close();
      }
    }
    runOptions.close();
  }
}
