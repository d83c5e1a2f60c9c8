package io.github.vlm4j.it;

import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Run by {@link FailedBuildLeakTest} in its own JVM: fails {@code build()} of a folder many times
 * and prints the resident set size (VmRSS) after a warm-up and at the end, one {@code key=value}
 * per line. Any load outcome other than {@link ModelLoadException} exits with code 3.
 */
public final class BuildLeakChild {
  private BuildLeakChild() {}

  /** @param args model folder, warm-up failures, measured failures */
  public static void main(String[] args) throws Exception {
    Path folder = Path.of(args[0]);
    int warmup = Integer.parseInt(args[1]);
    int measured = Integer.parseInt(args[2]);
    String reason = null;
    for (int i = 0; i < warmup; i++) {
      reason = failOnce(folder);
    }
    System.gc();
    long before = rssKb();
    for (int i = 0; i < measured; i++) {
      failOnce(folder);
    }
    System.gc();
    long after = rssKb();
    System.out.println("reason=" + reason);
    System.out.println("rss_before_kb=" + before);
    System.out.println("rss_after_kb=" + after);
    System.out.flush();
    System.exit(0);
  }

  private static String failOnce(Path folder) {
    try (VisionLanguageModel m = VisionLanguageModel.builder(folder).threads(1).build()) {
      System.out.println("unexpected: the model loaded");
      System.exit(3);
      return null;
    } catch (ModelLoadException e) {
      return e.reason() + ": " + e.getMessage().replace('\n', ' ');
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
