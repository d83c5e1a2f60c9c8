package io.github.vlm4j.decoder;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxTensorLike;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.onnx.OnnxGraph;
import io.github.vlm4j.core.onnx.Tensors;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.util.HashMap;
import java.util.Map;

/**
 * One request's decoder state: the KV cache and reusable scratch buffers. Positions are appended
 * either as embeddings (the prompt, with image features merged) or as single tokens (decode steps).
 *
 * <p>The KV cache never passes through Java: the {@code present.*} tensors of one run are fed as the
 * {@code past_key_values.*} of the next, and the previous run's result is closed once the next run
 * has returned. Logits are written by ONNX Runtime into direct buffers (pinned outputs) and only the
 * last position's row is read.
 *
 * <p>A prompt is prefilled in chunks of at most {@code prefillChunk} positions, so the logits
 * buffer of a prefill is bounded ({@code prefillChunk × vocab} floats, borrowed from the decoder's
 * pool for the duration of the call) whatever the prompt length. A decode step reuses its token,
 * position and logits tensors and its feed map; per step it creates only the attention-mask tensor
 * (its length grows) and ONNX Runtime's result wrappers.
 *
 * <p>Not thread-safe: one per request. {@link #terminate()} may be called from another thread to stop
 * a running graph. Owns native tensors; {@link #close()} frees them.
 */
public final class DecoderState implements AutoCloseable {
  /** Default longest chunk of prompt positions per decoder run. */
  public static final int DEFAULT_PREFILL_CHUNK = 256;

  private final CausalDecoder decoder;
  private final int vocab;
  private final int hidden;
  private final int prefillChunk;
  private final OrtSession.RunOptions runOptions;
  /** Created on first use; shares {@link #terminate()} with {@link #runOptions}. */
  private volatile OrtSession.RunOptions releasingRunOptions;
  private volatile boolean terminated;
  private final Map<String, OnnxTensorLike> feeds = new HashMap<>();
  private OrtSession.Result kv;
  private KvSnapshot base;
  private int pastLength;
  /** Position id of the next appended token minus {@link #pastLength} (0 unless a family's positions say otherwise). */
  private long positionDelta;
  private LongBuffer ones = fill(Tensors.directLongs(256), 1);
  private final LongBuffer stepToken = Tensors.directLongs(1);
  private final LongBuffer stepPosition;
  private final ByteBuffer stepLogits;
  private OnnxTensor stepTokenTensor;
  private OnnxTensor stepPositionTensor;
  private OnnxTensor stepLogitsTensor;
  /** Zeros for the injected-features input of decode steps (created on first use). */
  private OnnxTensor stepInjected;
  private Map<String, OnnxTensor> stepIdsFeed;
  private Map<String, OnnxTensor> stepPinned;
  private final float[] lastRow;
  private OnnxTensor[] emptyPast;
  private boolean closed;
  /** The cache went to another owner ({@link #moveCache()}): no more appends. */
  private boolean moved;

  DecoderState(CausalDecoder decoder, int prefillChunk) {
    if (prefillChunk < 1) {
      throw new IllegalArgumentException("prefillChunk must be >= 1, got " + prefillChunk);
    }
    this.decoder = decoder;
    this.vocab = decoder.config().vocabSize();
    this.hidden = decoder.config().hiddenSize();
    this.prefillChunk = prefillChunk;
    this.lastRow = new float[vocab];
    this.stepPosition = Tensors.directLongs(decoder.positionAxes());
    this.stepLogits = ByteBuffer.allocateDirect(vocab * decoder.logitsBytes()).order(ByteOrder.nativeOrder());
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

  CausalDecoder decoder() {
    return decoder;
  }

  /**
   * Returns the number of positions in the KV cache.
   *
   * @return positions held in the KV cache
   */
  public int pastLength() {
    return pastLength;
  }

  /**
   * Returns the prefill chunk size.
   *
   * @return the longest chunk of prompt positions fed to the decoder in one run
   */
  public int prefillChunk() {
    return prefillChunk;
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
    positionDelta = snapshot.positionDelta();
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
    KvSnapshot snap = new KvSnapshot(kv, decoder, pastLength, positionDelta, ids, lastLogits);
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
    float[] out = new float[Math.multiplyExact(s, vocab)];
    prefill(FloatBuffer.wrap(embeds), s, null, null, out);
    return out;
  }

  /**
   * Returns how far the next position id is from the cache length.
   *
   * @return {@code next position id - pastLength()}: 0 unless positions given to {@link
   *     #append(FloatBuffer, int, PromptPositions)} said otherwise
   */
  public long positionDelta() {
    return positionDelta;
  }

  /**
   * Returns the run options of this state.
   *
   * @return the run options of this state's graph runs (for the caller's own runs to share termination)
   */
  public OrtSession.RunOptions runOptions() {
    return runOptions;
  }

  /**
   * Run options for the caller's one-off graph runs with large activations, such as an image
   * encoder's: they share this state's {@link #terminate()} and also make ONNX Runtime return the
   * graph's free CPU arena memory to the system at the end of each run ({@link
   * OnnxGraph#newArenaReleasingRunOptions()}), which it would otherwise keep for the graph's
   * lifetime. Owned by this state (closed with it).
   *
   * @return run options, created on first use
   */
  public OrtSession.RunOptions releasingRunOptions() {
    checkOpen();
    OrtSession.RunOptions r = releasingRunOptions;
    if (r == null) {
      r = OnnxGraph.newArenaReleasingRunOptions();
      releasingRunOptions = r;
      if (terminated) {   // terminate() ran before the field was published
        setTerminate(r);
      }
    }
    return r;
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
    return append(FloatBuffer.wrap(embeds), s);
  }

  /**
   * Appends positions given as embeddings. A direct native-order buffer is fed to ONNX Runtime
   * without a copy (float32 decoders); any other buffer is copied chunk by chunk.
   *
   * @param embeds its {@code remaining()} elements are {@code s * hidden} floats; its position is not
   *     changed
   * @param s number of positions, > 0
   * @return the logits of the last position (float32, an internal array valid until the next call)
   */
  public float[] append(FloatBuffer embeds, int s) {
    prefill(embeds, s, null, null, null);
    return lastRow;
  }

  /**
   * Appends positions given as embeddings, at the position ids a model family computed for them
   * (e.g. M-RoPE ids, where an image's tokens share ids); later positions continue from {@link
   * PromptPositions#next()}.
   *
   * @param embeds its {@code remaining()} elements are {@code s * hidden} floats; its position is not
   *     changed
   * @param s number of positions, > 0
   * @param positions their position ids ({@code length == s}, as many axes as the graph takes), or
   *     null for {@code pastLength() + positionDelta() + i}
   * @return the logits of the last position (float32, an internal array valid until the next call)
   * @throws IllegalArgumentException if the positions do not fit the graph or {@code s}
   */
  public float[] append(FloatBuffer embeds, int s, PromptPositions positions) {
    prefill(embeds, s, positions, null, null);
    return lastRow;
  }

  /**
   * Appends positions given as embeddings, at the family's position ids, with the features the graph
   * adds after its first layers at these positions ({@link CausalDecoder#INJECTED}; zeros when null).
   *
   * @param embeds its {@code remaining()} elements are {@code s * hidden} floats; its position is not
   *     changed
   * @param s number of positions, > 0
   * @param positions their position ids, or null for {@code pastLength() + positionDelta() + i}
   * @param injected their injected features ({@code length == s}, as many layers as the graph takes),
   *     or null for zeros
   * @return the logits of the last position (float32, an internal array valid until the next call)
   * @throws IllegalArgumentException if the positions or features do not fit the graph or {@code s}
   */
  public float[] append(FloatBuffer embeds, int s, PromptPositions positions, InjectedFeatures injected) {
    prefill(embeds, s, positions, injected, null);
    return lastRow;
  }

  private void prefill(FloatBuffer embeds, int s, PromptPositions given, InjectedFeatures injected,
      float[] allLogits) {
    checkOpen();
    if (s <= 0 || embeds.remaining() != (long) s * hidden) {
      throw new IllegalArgumentException("expected " + s + " x " + hidden + " embeddings, got " + embeds.remaining()
          + " floats");
    }
    if (given != null && (given.length() != s || given.axes() != decoder.positionAxes()
        || !decoder.takesPositionIds())) {
      throw new IllegalArgumentException(given + " for " + s + " positions of " + decoder.graph().file()
          + (decoder.takesPositionIds() ? ", which takes " + decoder.positionAxes() + " position axes"
              : ", which takes no position_ids"));
    }
    int chunk = Math.min(prefillChunk, s);
    boolean zeroCopy = embeds.isDirect() && embeds.order() == ByteOrder.nativeOrder()
        && decoder.embedsType() == OnnxJavaType.FLOAT;
    Buffer scratch = zeroCopy ? null : decoder.embedsType() == OnnxJavaType.FLOAT16
        ? Tensors.directShorts(chunk * hidden) : Tensors.directFloats(chunk * hidden);
    ByteBuffer logits = decoder.borrowPrefillLogits(chunk * vocab);
    if (injected != null && (injected.length() != s || injected.layers() != decoder.injectedLayers()
        || injected.width() != hidden)) {
      throw new IllegalArgumentException(injected + " for " + s + " positions of " + decoder.graph().file()
          + ", which takes " + decoder.injectedLayers() + " injected layers");
    }
    Buffer injectedScratch = decoder.injectedLayers() == 0 ? null : decoder.injectedScratch(chunk);
    int axes = decoder.positionAxes();
    LongBuffer positions = Tensors.directLongs(chunk * (given != null ? axes : 1));
    try {
      for (int from = 0; from < s; from += chunk) {
        int n = Math.min(chunk, s - from);
        FloatBuffer part = embeds.duplicate();
        part.position(embeds.position() + from * hidden).limit(embeds.position() + (from + n) * hidden);
        OnnxTensor pos;
        if (given != null) {
          for (int a = 0; a < axes; a++) {
            for (int i = 0; i < n; i++) {
              positions.put(a * n + i, given.at(a, from + i));
            }
          }
          pos = axes == 1 ? Tensors.longs(positions.duplicate().position(0).limit(n), 1, n)
              : Tensors.longs(positions.duplicate().position(0).limit(axes * n), axes, 1, n);
        } else {
          for (int i = 0; i < n; i++) {
            positions.put(i, pastLength + positionDelta + i);
          }
          pos = decoder.positionsTensor(positions, 1, n);
        }
        try (OnnxTensor e = embedsTensor(part, scratch, n);
             OnnxTensor p = pos;
             OnnxTensor inj = injectedScratch == null ? null
                 : decoder.injectedTensor(injected, from, n, injectedScratch);
             OnnxTensor pinned = logitsTensor(logits, n)) {
          run(e, p, inj, pinned, n, logits);
        }
        if (allLogits != null) {
          decoder.readLogits(logits, 0, allLogits, from * vocab, n * vocab);
        }
      }
      if (given != null) {
        positionDelta = given.next() - pastLength;
      }
    } finally {
      decoder.returnPrefillLogits(logits);
    }
  }

  private OnnxTensor embedsTensor(FloatBuffer part, Buffer scratch, int n) {
    if (scratch == null) {
      return Tensors.floats(part.slice(), 1, n, hidden);
    }
    if (scratch instanceof ShortBuffer h) {
      h.clear();
      while (part.hasRemaining()) {
        h.put(Tensors.toHalf(part.get()));
      }
      return Tensors.halfs(h.flip(), 1, n, hidden);
    }
    FloatBuffer f = (FloatBuffer) scratch;
    f.clear();
    f.put(part).flip();
    return Tensors.floats(f, 1, n, hidden);
  }

  private OnnxTensor logitsTensor(ByteBuffer bytes, int n) {
    ByteBuffer b = bytes.duplicate().order(ByteOrder.nativeOrder());
    b.limit(n * vocab * decoder.logitsBytes());
    return decoder.logitsType() == OnnxJavaType.FLOAT16
        ? Tensors.halfs(b.asShortBuffer(), 1, n, vocab)
        : Tensors.floats(b.asFloatBuffer(), 1, n, vocab);
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
    if (stepTokenTensor == null) {
      stepTokenTensor = Tensors.longs(stepToken.duplicate(), 1, 1);
      stepPositionTensor = decoder.positionAxes() == 1 ? Tensors.longs(stepPosition.duplicate(), 1, 1)
          : Tensors.longs(stepPosition.duplicate(), decoder.positionAxes(), 1, 1);
      stepLogitsTensor = logitsTensor(stepLogits, 1);
      stepIdsFeed = Map.of("input_ids", stepTokenTensor);
    }
    stepToken.put(0, token);
    try (OrtSession.Result er = embedder.graph().run(stepIdsFeed, Map.of(), runOptions)) {
      OnnxTensor e = (OnnxTensor) er.get(0);
      OnnxTensor converted = e.getInfo().type != decoder.embedsType() ? convert(e) : null;
      try {
        for (int a = 0; a < decoder.positionAxes(); a++) {
          stepPosition.put(a, pastLength + positionDelta);
        }
        if (decoder.injectedLayers() > 0 && stepInjected == null) {
          stepInjected = decoder.injectedStepZeros(1);
        }
        run(converted != null ? converted : e, stepPositionTensor, stepInjected, stepLogitsTensor, 1, stepLogits);
      } finally {
        if (converted != null) {
          converted.close();
        }
      }
      return lastRow;
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

  private void run(OnnxTensor embeds, OnnxTensor positions, OnnxTensor injected, OnnxTensor pinned, int s,
      ByteBuffer logits) {
    int total = pastLength + s;
    if (total > ones.capacity()) {
      ones = fill(Tensors.directLongs(Math.max(total, ones.capacity() * 2)), 1);
    }
    try (OnnxTensor mask = Tensors.longs(ones.duplicate().position(0).limit(total), 1, total)) {
      feeds.put("inputs_embeds", embeds);
      feeds.put("attention_mask", mask);
      if (decoder.takesPositionIds()) {
        feeds.put("position_ids", positions);
      }
      if (injected != null) {
        feeds.put(CausalDecoder.INJECTED, injected);
      }
      for (int i = 0; i < decoder.kvEntries(); i++) {
        OnnxTensor past = kv != null ? (OnnxTensor) kv.get(decoder.presentName(i)).orElseThrow()
            : base != null ? base.past(i) : emptyPast()[i];
        feeds.put(decoder.pastName(i), past);
      }
      if (stepPinned == null || stepPinned.get("logits") != pinned) {
        stepPinned = Map.of("logits", pinned);
      }
      OrtSession.Result r;
      try {
        r = decoder.graph().run(feeds, stepPinned, runOptions);
      } finally {
        feeds.clear();   // holds no tensor between runs
      }
      if (kv != null) {
        kv.close();
      }
      if (base != null) {
        base.release();   // the new presents hold the whole sequence; the shared prefix is no longer read
        base = null;
      }
      kv = r;
      pastLength = total;
      decoder.readLogits(logits, (s - 1) * vocab, lastRow, 0, vocab);
    }
  }

  private OnnxTensor[] emptyPast() {
    if (emptyPast == null) {
      emptyPast = new OnnxTensor[decoder.kvEntries()];
      for (int i = 0; i < emptyPast.length; i++) {
        emptyPast[i] = decoder.startState(i);
      }
    }
    return emptyPast;
  }

  /**
   * A KV cache moved out of a state: the past tensor of each KV entry, the object that owns them
   * (closed by the new owner when it no longer reads them) and the number of positions.
   */
  record MovedCache(OnnxTensor[] past, AutoCloseable owner, int length, long positionDelta) {}

  /**
   * Hands this state's KV cache to a new owner (the batched decoder). The state holds no cache
   * afterwards and cannot append any more positions; it still has to be closed.
   *
   * @return the cache; the caller owns it
   */
  MovedCache moveCache() {
    checkOpen();
    if (kv == null && base == null) {
      throw new IllegalStateException("nothing to move: append positions first");
    }
    OnnxTensor[] past = new OnnxTensor[decoder.kvEntries()];
    AutoCloseable owner;
    if (kv != null) {
      OrtSession.Result r = kv;
      for (int i = 0; i < past.length; i++) {
        past[i] = (OnnxTensor) r.get(decoder.presentName(i)).orElseThrow();
      }
      owner = r::close;
      kv = null;
      if (base != null) {
        base.release();
        base = null;
      }
    } else {
      KvSnapshot b = base;
      for (int i = 0; i < past.length; i++) {
        past[i] = b.past(i);
      }
      owner = b::release;
      base = null;
    }
    moved = true;
    return new MovedCache(past, owner, pastLength, positionDelta);
  }

  /** Asks a graph run in progress on another thread to stop (it then fails with ONNX Runtime's error). */
  public void terminate() {
    terminated = true;
    setTerminate(runOptions);
    OrtSession.RunOptions r = releasingRunOptions;
    if (r != null) {
      setTerminate(r);
    }
  }

  private static void setTerminate(OrtSession.RunOptions r) {
    try {
      r.setTerminate(true);
    } catch (OrtException e) {
      throw new InferenceException("cannot terminate the run", e);
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("this decoder state is closed");
    }
    if (moved) {
      throw new IllegalStateException("this decoder state's cache was moved into a batch");
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
    if (stepInjected != null) {
      stepInjected.close();
    }
    if (stepTokenTensor != null) {
      stepTokenTensor.close();
      stepPositionTensor.close();
      stepLogitsTensor.close();
    }
    runOptions.close();
    if (releasingRunOptions != null) {
      releasingRunOptions.close();
    }
  }
}
