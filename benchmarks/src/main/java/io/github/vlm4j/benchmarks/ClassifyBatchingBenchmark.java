package io.github.vlm4j.benchmarks;

import io.github.vlm4j.LabelScores;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * {@code classify} with N candidate labels (issue 12): all labels as rows of shared decoder runs
 * (the default) against one decoder run per label ({@code maxBatchSize(1)}). Same image, question
 * and labels; the image feature cache is on in both, so after warm-up a call costs the prompt's
 * prefill plus the labels. Reported: median ms of a call, and the labels' share = the median of
 * (N labels) − (1 label). Runs of the two models interleaved.
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.github.vlm4j.benchmarks.ClassifyBatchingBenchmark \
 *     FOLDER IMAGE REPS THREADS N[,N...]
 * }</pre>
 */
public final class ClassifyBatchingBenchmark {
  private ClassifyBatchingBenchmark() {}

  private static final List<String> LABELS = List.of("a red circle on a white background", "a blue square",
      "two green triangles next to each other", "nothing at all", "a yellow star in the corner",
      "several small dots", "a black line across the image", "an orange rectangle and a circle");

  /**
   * Runs the benchmark.
   *
   * @param args see the class comment
   * @throws Exception on failure
   */
  public static void main(String[] args) throws Exception {
    Path folder = Path.of(args[0]);
    Path image = Path.of(args[1]);
    int reps = Integer.parseInt(args[2]);
    int threads = Integer.parseInt(args[3]);
    int[] counts = Arrays.stream(args[4].split(",")).mapToInt(Integer::parseInt).toArray();
    List<Message> messages = List.of(Message.user(ImageInput.of(image), "What does the image show?"));
    RequestOptions options = RequestOptions.DEFAULT.withImageSplitting(false);
    System.out.println("labels,threads,one_run_per_label_ms,batched_ms,labels_only_per_label_ms,labels_only_batched_ms,"
        + "ratio_labels_only,max_abs_dlogp");
    try (VisionLanguageModel perLabel = VisionLanguageModel.builder(folder).threads(threads).allowSpinning(false)
            .maxBatchSize(1).build();
         VisionLanguageModel batched = VisionLanguageModel.builder(folder).threads(threads).allowSpinning(false)
             .build()) {
      for (int w = 0; w < 2; w++) {
        perLabel.classify(messages, LABELS.subList(0, 2), options);
        batched.classify(messages, LABELS.subList(0, 2), options);
      }
      double[] oneA = time(perLabel, messages, List.of(LABELS.get(0)), options, reps);
      double[] oneB = time(batched, messages, List.of(LABELS.get(0)), options, reps);
      for (int n : counts) {
        List<String> labels = LABELS.subList(0, n);
        double[] a = new double[reps];
        double[] b = new double[reps];
        double worst = 0;
        for (int r = 0; r < reps; r++) {
          long t0 = System.nanoTime();
          LabelScores sa = perLabel.classify(messages, labels, options);
          long t1 = System.nanoTime();
          LabelScores sb = batched.classify(messages, labels, options);
          long t2 = System.nanoTime();
          a[r] = (t1 - t0) / 1e6;
          b[r] = (t2 - t1) / 1e6;
          for (int i = 0; i < n; i++) {
            worst = Math.max(worst, Math.abs(sa.scores().get(i).logProb() - sb.scores().get(i).logProb()));
          }
        }
        double ma = median(a);
        double mb = median(b);
        double la = ma - median(oneA);
        double lb = mb - median(oneB);
        System.out.printf(Locale.ROOT, "%d,%d,%.1f,%.1f,%.1f,%.1f,%.2f,%.1e%n", n, threads, ma, mb, la, lb, lb / la,
            worst);
      }
    }
  }

  private static double[] time(VisionLanguageModel m, List<Message> messages, List<String> labels,
      RequestOptions options, int reps) {
    double[] t = new double[reps];
    for (int r = 0; r < reps; r++) {
      long t0 = System.nanoTime();
      m.classify(messages, labels, options);
      t[r] = (System.nanoTime() - t0) / 1e6;
    }
    return t;
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}
