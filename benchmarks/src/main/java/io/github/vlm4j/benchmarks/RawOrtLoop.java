package io.github.vlm4j.benchmarks;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The ceiling for any Java wrapper: a minimal, hand-written ONNX Runtime loop over the three graphs
 * of an onnx-community Idefics3/SmolVLM folder (fp32), following best practice and nothing else —
 * direct native-order buffers, {@code present.*} fed back as {@code past_key_values.*} without
 * copies, the logits of a decode step written into one pinned buffer. No chat template, no
 * preprocessing, no validation: it takes prompt ids and pixel values made elsewhere.
 *
 * <p>Not thread-safe; owns its sessions (close it).
 */
public final class RawOrtLoop implements AutoCloseable {
  private final OrtEnvironment env = OrtEnvironment.getEnvironment();
  private final OrtSession vision;
  private final OrtSession embed;
  private final OrtSession decoder;
  private final int layers;
  private final int kvHeads;
  private final int headDim;
  private final int vocab;
  private final int hidden;
  private final java.util.Set<String> presents;

  /**
   * Timings and ids of one request.
   *
   * @param heapBytesPerStep Java heap allocated by the calling thread per decode step (mean over the
   *     steps after the first)
   */
  public record Run(int[] ids, double visionMs, double prefillMs, double ttftMs, double[] stepMs,
      double heapBytesPerStep) {}

  /**
   * @param folder onnx-community folder
   * @param dtype "fp32" or "q8" (the {@code _quantized} graphs)
   * @param threads intra-op threads (0 = ORT default)
   * @param text the decoder's dimensions
   * @return the loop; the caller closes it
   * @throws OrtException if a graph cannot be opened
   */
  static RawOrtLoop open(Path folder, String dtype, int threads, io.github.vlm4j.core.model.TextConfig text)
      throws OrtException {
    return new RawOrtLoop(folder, dtype.equals("fp32") ? "" : "_quantized", threads, text.numLayers(),
        text.numKvHeads(), text.headDim(), text.vocabSize(), text.hiddenSize());
  }

  /**
   * @param folder onnx-community folder
   * @param suffix graph file suffix: "" (fp32) or "_quantized" (int8), as transformers.js names them
   * @param threads intra-op threads (0 = ORT default)
   * @param layers decoder layers
   * @param kvHeads KV heads
   * @param headDim head size
   * @param vocab vocabulary size
   * @param hidden decoder width
   * @throws OrtException if a graph cannot be opened
   */
  public RawOrtLoop(Path folder, String suffix, int threads, int layers, int kvHeads, int headDim, int vocab, int hidden)
      throws OrtException {
    OrtSession.SessionOptions o = new OrtSession.SessionOptions();
    o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
    if (threads > 0) {
      o.setIntraOpNumThreads(threads);
    }
    o.addConfigEntry("session.intra_op.allow_spinning", "0");
    vision = env.createSession(folder.resolve("onnx/vision_encoder" + suffix + ".onnx").toString(), o);
    embed = env.createSession(folder.resolve("onnx/embed_tokens" + suffix + ".onnx").toString(), o);
    decoder = env.createSession(folder.resolve("onnx/decoder_model_merged" + suffix + ".onnx").toString(), o);
    this.presents = new java.util.LinkedHashSet<>();
    for (int l = 0; l < layers; l++) {
      presents.add("present." + l + ".key");
      presents.add("present." + l + ".value");
    }
    this.layers = layers;
    this.kvHeads = kvHeads;
    this.headDim = headDim;
    this.vocab = vocab;
    this.hidden = hidden;
  }

  private static FloatBuffer floats(int n) {
    return ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder()).asFloatBuffer();
  }

  private static LongBuffer longs(int n) {
    return ByteBuffer.allocateDirect(8 * n).order(ByteOrder.nativeOrder()).asLongBuffer();
  }

  /**
   * Greedy generation.
   *
   * @param promptIds prompt token ids (image tokens included)
   * @param imageTokenId id whose positions receive image features, in order
   * @param pixels {@code frames*3*h*w} floats per image, all images concatenated
   * @param frames frames per image
   * @param size frame height = width
   * @param maxNew tokens to generate
   * @param eos end-of-sequence ids
   * @return ids and timings
   * @throws OrtException on failure
   */
  public Run generate(int[] promptIds, int imageTokenId, List<float[]> pixels, int[] frames, int size, int maxNew,
      int[] eos) throws OrtException {
    long t0 = System.nanoTime();
    // vision: one run per image, features copied into one heap array for the scatter
    List<float[]> feats = new ArrayList<>();
    for (int k = 0; k < pixels.size(); k++) {
      FloatBuffer px = floats(pixels.get(k).length);
      px.put(pixels.get(k)).flip();
      ByteBuffer mask = ByteBuffer.allocateDirect(frames[k] * size * size).order(ByteOrder.nativeOrder());
      for (int i = 0; i < mask.capacity(); i++) {
        mask.put(i, (byte) 1);
      }
      try (OnnxTensor p = OnnxTensor.createTensor(env, px, new long[] {1, frames[k], 3, size, size});
          OnnxTensor m = OnnxTensor.createTensor(env, mask, new long[] {1, frames[k], size, size},
              ai.onnxruntime.OnnxJavaType.BOOL);
          OrtSession.Result r = vision.run(Map.of("pixel_values", p, "pixel_attention_mask", m))) {
        OnnxTensor f = (OnnxTensor) r.get(0);
        FloatBuffer fb = f.getFloatBuffer();
        float[] a = new float[fb.remaining()];
        fb.get(a);
        feats.add(a);
      }
    }
    long tVision = System.nanoTime();
    int s = promptIds.length;
    LongBuffer ids = longs(s);
    for (int id : promptIds) {
      ids.put(id);
    }
    ids.flip();
    FloatBuffer embeds = floats(s * hidden);
    try (OnnxTensor idT = OnnxTensor.createTensor(env, ids, new long[] {1, s});
        OrtSession.Result r = embed.run(Map.of("input_ids", idT))) {
      embeds.put(((OnnxTensor) r.get(0)).getFloatBuffer());
    }
    int image = 0;
    int offset = 0;
    for (int i = 0; i < s; i++) {
      if (promptIds[i] == imageTokenId) {
        float[] f = feats.get(image);
        embeds.put(i * hidden, f, offset, hidden);
        offset += hidden;
        if (offset == f.length) {
          image++;
          offset = 0;
        }
      }
    }
    embeds.rewind();
    LongBuffer ones = longs(s + maxNew);
    for (int i = 0; i < ones.capacity(); i++) {
      ones.put(i, 1);
    }
    LongBuffer pos = longs(s);
    for (int i = 0; i < s; i++) {
      pos.put(i, i);
    }
    Map<String, OnnxTensor> feeds = new HashMap<>();
    List<OnnxTensor> owned = new ArrayList<>();
    FloatBuffer empty = floats(0);
    for (int l = 0; l < layers; l++) {
      for (String kv : new String[] {"key", "value"}) {
        OnnxTensor t = OnnxTensor.createTensor(env, empty, new long[] {1, kvHeads, 0, headDim});
        owned.add(t);
        feeds.put("past_key_values." + l + "." + kv, t);
      }
    }
    OnnxTensor e = OnnxTensor.createTensor(env, embeds, new long[] {1, s, hidden});
    OnnxTensor am = OnnxTensor.createTensor(env, ones.duplicate().limit(s), new long[] {1, s});
    OnnxTensor pt = OnnxTensor.createTensor(env, pos, new long[] {1, s});
    feeds.put("inputs_embeds", e);
    feeds.put("attention_mask", am);
    feeds.put("position_ids", pt);
    FloatBuffer prefillLogits = floats(s * vocab);
    OnnxTensor pl = OnnxTensor.createTensor(env, prefillLogits, new long[] {1, s, vocab});
    OrtSession.Result kv = decoder.run(feeds, presents, Map.of("logits", pl));
    owned.forEach(OnnxTensor::close);
    e.close();
    am.close();
    pt.close();
    pl.close();
    int next = argmax(prefillLogits, (s - 1) * vocab);
    long tFirst = System.nanoTime();
    List<Integer> out = new ArrayList<>();
    out.add(next);
    // decode: one pinned logits buffer, presents fed back
    FloatBuffer stepLogits = floats(vocab);
    LongBuffer tok = longs(1);
    LongBuffer stepPos = longs(1);
    double[] stepMs = new double[maxNew];
    int steps = 0;
    long heapAtSecondStep = 0;
    for (int step = 1; step < maxNew && !contains(eos, next); step++) {
      long ts = System.nanoTime();
      if (step == 2) {
        heapAtSecondStep = Heap.allocatedBytes();
      }
      int total = s + step;
      tok.put(0, next);
      stepPos.put(0, total - 1);
      try (OnnxTensor idT = OnnxTensor.createTensor(env, tok, new long[] {1, 1});
          OrtSession.Result er = embed.run(Map.of("input_ids", idT))) {
        Map<String, OnnxValue> f = new HashMap<>();
        f.put("inputs_embeds", er.get(0));
        OnnxTensor m = OnnxTensor.createTensor(env, ones.duplicate().limit(total), new long[] {1, total});
        OnnxTensor p = OnnxTensor.createTensor(env, stepPos, new long[] {1, 1});
        OnnxTensor lg = OnnxTensor.createTensor(env, stepLogits, new long[] {1, 1, vocab});
        f.put("attention_mask", m);
        f.put("position_ids", p);
        for (int l = 0; l < layers; l++) {
          f.put("past_key_values." + l + ".key", kv.get("present." + l + ".key").orElseThrow());
          f.put("past_key_values." + l + ".value", kv.get("present." + l + ".value").orElseThrow());
        }
        @SuppressWarnings("unchecked")
        Map<String, OnnxTensor> feedsT = (Map<String, OnnxTensor>) (Map<String, ?>) f;
        OrtSession.Result r = decoder.run(feedsT, presents, Map.of("logits", lg));
        kv.close();
        kv = r;
        m.close();
        p.close();
        lg.close();
      }
      next = argmax(stepLogits, 0);
      out.add(next);
      stepMs[steps++] = (System.nanoTime() - ts) / 1e6;
    }
    double heapPerStep = steps > 1 ? (double) (Heap.allocatedBytes() - heapAtSecondStep) / (steps - 1) : Double.NaN;
    kv.close();
    return new Run(out.stream().mapToInt(Integer::intValue).toArray(), (tVision - t0) / 1e6,
        (tFirst - tVision) / 1e6, (tFirst - t0) / 1e6, java.util.Arrays.copyOf(stepMs, steps), heapPerStep);
  }

  private int argmax(FloatBuffer b, int from) {
    int best = 0;
    float v = Float.NEGATIVE_INFINITY;
    for (int i = 0; i < vocab; i++) {
      float x = b.get(from + i);
      if (x > v) {
        v = x;
        best = i;
      }
    }
    return best;
  }

  private static boolean contains(int[] a, int x) {
    for (int v : a) {
      if (v == x) {
        return true;
      }
    }
    return false;
  }

  @Override
  public void close() throws OrtException {
    vision.close();
    embed.close();
    decoder.close();
  }
}
