package io.github.vlm4j.benchmarks;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxTensorLike;
import ai.onnxruntime.OrtSession;
import io.github.vlm4j.core.model.ModelConfig;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.model.TextConfig;
import io.github.vlm4j.core.onnx.SessionSettings;
import io.github.vlm4j.core.onnx.Tensors;
import io.github.vlm4j.decoder.Seq2SeqDecoder;
import io.github.vlm4j.decoder.Seq2SeqState;
import io.github.vlm4j.decoder.TokenEmbedder;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Where a Florence-2 decode step's time goes: {@link Seq2SeqState#appendToken} against a bare ONNX
 * Runtime loop over the same two graphs ({@code embed_tokens} with its output pinned, then the merged
 * decoder on the cached branch, the presents fed back), interleaved per rep in one JVM, greedy
 * (argmax of the returned logits), fp32 graphs of a Florence-2 folder (e.g. {@code
 * benchmarks/florence.sh}'s, kept with {@code KEEP=1}). The encoder input is {@code POSITIONS}
 * random vectors (seed 1), so no vision run is needed. The bare loop times only its graph runs; it
 * also times two ways of getting the last logits row out of a step: {@code Tensors.readFloats} of
 * the whole logits tensor plus a copy of the row (what the decode step did before it pinned its
 * logits), and one bulk read of the row from a direct buffer (what it does now).
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.github.vlm4j.benchmarks.FlorenceStepProfile \
 *     FOLDER THREADS STEPS REPS [POSITIONS (589)]
 * }</pre>
 * Per rep and medians: wall ms per step, process CPU ms per step (all threads), bytes the calling
 * thread allocated on the heap per step ({@code ThreadMXBean}), and the two readouts in µs per step.
 */
public final class FlorenceStepProfile {
  private FlorenceStepProfile() {}

  /**
   * @param args see the class comment
   * @throws Exception on failure
   */
  public static void main(String[] args) throws Exception {
    if (args.length < 4) {
      throw new IllegalArgumentException("usage: FlorenceStepProfile FOLDER THREADS STEPS REPS [POSITIONS]");
    }
    ModelFolder folder = ModelFolder.of(Path.of(args[0]));
    int threads = Integer.parseInt(args[1]);
    int steps = Integer.parseInt(args[2]);
    int reps = Integer.parseInt(args[3]);
    int positions = args.length > 4 ? Integer.parseInt(args[4]) : 589;
    TextConfig text = ModelConfig.read(folder).textConfig();
    SessionSettings settings = SessionSettings.builder().intraOpThreads(threads).allowSpinning(false).build();
    FloatBuffer input = Tensors.directFloats(positions * text.hiddenSize());
    Random r = new Random(1);
    while (input.hasRemaining()) {
      input.put((float) r.nextGaussian());
    }
    input.flip();
    try (TokenEmbedder embedder = TokenEmbedder.open(folder, "onnx/embed_tokens.onnx", settings, text.hiddenSize());
         Seq2SeqDecoder model = Seq2SeqDecoder.open(folder, "onnx/encoder_model.onnx",
             "onnx/decoder_model_merged.onnx", settings, text)) {
      Probe p = new Probe();
      List<double[]> state = new ArrayList<>();
      List<double[]> bare = new ArrayList<>();
      for (int rep = 0; rep < reps; rep++) {
        state.add(stateLoop(model, embedder, input, positions, steps, p));
        bare.add(bareLoop(model, embedder, text, input, positions, steps, p));
        print("rep " + rep, state.get(rep), bare.get(rep));
      }
      print("median of " + reps, median(state), median(bare));
    }
  }

  /** Process CPU and the calling thread's heap allocation. */
  private static final class Probe {
    final com.sun.management.OperatingSystemMXBean os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    final com.sun.management.ThreadMXBean th = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    long heap() {
      return th.getThreadAllocatedBytes(Thread.currentThread().getId());
    }
  }

  /** {wall ms, cpu ms, heap bytes} per step of appendToken, over steps 2..STEPS. */
  private static double[] stateLoop(Seq2SeqDecoder model, TokenEmbedder embedder, FloatBuffer input, int n,
      int steps, Probe p) {
    try (Seq2SeqState st = model.newState()) {
      int token = argmax(st.start(input, n, 2, embedder));
      token = argmax(st.appendToken(token, embedder));
      long t0 = System.nanoTime();
      long c0 = p.os.getProcessCpuTime();
      long h0 = p.heap();
      for (int i = 1; i < steps; i++) {
        token = argmax(st.appendToken(token, embedder));
      }
      long h1 = p.heap();
      long c1 = p.os.getProcessCpuTime();
      long t1 = System.nanoTime();
      int k = steps - 1;
      return new double[] {(t1 - t0) / 1e6 / k, (c1 - c0) / 1e6 / k, (double) (h1 - h0) / k};
    }
  }

  /**
   * {graph ms, -, -, readFloats µs, direct-row µs} per step of a bare loop: only the runs are timed
   * (the embedder's and the decoder's); the readouts are timed on the same logits after each run.
   */
  private static double[] bareLoop(Seq2SeqDecoder model, TokenEmbedder embedder, TextConfig text,
      FloatBuffer input, int n, int steps, Probe p) {
    int h = text.hiddenSize();
    int layers = text.numLayers();
    LongBuffer ones = Tensors.directLongs(n);
    for (int i = 0; i < n; i++) {
      ones.put(i, 1);
    }
    ByteBuffer yes = ByteBuffer.allocateDirect(1).order(ByteOrder.nativeOrder()).put(0, (byte) 1);
    ByteBuffer no = ByteBuffer.allocateDirect(1).order(ByteOrder.nativeOrder());
    LongBuffer id = Tensors.directLongs(1);
    float[] row = new float[text.vocabSize()];
    ByteBuffer direct = ByteBuffer.allocateDirect(4 * row.length).order(ByteOrder.nativeOrder());
    FloatBuffer directFloats = direct.asFloatBuffer();
    List<OnnxTensor> empties = new ArrayList<>();
    try (OnnxTensor mask = Tensors.longs(ones, 1, n);
         OnnxTensor x = Tensors.floats(input.duplicate(), 1, n, h);
         OnnxTensor cached = Tensors.bools(yes, 1);
         OnnxTensor uncached = Tensors.bools(no, 1);
         OnnxTensor ids = Tensors.longs(id, 1, 1);
         OnnxTensor embeds = Tensors.floats(Tensors.directFloats(h), 1, 1, h);
         OrtSession.Result enc = model.encoder().run(Map.of("inputs_embeds", x, "attention_mask", mask), Map.of(), null)) {
      Map<String, OnnxTensor> idsFeed = Map.of("input_ids", ids);
      Map<String, OnnxTensor> pinned = Map.of("inputs_embeds", embeds);
      Map<String, OnnxTensorLike> f = new HashMap<>();
      f.put("inputs_embeds", embeds);
      f.put("encoder_hidden_states", (OnnxTensor) enc.get(0));
      f.put("encoder_attention_mask", mask);
      f.put(Seq2SeqDecoder.USE_CACHE_BRANCH, uncached);
      for (int i = 0; i < layers; i++) {
        for (String part : new String[] {"decoder", "encoder"}) {
          for (String kind : new String[] {"key", "value"}) {
            OnnxTensor e = Tensors.empty(OnnxJavaType.FLOAT, 1, text.numKvHeads(), 0, text.headDim());
            empties.add(e);
            f.put("past_key_values." + i + "." + part + "." + kind, e);
          }
        }
      }
      id.put(0, 2);
      embedder.graph().run(idsFeed, pinned, null).close();
      OrtSession.Result first = model.decoder().run(f, Map.of(), null);
      OrtSession.Result kv = first;
      f.put(Seq2SeqDecoder.USE_CACHE_BRANCH, cached);
      for (int i = 0; i < layers; i++) {
        for (String kind : new String[] {"key", "value"}) {
          f.put("past_key_values." + i + ".encoder." + kind, (OnnxTensor) first.get("present." + i + ".encoder." + kind)
              .orElseThrow());
        }
      }
      int token = argmax(Tensors.readFloats(first.get("logits").orElseThrow()));
      long graph = 0;
      long oldRead = 0;
      long newRead = 0;
      try {
        for (int step = 0; step < steps; step++) {
          for (int i = 0; i < layers; i++) {
            for (String kind : new String[] {"key", "value"}) {
              f.put("past_key_values." + i + ".decoder." + kind, (OnnxTensor) kv.get("present." + i + ".decoder." + kind)
                  .orElseThrow());
            }
          }
          id.put(0, token);
          long g0 = System.nanoTime();
          embedder.graph().run(idsFeed, pinned, null).close();
          OrtSession.Result next = model.decoder().run(f, Map.of(), null);
          long g1 = System.nanoTime();
          if (kv != first) {
            kv.close();
          }
          kv = next;
          OnnxTensor logits = (OnnxTensor) next.get("logits").orElseThrow();
          long q0 = System.nanoTime();
          float[] all = Tensors.readFloats(logits);
          System.arraycopy(all, all.length - row.length, row, 0, row.length);
          long q1 = System.nanoTime();
          directFloats.put(0, row);   // stands in for ONNX Runtime writing the pinned row
          long q2 = System.nanoTime();
          directFloats.get(0, row, 0, row.length);
          long q3 = System.nanoTime();
          token = argmax(row);
          if (step > 0) {
            graph += g1 - g0;
            oldRead += q1 - q0;
            newRead += q3 - q2;
          }
        }
      } finally {
        if (kv != first) {
          kv.close();
        }
        first.close();
        for (OnnxTensor e : empties) {
          e.close();
        }
      }
      int k = steps - 1;
      return new double[] {graph / 1e6 / k, Double.NaN, Double.NaN, oldRead / 1e3 / k, newRead / 1e3 / k};
    }
  }

  private static int argmax(float[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      if (v[i] > v[best]) {
        best = i;
      }
    }
    return best;
  }

  private static double[] median(List<double[]> rows) {
    double[] m = new double[rows.get(0).length];
    for (int c = 0; c < m.length; c++) {
      final int col = c;
      double[] v = rows.stream().mapToDouble(x -> x[col]).sorted().toArray();
      m[c] = v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
    return m;
  }

  private static void print(String label, double[] state, double[] bare) {
    System.out.printf(Locale.ROOT, "%s: appendToken %.2f ms/step (CPU %.2f ms/step, heap %.0f B/step);"
        + " bare loop's graph runs %.2f ms/step; logits row via readFloats %.1f us, via a direct buffer %.1f us%n",
        label, state[0], state[1], state[2], bare[0], bare[3], bare[4]);
  }
}
