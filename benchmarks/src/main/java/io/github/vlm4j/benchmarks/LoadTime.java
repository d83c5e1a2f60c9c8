package io.github.vlm4j.benchmarks;

import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.onnx.Dtype;
import io.github.vlm4j.core.onnx.SessionSettings;
import io.github.vlm4j.florence.FlorenceModel;
import java.nio.file.Path;

/**
 * Model load time only, in a fresh JVM: {@code VisionLanguageModel.builder(dir).build()} (or {@code
 * FlorenceModel.load} with {@code florence}), fp32, THREADS intra-op threads, no spinning, as
 * FamilyComparison and FlorenceComparison load. Prints {@code load_ms <ms>} (the build's wall clock,
 * from the start of main, so class loading counts) and closes the model. Used by
 * benchmarks/load.sh.
 *
 * <pre>java -cp benchmarks.jar io.github.vlm4j.benchmarks.LoadTime FOLDER (vlm|florence) THREADS</pre>
 */
public final class LoadTime {
  private LoadTime() {}

  /**
   * Loads the folder once and prints the load time.
   *
   * @param args folder, kind ({@code vlm} or {@code florence}), threads
   * @throws Exception if the model cannot be loaded
   */
  public static void main(String[] args) throws Exception {
    long t0 = System.nanoTime();
    Path dir = Path.of(args[0]);
    int threads = Integer.parseInt(args[2]);
    if (args[1].equals("florence")) {
      try (FlorenceModel m = FlorenceModel.load(dir, Dtype.FP32,
          SessionSettings.builder().intraOpThreads(threads).allowSpinning(false).build())) {
        System.out.printf("load_ms %.0f%n", (System.nanoTime() - t0) / 1e6);
      }
    } else {
      try (VisionLanguageModel m = VisionLanguageModel.builder(dir).threads(threads).allowSpinning(false)
          .dtype("fp32").imageCacheBytes(0).build()) {
        System.out.printf("load_ms %.0f%n", (System.nanoTime() - t0) / 1e6);
      }
    }
  }
}
