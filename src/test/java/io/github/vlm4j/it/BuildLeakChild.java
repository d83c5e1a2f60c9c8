package io.github.vlm4j.it;

import io.github.vlm4j.VisionLanguageModel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Run by {@link FailedBuildLeakTest} in its own JVM. Fails {@code build()} many times in two
 * phases and prints, per phase, the resident set size (VmRSS) after a warm-up and at the end and the
 * failure seen, one {@code key=value} per line:
 *
 * <ul>
 *   <li>{@code graph}: a folder whose last graph (the decoder) ONNX Runtime rejects;
 *   <li>{@code pixels}: an intact folder with {@code maxImagePixels(0)}.
 * </ul>
 *
 * An {@link Error}, or a model that loads, exits with code 3.
 */
public final class BuildLeakChild {
  private BuildLeakChild() {}

  /** @param args broken folder, intact folder, warm-up failures, measured failures per phase */
  public static void main(String[] args) throws Exception {
    Path broken = Path.of(args[0]);
    Path intact = Path.of(args[1]);
    int warmup = Integer.parseInt(args[2]);
    int measured = Integer.parseInt(args[3]);
    phase("graph", broken, 89_478_485L, warmup, measured);
    phase("pixels", intact, 0, warmup, measured);
    System.out.flush();
    System.exit(0);
  }

  private static void phase(String name, Path folder, long maxPixels, int warmup, int measured) throws Exception {
    String failure = null;
    for (int i = 0; i < warmup; i++) {
      failure = failOnce(folder, maxPixels);
    }
    System.gc();
    long before = rssKb();
    for (int i = 0; i < measured; i++) {
      failOnce(folder, maxPixels);
    }
    System.gc();
    long after = rssKb();
    System.out.println(name + "_failure=" + failure);
    System.out.println(name + "_before_kb=" + before);
    System.out.println(name + "_after_kb=" + after);
  }

  private static String failOnce(Path folder, long maxPixels) {
    try (VisionLanguageModel m = VisionLanguageModel.builder(folder).threads(1).maxImagePixels(maxPixels).build()) {
      System.out.println("unexpected: the model loaded");
      System.exit(3);
      return null;
    } catch (Exception e) {
      return e.getClass().getSimpleName() + ": " + String.valueOf(e.getMessage()).replace('\n', ' ');
    } catch (Throwable t) {
      System.out.println("unexpected: " + t);
      System.exit(3);
      return null;
    }
  }

  private static long rssKb() throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return -1;
  }
}
