package io.github.vlm4j.decoder;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxTensorLike;
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
 * Runs several continuations of one cached prefix (e.g. the candidate labels of {@code classify})
 * as the rows of one decoder run instead of one run each: the prefix's KV cache is repeated once
 * per row by a native graph ({@link KvRows}), the continuations are right-padded to the longest
 * and the padding is masked. Rows are taken in groups of at most {@code maxRows} rows and {@code
 * maxTokens} positions (rows × (prefix + longest continuation)), which bounds the repeated cache.
 * Results equal one run per continuation up to float rounding.
 *
 * <p>Stateless and thread-safe; needs a decoder that takes {@code position_ids}.
 */
public final class PrefixBranches {
  private PrefixBranches() {}

  /**
   * Returns the logits of every position of every continuation.
   *
   * @param prefix the shared prefix (not consumed)
   * @param embeds per continuation, the embeddings of its {@code n >= 1} tokens ({@code n × hidden} floats)
   * @param maxRows most continuations per decoder run, >= 1
   * @param maxTokens most positions per run, counted as rows × (prefix + longest continuation)
   * @param runOptions for termination, may be null
   * @return per continuation, {@code n × vocab} logits
   * @throws IllegalArgumentException if the decoder lacks {@code position_ids} or an input is empty
   */
  public static List<float[]> logits(KvSnapshot prefix, List<float[]> embeds, int maxRows, long maxTokens,
      OrtSession.RunOptions runOptions) {
    CausalDecoder decoder = prefix.decoder();
    if (!decoder.takesPositionIds()) {
      throw new IllegalArgumentException(decoder.graph().file() + " takes no position_ids: it cannot run branches"
          + " as rows");
    }
    int hidden = decoder.config().hiddenSize();
    List<float[]> out = new ArrayList<>();
    int from = 0;
    while (from < embeds.size()) {
      int to = from;
      int longest = 0;
      while (to < embeds.size()) {
        int n = tokens(embeds.get(to), hidden);
        int l = Math.max(longest, n);
        if (to > from && (to - from + 1 > maxRows || (long) (to - from + 1) * (prefix.length() + l) > maxTokens)) {
          break;
        }
        longest = l;
        to++;
      }
      out.addAll(run(prefix, embeds.subList(from, to), longest, runOptions));
      from = to;
    }
    return out;
  }

  private static int tokens(float[] e, int hidden) {
    if (e.length == 0 || e.length % hidden != 0) {
      throw new IllegalArgumentException("a continuation needs n >= 1 positions of " + hidden + " floats, got "
          + e.length + " floats");
    }
    return e.length / hidden;
  }

  private static List<float[]> run(KvSnapshot prefix, List<float[]> rows, int s, OrtSession.RunOptions options) {
    CausalDecoder decoder = prefix.decoder();
    int hidden = decoder.config().hiddenSize();
    int vocab = decoder.config().vocabSize();
    int b = rows.size();
    int past = prefix.length();
    int total = past + s;
    FloatBuffer f = decoder.embedsType() == OnnxJavaType.FLOAT ? Tensors.directFloats(b * s * hidden) : null;
    ShortBuffer h = f == null ? Tensors.directShorts(b * s * hidden) : null;
    LongBuffer mask = Tensors.directLongs(b * total);
    LongBuffer positions = Tensors.directLongs(b * s);
    for (int r = 0; r < b; r++) {
      float[] e = rows.get(r);
      int n = e.length / hidden;
      for (int i = 0; i < s * hidden; i++) {
        float v = i < e.length ? e[i] : 0f;
        if (f != null) {
          f.put(v);
        } else {
          h.put(Tensors.toHalf(v));
        }
      }
      for (int t = 0; t < total; t++) {
        mask.put(t < past + n ? 1 : 0);
      }
      for (int j = 0; j < s; j++) {
        positions.put(past + prefix.positionDelta() + j);
      }
    }
    List<AutoCloseable> owners = new ArrayList<>();
    try (OnnxTensor embedsTensor = f != null ? Tensors.floats(f.flip(), b, s, hidden) : Tensors.halfs(h.flip(), b, s, hidden);
         OnnxTensor maskTensor = Tensors.longs(mask.flip(), b, total);
         OnnxTensor posTensor = decoder.positionsTensor(positions.flip(), b, s);
         OnnxTensor injected = decoder.injectedLayers() == 0 ? null : decoder.injectedZeros(b, s)) {
      Map<String, OnnxTensorLike> feeds = new HashMap<>();
      feeds.put("inputs_embeds", embedsTensor);
      feeds.put("attention_mask", maskTensor);
      feeds.put("position_ids", posTensor);
      if (injected != null) {
        feeds.put(CausalDecoder.INJECTED, injected);   // label tokens are text: nothing is added
      }
      for (int i = 0; i < decoder.kvEntries(); i++) {
        if (b == 1) {
          feeds.put(decoder.pastName(i), prefix.past(i));
        } else {
          OrtSession.Result repeated = decoder.kvRows().repeat(decoder.cacheEntry(i), prefix.past(i), b, options);
          owners.add(repeated);
          feeds.put(decoder.pastName(i), KvRows.out(repeated));
        }
      }
      float[] all;
      try (OrtSession.Result r = decoder.graph().run(feeds, Map.of(), options)) {
        all = Tensors.readFloats(r.get("logits").orElseThrow(() -> new InferenceException(
            decoder.graph().file() + " produced no logits")));
      }
      List<float[]> out = new ArrayList<>();
      for (int r = 0; r < b; r++) {
        int n = rows.get(r).length / hidden;
        float[] row = new float[n * vocab];
        System.arraycopy(all, r * s * vocab, row, 0, n * vocab);
        out.add(row);
      }
      return out;
    } finally {
      for (AutoCloseable c : owners) {
        try {
          c.close();
        } catch (Exception e) {
          // nothing more to free
        }
      }
    }
  }
}
