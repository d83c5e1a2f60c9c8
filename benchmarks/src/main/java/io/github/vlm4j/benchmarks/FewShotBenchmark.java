package io.github.vlm4j.benchmarks;

import io.github.vlm4j.Demo;
import io.github.vlm4j.DemoPool;
import io.github.vlm4j.FewShotPrompt;
import io.github.vlm4j.GenerationSession;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.StageTimings;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * End-to-end few-shot figures on a model folder and a labelled pool/queries pair:
 *
 * <ol>
 *   <li>time to first token of a query after 4 demos, with the demos' image features and KV prefix
 *       cached (the k-th query with the same demos) vs without caches;
 *   <li>label scoring of N candidate labels in one {@code classify} call vs N full runs (one
 *       single-label {@code classify} per label, caches off).
 * </ol>
 *
 * Runs are interleaved; each figure is the median of {@code reps} runs after warm-up. ONNX Runtime
 * threads do not spin (two models alternate; a spinning idle pool would steal the other's cores).
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.github.vlm4j.benchmarks.FewShotBenchmark \
 *     src/test/resources/models/vlm4j-tiny-idefics3 src/test/resources/fewshot/inspection 15 [split|nosplit] [threads]
 * }</pre>
 */
public final class FewShotBenchmark {
  private FewShotBenchmark() {}

  /**
   * @param args model folder, folder with {@code pool/} and {@code queries/}, repetitions, split|nosplit, threads
   * @throws Exception on failure
   */
  public static void main(String[] args) throws Exception {
    Path model = Path.of(args[0]);
    Path data = Path.of(args[1]);
    int reps = args.length > 2 ? Integer.parseInt(args[2]) : 15;
    boolean split = args.length <= 3 || !args[3].equals("nosplit");
    int threads = args.length > 4 ? Integer.parseInt(args[4]) : 0;
    RequestOptions options = RequestOptions.DEFAULT.withImageSplitting(split);
    GenerationConfig firstToken = GenerationConfig.builder().maxNewTokens(1).build();
    try (VisionLanguageModel cached = VisionLanguageModel.builder(model).threads(threads).allowSpinning(false).build();
        VisionLanguageModel plain = VisionLanguageModel.builder(model).threads(threads).allowSpinning(false).imageCacheBytes(0)
            .prefixCacheBytes(0).build();
        GenerationSession cs = cached.newSession();
        GenerationSession ps = plain.newSession()) {
      List<DemoPool.Entry> pool = DemoPool.readFolder(data.resolve("pool"));
      List<DemoPool.Entry> queries = DemoPool.readFolder(data.resolve("queries"));
      List<Demo> demos = fourDemos(pool);
      FewShotPrompt base = FewShotPrompt.builder().demos(demos).query(queries.get(0).image()).build();
      System.out.printf(Locale.ROOT, "model %s, %s, %d threads, %d demos, prompt %s%n", model,
          split ? "image splitting on" : "image splitting off", threads, demos.size(),
          cached.countTokens(base, options));

      // 1. TTFT: cached (demos already seen) vs uncached, interleaved, different query each time
      cs.generate(base, firstToken, options, TokenStreamer.none()); // fills the caches
      double[] ttftCached = new double[reps];
      double[] ttftPlain = new double[reps];
      double[][] stagesCached = new double[3][reps];
      double[][] stagesPlain = new double[3][reps];
      int warm = 3;
      for (int i = -warm; i < reps; i++) {
        ImageInput q = queries.get(Math.floorMod(i + 1, queries.size())).image();
        FewShotPrompt p = base.withQuery(List.of(q), null);
        StageTimings a = cs.generate(p, firstToken, options, TokenStreamer.none()).usage().timings();
        StageTimings b = ps.generate(p, firstToken, options, TokenStreamer.none()).usage().timings();
        if (i >= 0) {
          ttftCached[i] = a.timeToFirstTokenMs();
          ttftPlain[i] = b.timeToFirstTokenMs();
          stagesCached[0][i] = a.preprocessMs();
          stagesCached[1][i] = a.visionMs();
          stagesCached[2][i] = a.prefillMs();
          stagesPlain[0][i] = b.preprocessMs();
          stagesPlain[1][i] = b.visionMs();
          stagesPlain[2][i] = b.prefillMs();
        }
      }
      double mc = median(ttftCached);
      double mp = median(ttftPlain);
      System.out.printf(Locale.ROOT, "%n| TTFT after %d demos | median ms |%n|---|---|%n| uncached | %.2f |%n"
          + "| cached demos (features + KV prefix) | %.2f |%n| speed-up | **%.1f×** |%n", demos.size(), mp, mc, mp / mc);
      System.out.printf(Locale.ROOT, "%n| stage (median ms) | uncached | cached |%n|---|---|---|%n"
          + "| decode + preprocess + tokenize | %.2f | %.2f |%n| vision + projector | %.2f | %.2f |%n"
          + "| embed + prefill | %.2f | %.2f |%n", median(stagesPlain[0]), median(stagesCached[0]),
          median(stagesPlain[1]), median(stagesCached[1]), median(stagesPlain[2]), median(stagesCached[2]));

      // 2. label scoring: one classify over N labels vs N single-label runs (caches off)
      System.out.printf(Locale.ROOT, "%n| labels N | classify(N labels) ms | N full runs ms | ratio |%n|---|---|---|---|%n");
      for (int n : new int[] {2, 4, 8}) {
        List<String> labels = new ArrayList<>(List.of(pool.get(0).label(), pool.get(pool.size() - 1).label()));
        for (int k = labels.size(); k < n; k++) {
          labels.add("label" + k);
        }
        double[] one = new double[reps];
        double[] many = new double[reps];
        for (int i = -warm; i < reps; i++) {
          FewShotPrompt p = base.withQuery(List.of(queries.get(Math.floorMod(i, queries.size())).image()), null);
          long t0 = System.nanoTime();
          ps.classify(p, labels, options);
          long t1 = System.nanoTime();
          for (String l : labels) {
            ps.classify(p, List.of(l), options);
          }
          long t2 = System.nanoTime();
          if (i >= 0) {
            one[i] = (t1 - t0) / 1e6;
            many[i] = (t2 - t1) / 1e6;
          }
        }
        System.out.printf(Locale.ROOT, "| %d | %.2f | %.2f | %.2f |%n", n, median(one), median(many),
            median(one) / median(many));
      }
    }
  }

  /** Two demos of each of the first two labels. */
  private static List<Demo> fourDemos(List<DemoPool.Entry> pool) {
    List<String> labels = pool.stream().map(DemoPool.Entry::label).distinct().limit(2).toList();
    List<Demo> out = new ArrayList<>();
    for (int round = 0; round < 2; round++) {
      for (String l : labels) {
        DemoPool.Entry e = pool.stream().filter(x -> x.label().equals(l)).skip(round).findFirst().orElseThrow();
        out.add(Demo.of(e.image(), e.label()));
      }
    }
    return out;
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}
