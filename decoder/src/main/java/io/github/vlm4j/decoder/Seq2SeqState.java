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
 * cached branch. No cache passes through Java: the self-attention presents of one step are the next
 * step's past (the previous step's result is closed once the next has returned), and the first
 * step's cross-attention presents are fed to every later step (that result is kept until {@link
 * #close()}).
 *
 * <p>Not thread-safe: one per request. {@link #terminate()} may be called from another thread.
 * Owns native tensors; {@link #close()} frees them.
 */
public final class Seq2SeqState implements AutoCloseable {
  private final Seq2SeqDecoder model;
  private final int layers;
  private final int vocab;
  private final int hidden;
  private final OrtSession.RunOptions runOptions;
  private final Map<String, OnnxTensorLike> feeds = new HashMap<>();
  private final float[] lastRow;
  private OrtSession.Result encoded;
  private OnnxTensor encoderMask;
  private OrtSession.Result first;
  private OrtSession.Result kv;
  private OnnxTensor branchFalse;
  private OnnxTensor branchTrue;
  private final LongBuffer stepToken = Tensors.directLongs(1);
  private OnnxTensor stepTokenTensor;
  private int decoded;
  private boolean closed;

  Seq2SeqState(Seq2SeqDecoder model) {
    this.model = model;
    this.layers = model.config().numLayers();
    this.vocab = model.config().vocabSize();
    this.hidden = model.config().hiddenSize();
    this.lastRow = new float[vocab];
    try {
      this.runOptions = new OrtSession.RunOptions();
    } catch (OrtException e) {
      throw new InferenceException("cannot create run options", e);
    }
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
   * Encodes the input and runs the decoder's first step on {@code startToken}.
   *
   * @param embeds the encoder's input, {@code s × hidden} floats (image features and token embeddings
   *     as the family concatenates them); its position is not changed
   * @param s encoder positions, > 0
   * @param startToken the decoder's first token ({@code decoder_start_token_id})
   * @param embedder the model's token embedder
   * @return the logits after the start token (an internal array valid until the next call)
   * @throws IllegalStateException if the state was started already
   * @throws InferenceException if ONNX Runtime fails
   */
  public float[] start(FloatBuffer embeds, int s, int startToken, TokenEmbedder embedder) {
    checkOpen();
    if (encoded != null) {
      throw new IllegalStateException("start needs a fresh state");
    }
    if (s <= 0 || embeds.remaining() != (long) s * hidden) {
      throw new IllegalArgumentException("expected " + s + " x " + hidden + " embeddings, got " + embeds.remaining());
    }
    LongBuffer ones = Tensors.directLongs(s);
    for (int i = 0; i < s; i++) {
      ones.put(i, 1);
    }
    encoderMask = Tensors.longs(ones, 1, s);
    try (OnnxTensor in = embedsTensor(embeds.duplicate(), s)) {
      encoded = model.encoder().run(Map.of("inputs_embeds", in, "attention_mask", encoderMask), Map.of(), runOptions);
    }
    OnnxTensor[] empty = new OnnxTensor[4 * layers];
    try {
      for (int i = 0; i < empty.length; i++) {
        empty[i] = model.emptyPast();
      }
      for (int i = 0; i < layers; i++) {
        feeds.put(pastName(i, "decoder", "key"), empty[4 * i]);
        feeds.put(pastName(i, "decoder", "value"), empty[4 * i + 1]);
        feeds.put(pastName(i, "encoder", "key"), empty[4 * i + 2]);
        feeds.put(pastName(i, "encoder", "value"), empty[4 * i + 3]);
      }
      first = step(startToken, embedder, false);
    } finally {
      for (OnnxTensor t : empty) {
        if (t != null) {
          t.close();
        }
      }
    }
    kv = first;
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
    checkOpen();
    if (first == null) {
      throw new IllegalStateException("start the state first");
    }
    for (int i = 0; i < layers; i++) {
      for (String kind : new String[] {"key", "value"}) {
        feeds.put(pastName(i, "decoder", kind), present(kv, i, "decoder", kind));
        feeds.put(pastName(i, "encoder", kind), present(first, i, "encoder", kind));
      }
    }
    OrtSession.Result r = step(token, embedder, true);
    if (kv != first) {
      kv.close();
    }
    kv = r;
    return lastRow;
  }

  private OrtSession.Result step(int token, TokenEmbedder embedder, boolean cached) {
    if (stepTokenTensor == null) {
      stepTokenTensor = Tensors.longs(stepToken.duplicate(), 1, 1);
    }
    stepToken.put(0, token);
    try (OrtSession.Result er = embedder.graph().run(Map.of("input_ids", stepTokenTensor), Map.of(), runOptions)) {
      OnnxTensor e = (OnnxTensor) er.get(0);
      OnnxTensor converted = e.getInfo().type != model.embedsType() ? convert(e) : null;
      try {
        feeds.put("inputs_embeds", converted != null ? converted : e);
        feeds.put("encoder_hidden_states", (OnnxTensor) encoded.get(model.encoderOutput()).orElseThrow());
        feeds.put("encoder_attention_mask", encoderMask);
        if (model.takesCacheBranch()) {
          feeds.put(Seq2SeqDecoder.USE_CACHE_BRANCH, cached ? branchTrue() : branchFalse());
        }
        OrtSession.Result r;
        try {
          r = model.decoder().run(feeds, Map.of(), runOptions);
        } finally {
          feeds.clear();
        }
        try {
          OnnxTensor logits = (OnnxTensor) r.get("logits").orElseThrow(
              () -> new InferenceException(model.decoder().file() + " produced no logits"));
          float[] all = Tensors.readFloats(logits);
          System.arraycopy(all, all.length - vocab, lastRow, 0, vocab);
        } catch (RuntimeException ex) {
          r.close();
          throw ex;
        }
        decoded++;
        return r;
      } finally {
        if (converted != null) {
          converted.close();
        }
      }
    }
  }

  /**
   * Runs the decoder over {@code tokens} in one pass on the cached branch, continuing from the start
   * token's caches (as if they had been generated right after {@link #start}), without changing this
   * state: teacher forcing, for scoring whole answers. Tokens decoded so far with {@link #appendToken}
   * are not part of it. May be called any number of times, from this state's thread.
   *
   * @param tokens the answer's tokens, at least one
   * @param embedder the model's token embedder
   * @return {@code tokens.length × vocab} logits, row {@code i} after {@code tokens[0..i]} (a new array)
   * @throws IllegalStateException if {@link #start} has not run
   * @throws IllegalArgumentException if {@code tokens} is empty
   * @throws InferenceException if ONNX Runtime fails
   */
  public float[] continuationLogits(int[] tokens, TokenEmbedder embedder) {
    checkOpen();
    if (first == null) {
      throw new IllegalStateException("start the state first");
    }
    if (tokens.length == 0) {
      throw new IllegalArgumentException("a continuation needs at least one token");
    }
    float[] e = embedder.embed(tokens, runOptions);
    Map<String, OnnxTensorLike> in = new HashMap<>();
    try (OnnxTensor embeds = embedsTensor(FloatBuffer.wrap(e), tokens.length)) {
      in.put("inputs_embeds", embeds);
      in.put("encoder_hidden_states", (OnnxTensor) encoded.get(model.encoderOutput()).orElseThrow());
      in.put("encoder_attention_mask", encoderMask);
      if (model.takesCacheBranch()) {
        in.put(Seq2SeqDecoder.USE_CACHE_BRANCH, branchTrue());
      }
      for (int i = 0; i < layers; i++) {
        for (String kind : new String[] {"key", "value"}) {
          in.put(pastName(i, "decoder", kind), present(first, i, "decoder", kind));
          in.put(pastName(i, "encoder", kind), present(first, i, "encoder", kind));
        }
      }
      try (OrtSession.Result r = model.decoder().run(in, Map.of(), runOptions)) {
        OnnxTensor logits = (OnnxTensor) r.get("logits").orElseThrow(
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

  private OnnxTensor branchFalse() {
    if (branchFalse == null) {
      branchFalse = Tensors.bools(ByteBuffer.allocateDirect(1).order(ByteOrder.nativeOrder()), 1);
    }
    return branchFalse;
  }

  private OnnxTensor branchTrue() {
    if (branchTrue == null) {
      ByteBuffer b = ByteBuffer.allocateDirect(1).order(ByteOrder.nativeOrder());
      b.put(0, (byte) 1);
      branchTrue = Tensors.bools(b, 1);
    }
    return branchTrue;
  }

  private OnnxTensor embedsTensor(FloatBuffer part, int s) {
    if (model.embedsType() == OnnxJavaType.FLOAT16) {
      ShortBuffer h = Tensors.directShorts(s * hidden);
      while (part.hasRemaining()) {
        h.put(Tensors.toHalf(part.get()));
      }
      return Tensors.halfs(h.flip(), 1, s, hidden);
    }
    FloatBuffer f = Tensors.directFloats(s * hidden);
    f.put(part).flip();
    return Tensors.floats(f, 1, s, hidden);
  }

  private OnnxTensor convert(OnnxTensor e) {
    float[] v = Tensors.readFloats(e);
    FloatBuffer f = Tensors.directFloats(v.length);
    f.put(v).flip();
    return embedsTensor(f, 1);
  }

  private static String pastName(int layer, String part, String kind) {
    return "past_key_values." + layer + "." + part + "." + kind;
  }

  private OnnxTensor present(OrtSession.Result r, int layer, String part, String kind) {
    String name = "present." + layer + "." + part + "." + kind;
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

  /** Frees the encoder output and the caches. Idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (kv != null && kv != first) {
      kv.close();
    }
    if (first != null) {
      first.close();
    }
    if (encoded != null) {
      encoded.close();
    }
    for (OnnxTensor t : new OnnxTensor[] {encoderMask, branchFalse, branchTrue, stepTokenTensor}) {
      if (t != null) {
        t.close();
      }
    }
    runOptions.close();
  }
}
