package io.github.vlm4j.decoder;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxTensorLike;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.onnx.Tensors;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.util.HashMap;
import java.util.Map;

/**
 * One request's state of a {@link Seq2SeqDecoder}: the encoder's output and the decoder's caches.
 * {@link #start} runs the encoder once and the decoder's first step (which computes the
 * cross-attention keys and values of every layer); {@link #appendToken} runs one decoder step on the
 * cached branch.
 *
 * <p>No cache passes through Java: the self-attention presents of one step are the next step's past
 * (the previous step's result is closed once the next has returned), and the first step's
 * cross-attention presents are fed to every later step (that result is kept until {@link #close()}).
 *
 * <p>A decoder step's token id, embedding and logits live in direct buffers of this state, each
 * wrapped once in a tensor: {@code embed_tokens} writes the embedding straight into the decoder's
 * {@code inputs_embeds} tensor and the decoder writes its {@code [1, 1, vocab]} logits into this
 * state's logits tensor (pinned outputs); that one row is read once, into the returned array. The
 * feeds of the cached branch (encoder output, encoder mask, branch switch, cross-attention pasts,
 * embedding tensor) are put into one map after the first step; a step replaces only the
 * self-attention pasts. So per step this state allocates no buffer and creates no tensor; ONNX Runtime
 * creates the new presents and the result wrappers. (An embedder whose output type differs from the
 * decoder's input type runs unpinned and its output is converted into the same embedding buffer.)
 *
 * <p>Ownership: the encoder's result, the first step's result and the latest step's result are owned
 * by this state; the feed map only borrows their tensors. The token, embedding, logits, encoder-mask
 * and branch tensors are owned by this state. {@link #close()} frees all of them; it is idempotent.
 *
 * <p>A state may hold several sequences of equal encoder length that step together ({@link
 * Seq2SeqDecoder#newState(int)}: batch rows, e.g. one task on several images): {@link #start} encodes
 * all rows at once and {@link #appendTokens} runs one decoder step for every row. All rows have the
 * same decoded length, so the graph's positions (taken from the cache length) are right for each.
 *
 * <p>Not thread-safe: one per request (or batch). {@link #terminate()} may be called from another thread.
 */
public final class Seq2SeqState implements AutoCloseable {
  private static final String EMBEDS = "inputs_embeds";
  private static final String LOGITS = "logits";

  private final Seq2SeqDecoder model;
  private final int rows;
  private final int vocab;
  private final int hidden;
  private final OrtSession.RunOptions runOptions;
  /** The cached branch's feeds: built once by {@link #start}; per step only the self-attention pasts change. */
  private final Map<String, OnnxTensorLike> feeds = new HashMap<>();
  /** {@code past_key_values.{i}.decoder.key/value}, in the order of {@link #selfPresent}. */
  private final String[] selfPast;
  private final String[] selfPresent;
  private final float[] lastRow;
  private final LongBuffer stepToken;
  /** One position's embedding in the decoder's input type (native order). */
  private final ByteBuffer stepEmbeds;
  /** One position's logits in the decoder's logits type (native order). */
  private final ByteBuffer stepLogits;
  private final FloatBuffer stepLogitsFloats;
  private OnnxTensor stepTokenTensor;
  private OnnxTensor stepEmbedsTensor;
  private OnnxTensor stepLogitsTensor;
  private Map<String, OnnxTensor> idsFeed;
  private Map<String, OnnxTensor> embedsPinned;
  private Map<String, OnnxTensor> logitsPinned;
  private OrtSession.Result encoded;
  private OnnxTensor encoderMask;
  private OrtSession.Result first;
  private OrtSession.Result kv;
  private OnnxTensor branchTrue;
  private int decoded;
  private boolean closed;

  Seq2SeqState(Seq2SeqDecoder model, int rows) {
    if (rows < 1) {
      throw new IllegalArgumentException("a state needs at least one row, got " + rows);
    }
    this.model = model;
    this.rows = rows;
    int layers = model.config().numLayers();
    this.vocab = model.config().vocabSize();
    this.hidden = model.config().hiddenSize();
    this.lastRow = new float[rows * vocab];
    this.selfPast = new String[2 * layers];
    this.selfPresent = new String[2 * layers];
    for (int i = 0; i < layers; i++) {
      for (int k = 0; k < 2; k++) {
        String suffix = i + ".decoder." + (k == 0 ? "key" : "value");
        selfPast[2 * i + k] = "past_key_values." + suffix;
        selfPresent[2 * i + k] = "present." + suffix;
      }
    }
    this.stepToken = Tensors.directLongs(rows);
    this.stepEmbeds = ByteBuffer.allocateDirect(rows * hidden * bytes(model.embedsType())).order(ByteOrder.nativeOrder());
    this.stepLogits = ByteBuffer.allocateDirect(rows * vocab * bytes(model.logitsType())).order(ByteOrder.nativeOrder());
    this.stepLogitsFloats = model.logitsType() == OnnxJavaType.FLOAT ? stepLogits.asFloatBuffer() : null;
    try {
      this.runOptions = new OrtSession.RunOptions();
    } catch (OrtException e) {
      throw new InferenceException("cannot create run options", e);
    }
  }

  private static int bytes(OnnxJavaType type) {
    return type == OnnxJavaType.FLOAT16 ? 2 : 4;
  }

  /**
   * Returns the run options of this state.
   *
   * @return the run options of this state's runs (for the caller's own graph runs to share {@link
   *     #terminate()})
   */
  public OrtSession.RunOptions runOptions() {
    return runOptions;
  }

  /**
   * Returns how many decoder positions are cached.
   *
   * @return decoder positions run so far (the start token included)
   */
  public int decodedLength() {
    return decoded;
  }

  /**
   * Encodes the input and runs the decoder's first step on {@code startToken}. A direct native-order
   * buffer is fed to a float32 encoder without a copy; any other is copied.
   *
   * @param embeds the encoder's input, {@code rows × s × hidden} floats, row after row (image features
   *     and token embeddings as the family concatenates them); its position is not changed
   * @param s encoder positions of each row, > 0
   * @param startToken the decoder's first token ({@code decoder_start_token_id}), for every row
   * @param embedder the model's token embedder
   * @return the logits after the start token, {@code rows × vocab} (an internal array valid until the
   *     next call)
   * @throws IllegalStateException if the state was started already (also after a failed start)
   * @throws InferenceException if ONNX Runtime fails
   */
  public float[] start(FloatBuffer embeds, int s, int startToken, TokenEmbedder embedder) {
    checkOpen();
    if (encoderMask != null) {
      throw new IllegalStateException("start needs a fresh state");
    }
    if (s <= 0 || embeds.remaining() != (long) rows * s * hidden) {
      throw new IllegalArgumentException("expected " + rows + " x " + s + " x " + hidden + " embeddings, got "
          + embeds.remaining());
    }
    LongBuffer ones = Tensors.directLongs(rows * s);
    for (int i = 0; i < rows * s; i++) {
      ones.put(i, 1);
    }
    encoderMask = Tensors.longs(ones, rows, s);
    try (OnnxTensor in = embedsTensor(embeds.duplicate(), rows, s)) {
      encoded = model.encoder().run(Map.of(EMBEDS, in, "attention_mask", encoderMask), Map.of(), runOptions);
    }
    OnnxTensor encoderStates = (OnnxTensor) encoded.get(model.encoderOutput()).orElseThrow(
        () -> new InferenceException(model.encoder().file() + " produced no " + model.encoderOutput()));
    createStepTensors();
    int[] starts = new int[rows];
    java.util.Arrays.fill(starts, startToken);
    embedTokens(starts, embedder);
    Map<String, OnnxTensorLike> firstFeeds = new HashMap<>();
    firstFeeds.put(EMBEDS, stepEmbedsTensor);
    firstFeeds.put("encoder_hidden_states", encoderStates);
    firstFeeds.put("encoder_attention_mask", encoderMask);
    int layers = selfPast.length / 2;
    OnnxTensor[] empty = new OnnxTensor[4 * layers];
    OnnxTensor branchFalse = null;
    try {
      for (int i = 0; i < empty.length; i++) {
        empty[i] = model.emptyPast(rows);
        firstFeeds.put(pastName(i / 4, i % 4 < 2 ? "decoder" : "encoder", i % 2 == 0 ? "key" : "value"), empty[i]);
      }
      if (model.takesCacheBranch()) {
        branchFalse = bool(false);
        firstFeeds.put(Seq2SeqDecoder.USE_CACHE_BRANCH, branchFalse);
      }
      first = runDecoder(firstFeeds);
    } finally {
      for (OnnxTensor t : empty) {
        if (t != null) {
          t.close();
        }
      }
      if (branchFalse != null) {
        branchFalse.close();
      }
    }
    kv = first;
    feeds.putAll(firstFeeds);
    if (model.takesCacheBranch()) {
      branchTrue = bool(true);
      feeds.put(Seq2SeqDecoder.USE_CACHE_BRANCH, branchTrue);
    }
    for (int i = 0; i < layers; i++) {
      for (String kind : new String[] {"key", "value"}) {
        feeds.put(pastName(i, "encoder", kind), present(first, "present." + i + ".encoder." + kind));
      }
    }
    for (int i = 0; i < selfPast.length; i++) {
      feeds.remove(selfPast[i]);   // closed empties; each step puts the latest presents
    }
    return lastRow;
  }

  /**
   * Runs one decoder step on the cached branch (a generated token).
   *
   * @param token token id
   * @param embedder the model's token embedder
   * @return the logits of the new position (an internal array valid until the next call)
   * @throws IllegalStateException if {@link #start} has not run
   */
  public float[] appendToken(int token, TokenEmbedder embedder) {
    if (rows != 1) {
      throw new IllegalStateException("this state has " + rows + " rows: use appendTokens");
    }
    return appendTokens(new int[] {token}, embedder);
  }

  /**
   * Runs one decoder step on the cached branch for every row.
   *
   * @param tokens one token id per row
   * @param embedder the model's token embedder
   * @return the logits of the new positions, {@code rows × vocab} (an internal array valid until the
   *     next call)
   * @throws IllegalStateException if {@link #start} has not run
   * @throws IllegalArgumentException if there is not one token per row
   */
  public float[] appendTokens(int[] tokens, TokenEmbedder embedder) {
    checkOpen();
    if (first == null) {
      throw new IllegalStateException("start the state first");
    }
    if (tokens.length != rows) {
      throw new IllegalArgumentException("expected one token per row (" + rows + "), got " + tokens.length);
    }
    embedTokens(tokens, embedder);
    for (int i = 0; i < selfPast.length; i++) {
      feeds.put(selfPast[i], present(kv, selfPresent[i]));
    }
    OrtSession.Result r = runDecoder(feeds);
    if (kv != first) {
      kv.close();   // only now: the run that read its presents has returned
    }
    kv = r;
    return lastRow;
  }

  /**
   * Runs the decoder over {@code tokens} in one pass on the cached branch, continuing from the start
   * token's caches (as if they had been generated right after {@link #start}), without changing this
   * state: teacher forcing, for scoring whole answers. Tokens decoded so far with {@link #appendToken}
   * are not part of it. May be called any number of times, from this state's thread. Its tensors are
   * its own (created and closed in the call; its logits are not pinned: all rows are returned).
   *
   * @param tokens the answer's tokens, at least one
   * @param embedder the model's token embedder
   * @return {@code tokens.length × vocab} logits, row {@code i} after {@code tokens[0..i]} (a new array)
   * @throws IllegalStateException if {@link #start} has not run, or the state has several rows
   * @throws IllegalArgumentException if {@code tokens} is empty
   * @throws InferenceException if ONNX Runtime fails
   */
  public float[] continuationLogits(int[] tokens, TokenEmbedder embedder) {
    checkOpen();
    if (first == null) {
      throw new IllegalStateException("start the state first");
    }
    if (rows != 1) {
      throw new IllegalStateException("continuations are scored on a state of one row; this one has " + rows);
    }
    if (tokens.length == 0) {
      throw new IllegalArgumentException("a continuation needs at least one token");
    }
    float[] e = embedder.embed(tokens, runOptions);
    Map<String, OnnxTensorLike> in = new HashMap<>(feeds);   // the cached branch's static feeds
    try (OnnxTensor embeds = embedsTensor(FloatBuffer.wrap(e), 1, tokens.length)) {
      in.put(EMBEDS, embeds);
      for (int i = 0; i < selfPast.length; i++) {
        in.put(selfPast[i], present(first, selfPresent[i]));
      }
      try (OrtSession.Result r = model.decoder().run(in, Map.of(), runOptions)) {
        OnnxTensor logits = (OnnxTensor) r.get(LOGITS).orElseThrow(
            () -> new InferenceException(model.decoder().file() + " produced no logits"));
        float[] all = Tensors.readFloats(logits);
        if (all.length != (long) tokens.length * vocab) {
          throw new InferenceException(model.decoder().file() + " returned " + all.length + " logits for "
              + tokens.length + " tokens of a " + vocab + "-token vocabulary");
        }
        return all;
      }
    }
  }

  private void createStepTensors() {
    stepTokenTensor = Tensors.longs(stepToken.duplicate(), rows, 1);
    idsFeed = Map.of("input_ids", stepTokenTensor);
    stepEmbedsTensor = model.embedsType() == OnnxJavaType.FLOAT16
        ? Tensors.halfs(stepEmbeds.asShortBuffer(), rows, 1, hidden)
        : Tensors.floats(stepEmbeds.asFloatBuffer(), rows, 1, hidden);
    embedsPinned = Map.of(EMBEDS, stepEmbedsTensor);
    stepLogitsTensor = model.logitsType() == OnnxJavaType.FLOAT16
        ? Tensors.halfs(stepLogits.asShortBuffer(), rows, 1, vocab)
        : Tensors.floats(stepLogits.asFloatBuffer(), rows, 1, vocab);
    logitsPinned = Map.of(LOGITS, stepLogitsTensor);
  }

  /** Writes the tokens' embeddings (one per row) into {@link #stepEmbeds}. */
  private void embedTokens(int[] tokens, TokenEmbedder embedder) {
    for (int r = 0; r < rows; r++) {
      stepToken.put(r, tokens[r]);
    }
    if (embedder.outputType() == model.embedsType()) {
      embedder.graph().run(idsFeed, embedsPinned, runOptions).close();   // the result owns nothing else we read
      return;
    }
    try (OrtSession.Result er = embedder.graph().run(idsFeed, Map.of(), runOptions)) {
      float[] v = Tensors.readFloats(er.get(EMBEDS).orElseThrow(
          () -> new InferenceException(embedder.graph().file() + " produced no " + EMBEDS)));
      if (v.length != rows * hidden) {
        throw new InferenceException(embedder.graph().file() + " produced " + v.length + " values for " + rows
            + " tokens of width " + hidden);
      }
      boolean half = model.embedsType() == OnnxJavaType.FLOAT16;
      for (int i = 0; i < rows * hidden; i++) {
        if (half) {
          stepEmbeds.putShort(2 * i, Tensors.toHalf(v[i]));
        } else {
          stepEmbeds.putFloat(4 * i, v[i]);
        }
      }
    }
  }

  /** Runs the decoder with the logits pinned and reads them into {@link #lastRow}; the caller owns the result. */
  private OrtSession.Result runDecoder(Map<String, OnnxTensorLike> in) {
    OrtSession.Result r = model.decoder().run(in, logitsPinned, runOptions);
    if (model.logitsType() == OnnxJavaType.FLOAT16) {
      for (int i = 0; i < rows * vocab; i++) {
        lastRow[i] = Tensors.fromHalf(stepLogits.getShort(2 * i));
      }
    } else {
      stepLogitsFloats.get(0, lastRow, 0, rows * vocab);
    }
    decoded++;
    return r;
  }

  private OnnxTensor bool(boolean value) {
    ByteBuffer b = ByteBuffer.allocateDirect(1).order(ByteOrder.nativeOrder());
    b.put(0, (byte) (value ? 1 : 0));
    return Tensors.bools(b, 1);
  }

  private OnnxTensor embedsTensor(FloatBuffer part, int b, int s) {
    if (model.embedsType() == OnnxJavaType.FLOAT16) {
      ShortBuffer h = Tensors.directShorts(b * s * hidden);
      while (part.hasRemaining()) {
        h.put(Tensors.toHalf(part.get()));
      }
      return Tensors.halfs(h.flip(), b, s, hidden);
    }
    if (part.isDirect() && part.order() == ByteOrder.nativeOrder()) {
      return Tensors.floats(part.slice(), b, s, hidden);
    }
    FloatBuffer f = Tensors.directFloats(b * s * hidden);
    f.put(part).flip();
    return Tensors.floats(f, b, s, hidden);
  }

  private static String pastName(int layer, String part, String kind) {
    return "past_key_values." + layer + "." + part + "." + kind;
  }

  private OnnxTensor present(OrtSession.Result r, String name) {
    return (OnnxTensor) r.get(name).orElseThrow(() -> new InferenceException(model.decoder().file()
        + " produced no " + name));
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

  /** Frees the encoder output, the caches and the step tensors. Idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    feeds.clear();
    if (kv != null && kv != first) {
      kv.close();
    }
    if (first != null) {
      first.close();
    }
    if (encoded != null) {
      encoded.close();
    }
    for (OnnxTensor t : new OnnxTensor[] {encoderMask, branchTrue, stepTokenTensor, stepEmbedsTensor,
        stepLogitsTensor}) {
      if (t != null) {
        t.close();
      }
    }
    runOptions.close();
  }
}
