package io.github.vlm4j.benchmarks;

import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.StageTimings;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The first request of a fresh JVM (what a CLI run or a freshly started server sees): loads the
 * model, runs one request (the image without splitting, 4 greedy tokens) and prints the load time
 * and the request's stage timings. Run it in a new process each time.
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.github.vlm4j.benchmarks.FirstRequest FOLDER IMAGE [THREADS]
 * }</pre>
 */
public final class FirstRequest {
  private FirstRequest() {}

  /**
   * Runs the measurement.
   *
   * @param args model folder, image, optional thread count (default 2)
   * @throws Exception on failure
   */
  public static void main(String[] args) throws Exception {
    int threads = args.length > 2 ? Integer.parseInt(args[2]) : 2;
    long t0 = System.nanoTime();
    try (VisionLanguageModel m = VisionLanguageModel.builder(Path.of(args[0])).threads(threads)
        .allowSpinning(false).build()) {
      long loaded = System.nanoTime();
      GenerationResult r = m.generate(List.of(Message.user(ImageInput.of(Path.of(args[1])), "Describe the image.")),
          GenerationConfig.greedy(4), RequestOptions.DEFAULT.withImageSplitting(false), TokenStreamer.none());
      StageTimings t = r.usage().timings();
      System.out.printf(Locale.ROOT, "load %.0f ms, first request: preprocess %.0f ms, vision %.0f ms, prefill %.0f ms,"
          + " TTFT %.0f ms%n", (loaded - t0) / 1e6, t.preprocessMs(), t.visionMs(), t.prefillMs(), t.timeToFirstTokenMs());
    }
  }
}
