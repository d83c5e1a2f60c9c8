package io.github.vlm4j.benchmarks;

import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.onnx.Dtype;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.DecodeBatcher;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * N concurrent greedy streams on one model (issue 12): continuous batching (the default) against
 * per-session stepping ({@code maxBatchSize(1)}, every request runs its own decoder steps). Each
 * stream generates exactly NEW_TOKENS tokens (no EOS) for the same image and question; the image
 * feature cache is off, so every stream runs its own vision encoder and prefill, as distinct
 * requests would. Per configuration: REPS rounds after one warm-up round.
 *
 * <p>Figures per round: <b>aggregate decode tok/s</b> = Σ over streams of (tokens − 1) divided by
 * the time from the first stream's first token to the last stream's end (prefills of later streams
 * overlap the decoding of earlier ones and count against it); <b>steady decode tok/s</b> = Σ over
 * streams of 1 / (the stream's median time per token), the rate while the streams decode side by
 * side; <b>TTFT</b> per stream from its
 * request to its first token; <b>wall</b> = the round's duration. Medians over rounds.
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.github.vlm4j.benchmarks.ConcurrentStreamsBenchmark \
 *     FOLDER IMAGE NEW_TOKENS REPS THREADS STREAMS[,STREAMS...] batched|stepping [--dtype fp32|q8]
 * }</pre>
 */
public final class ConcurrentStreamsBenchmark {
  private ConcurrentStreamsBenchmark() {}

  /**
   * Runs the benchmark.
   *
   * @param args see the class comment
   * @throws Exception on failure
   */
  public static void main(String[] args) throws Exception {
    if (args.length < 7) {
      System.err.println("usage: FOLDER IMAGE NEW_TOKENS REPS THREADS STREAMS[,..] batched|stepping [--dtype D]");
      System.exit(2);
    }
    Path folder = Path.of(args[0]);
    Path image = Path.of(args[1]);
    int newTokens = Integer.parseInt(args[2]);
    int reps = Integer.parseInt(args[3]);
    int threads = Integer.parseInt(args[4]);
    int[] streams = Arrays.stream(args[5].split(",")).mapToInt(Integer::parseInt).toArray();
    boolean batched = args[6].equals("batched");
    Dtype dtype = args.length > 8 && args[7].equals("--dtype") ? Dtype.parse(args[8]) : Dtype.FP32;
    GenerationConfig config = GenerationConfig.builder().maxNewTokens(newTokens)
        .eosTokenIds(List.of(Integer.MAX_VALUE)).build();   // never stops early: equal work
    List<Message> messages = List.of(Message.user(ImageInput.of(image), "Describe the image in detail."));
    RequestOptions options = RequestOptions.DEFAULT.withImageSplitting(false);
    System.out.println("mode,streams,threads,dtype,new_tokens,agg_decode_tok_s,steady_decode_tok_s,ttft_median_ms,"
        + "ttft_max_ms,wall_ms,rows_per_step");
    for (int n : streams) {
      try (VisionLanguageModel model = VisionLanguageModel.builder(folder).threads(threads).allowSpinning(false)
          .dtype(dtype).imageCacheBytes(0).maxBatchSize(batched ? Math.max(n, 2) : 1).build()) {
        round(model, messages, options, config, Math.min(n, 2));   // warm-up
        DecodeBatcher.Stats before = model.batchStats();
        List<double[]> rounds = new ArrayList<>();
        for (int r = 0; r < reps; r++) {
          rounds.add(round(model, messages, options, config, n));
        }
        DecodeBatcher.Stats after = model.batchStats();
        double rowsPerStep = after.steps() == before.steps() ? 1
            : (double) (after.rowSteps() - before.rowSteps()) / (after.steps() - before.steps());
        System.out.printf(Locale.ROOT, "%s,%d,%d,%s,%d,%.1f,%.1f,%.0f,%.0f,%.0f,%.2f%n",
            batched ? "batched" : "stepping", n, threads, dtype.name().toLowerCase(Locale.ROOT), newTokens,
            median(rounds, 0), median(rounds, 4), median(rounds, 1), median(rounds, 2), median(rounds, 3), rowsPerStep);
      }
    }
  }

  /** One round of {@code n} concurrent streams: {agg decode tok/s, median TTFT, max TTFT, wall ms, steady tok/s}. */
  private static double[] round(VisionLanguageModel model, List<Message> messages, RequestOptions options,
      GenerationConfig config, int n) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<long[]>> futures = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        futures.add(pool.submit(() -> {
          start.await();
          long t0 = System.nanoTime();
          GenerationResult r = model.generate(messages, config, options, TokenStreamer.none());
          long end = System.nanoTime();
          long first = t0 + (long) (r.usage().timings().timeToFirstTokenMs() * 1e6);
          double[] steps = r.usage().timings().decodeStepMs().clone();
          Arrays.sort(steps);
          long medianStepNanos = steps.length == 0 ? 0 : (long) (steps[steps.length / 2] * 1e6);
          return new long[] {t0, first, end, r.tokenIds().length, medianStepNanos};
        }));
      }
      long roundStart = System.nanoTime();
      start.countDown();
      long firstToken = Long.MAX_VALUE;
      long lastEnd = 0;
      long decoded = 0;
      double[] ttft = new double[n];
      double steady = 0;
      for (int i = 0; i < n; i++) {
        long[] f = futures.get(i).get();
        steady += f[4] == 0 ? 0 : 1e9 / f[4];
        firstToken = Math.min(firstToken, f[1]);
        lastEnd = Math.max(lastEnd, f[2]);
        decoded += f[3] - 1;
        ttft[i] = (f[1] - f[0]) / 1e6;
      }
      Arrays.sort(ttft);
      return new double[] {decoded / ((lastEnd - firstToken) / 1e9), ttft[n / 2], ttft[n - 1],
          (lastEnd - roundStart) / 1e6, steady};
    } finally {
      pool.shutdownNow();
    }
  }

  private static double median(List<double[]> rounds, int k) {
    double[] v = rounds.stream().mapToDouble(r -> r[k]).sorted().toArray();
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }
}
