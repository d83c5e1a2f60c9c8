package io.github.vlm4j.examples;

import io.github.vlm4j.Demo;
import io.github.vlm4j.DemoPool;
import io.github.vlm4j.FewShotPrompt;
import io.github.vlm4j.GenerationSession;
import io.github.vlm4j.LabelScores;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Visual inspection without training: a pool of labelled part photos (ok / defective), and for each
 * new part the most similar ok and defective examples are shown to the model as demos before it
 * is asked about the new part. Prints one line per part and a report.
 *
 * <pre>{@code
 * java -cp examples/target/vlm4j.jar io.github.vlm4j.examples.InspectionExample \
 *     src/test/resources/models/vlm4j-tiny-idefics3 \
 *     src/test/resources/fewshot/inspection/pool src/test/resources/fewshot/inspection/queries
 * }</pre>
 */
public final class InspectionExample {
  private InspectionExample() {}

  /**
   * Runs the inspection example and prints its report.
   *
   * @param args model folder, pool folder ({@code <label>/<image>}), new parts folder ({@code <label>/<image>},
   *     the label is used only to score the report)
   * @throws Exception on failure
   */
  public static void main(String[] args) throws Exception {
    Path model = Path.of(args.length > 0 ? args[0] : "src/test/resources/models/vlm4j-tiny-idefics3");
    Path poolDir = Path.of(args.length > 1 ? args[1] : "src/test/resources/fewshot/inspection/pool");
    Path partsDir = Path.of(args.length > 2 ? args[2] : "src/test/resources/fewshot/inspection/queries");
    try (VisionLanguageModel vlm = VisionLanguageModel.load(model); GenerationSession session = vlm.newSession()) {
      // one frame per image where the model would tile (much faster on CPU)
      RequestOptions options = vlm.supportsImageSplitting() ? RequestOptions.DEFAULT.withImageSplitting(false)
          : RequestOptions.DEFAULT;
      DemoPool pool = DemoPool.fromFolder(vlm, poolDir, options);
      System.out.printf(Locale.ROOT, "pool: %d parts, labels %s%n", pool.size(), pool.labels());
      Map<String, Integer> verdicts = new TreeMap<>();
      int correct = 0;
      List<DemoPool.Entry> parts = DemoPool.readFolder(partsDir);
      for (DemoPool.Entry part : parts) {
        List<Demo> demos = pool.nearestPerLabel(part.image(), 2);
        FewShotPrompt prompt = FewShotPrompt.builder().question("Is this part ok or defective?").demos(demos)
            .query(part.image()).build();
        LabelScores s = session.classify(prompt, pool.labels(), options);
        String verdict = s.best().label();
        verdicts.merge(verdict, 1, Integer::sum);
        if (verdict.equals(part.label())) {
          correct++;
        }
        System.out.printf(Locale.ROOT, "%-40s %-10s p=%.3f  (%.1f ms)%n", part.name(), verdict,
            s.best().probability(), s.usage().timings().totalMs());
      }
      System.out.printf(Locale.ROOT, "%nreport: %d parts, %s; %d of %d agree with the folder labels (%.1f%%)%n",
          parts.size(), verdicts, correct, parts.size(), 100.0 * correct / parts.size());
      System.out.println("caches: " + vlm.cacheStats());
    }
  }
}
