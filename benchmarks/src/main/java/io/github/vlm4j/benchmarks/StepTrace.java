package io.github.vlm4j.benchmarks;

import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Every decode step's duration for vlm4j and the raw loop, interleaved in one JVM (fp32), with the
 * mean and the median per request and the CPU time each thread of the process used during vlm4j's
 * request ({@code /proc/self/task}: shows whether JIT, GC or other threads compete with ONNX
 * Runtime's). For diagnosing decode-speed differences the medians of {@link RawLoopComparison}
 * hide.
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.github.vlm4j.benchmarks.StepTrace FOLDER IMAGE split|nosplit REPS THREADS
 * }</pre>
 */
public final class StepTrace {
  private StepTrace() {}

  /**
   * @param args folder, image, split|nosplit, reps, threads
   * @throws Exception on failure
   */
  public static void main(String[] args) throws Exception {
    Path folder = Path.of(args[0]);
    Path image = Path.of(args[1]);
    boolean split = args[2].equals("split");
    int reps = Integer.parseInt(args[3]);
    int threads = Integer.parseInt(args[4]);
    RequestOptions opts = RequestOptions.DEFAULT.withImageSplitting(split);
    GenerationConfig cfg = GenerationConfig.builder().maxNewTokens(32).eosTokenIds(List.of(Integer.MAX_VALUE)).build();
    try (VisionLanguageModel vlm = VisionLanguageModel.builder(folder).threads(threads).allowSpinning(false)
        .imageCacheBytes(0).build()) {
      var chat = RawLoopComparison.paddedChat(vlm, image, opts, 0);
      var request = RawLoopComparison.RawRequest.of(vlm, folder, chat, image, opts);
      try (RawOrtLoop raw = RawOrtLoop.open(folder, "fp32", threads, vlm.textConfig())) {
        for (int i = 0; i < reps; i++) {
          Map<String, Long> before = cpuTicks();
          double[] v = vlm.generate(chat, cfg, opts, TokenStreamer.none()).usage().timings().decodeStepMs();
          Map<String, Long> after = cpuTicks();
          double[] r = request.run(raw, 32).stepMs();
          List<Map.Entry<String, Long>> used = new ArrayList<>();
          after.forEach((k, t) -> used.add(Map.entry(k, t - before.getOrDefault(k, 0L))));
          used.sort((x, y) -> Long.compare(y.getValue(), x.getValue()));
          System.out.printf(Locale.ROOT, "request %d: CPU ticks (1/100 s) per thread during vlm4j's: %s%n", i,
              used.subList(0, Math.min(6, used.size())));
          System.out.println("  vlm4j " + describe(v));
          System.out.println("  raw   " + describe(r));
        }
      }
    }
  }

  private static String describe(double[] ms) {
    double[] sorted = ms.clone();
    Arrays.sort(sorted);
    StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "mean %.1f ms, median %.1f ms, steps:",
        Arrays.stream(ms).average().orElse(Double.NaN), sorted[sorted.length / 2]));
    for (double d : ms) {
      b.append(String.format(Locale.ROOT, " %.0f", d));
    }
    return b.toString();
  }

  private static Map<String, Long> cpuTicks() throws Exception {
    Map<String, Long> m = new HashMap<>();
    try (var tasks = Files.list(Path.of("/proc/self/task"))) {
      for (Path t : tasks.toList()) {
        try {
          String stat = Files.readString(t.resolve("stat"));
          String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          m.put(t.getFileName() + " " + Files.readString(t.resolve("comm")).trim(),
              Long.parseLong(f[11]) + Long.parseLong(f[12]));
        } catch (java.io.IOException | RuntimeException gone) {
          // the thread ended while listing
        }
      }
    }
    return m;
  }
}
