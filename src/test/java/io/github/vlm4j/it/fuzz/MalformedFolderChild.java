package io.github.vlm4j.it.fuzz;

import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.VlmInputException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Child JVM of {@link MalformedFolderTest}: loads each folder listed in the file {@code args[0]}
 * (lines {@code index TAB path TAB dtype}) with {@code VisionLanguageModel.builder(dir).build()},
 * closes what loads, and prints one protocol line per folder on stdout:
 *
 * <pre>
 * START index rssKiB
 * RESULT index ok|typed|untyped rssKiB millis detail
 * </pre>
 *
 * The parent's watchdog kills the child if a load does not finish in time; a child that dies leaves
 * a START without RESULT.
 */
public final class MalformedFolderChild {
  private MalformedFolderChild() {}

  /** @param args the folder list file */
  public static void main(String[] args) throws IOException {
    PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true,
        StandardCharsets.UTF_8);
    // Library logging goes to stderr; only the protocol goes to stdout.
    System.setOut(System.err);
    List<String> lines = Files.readAllLines(Path.of(args[0]));
    for (String line : lines) {
      String[] f = line.split("\t", -1);
      String index = f[0];
      Path dir = Path.of(f[1]);
      String dtype = f.length > 2 ? f[2] : "";
      out.println("START " + index + " " + rssKiB());
      long t0 = System.nanoTime();
      String outcome;
      String detail;
      try {
        VisionLanguageModel.Builder b = VisionLanguageModel.builder(dir).threads(1);
        if (!dtype.isEmpty()) {
          b.dtype(dtype);
        }
        try (VisionLanguageModel m = b.build()) {
          outcome = "ok";
          detail = m.modelType();
        }
      } catch (ModelLoadException e) {
        outcome = "typed";
        detail = "ModelLoadException." + e.reason() + " " + oneLine(e.getMessage());
      } catch (VlmInputException e) {
        outcome = "typed";
        detail = "VlmInputException." + e.reason() + " " + oneLine(e.getMessage());
      } catch (Throwable e) {
        outcome = "untyped";
        StackTraceElement[] st = e.getStackTrace();
        detail = e.getClass().getName() + " " + oneLine(e.getMessage()) + " at "
            + (st.length > 0 ? st[0] : "?") + (st.length > 1 ? " < " + st[1] : "") + (st.length > 2 ? " < " + st[2] : "");
      }
      long ms = (System.nanoTime() - t0) / 1_000_000;
      out.println("RESULT " + index + " " + outcome + " " + rssKiB() + " " + ms + " " + detail);
    }
    out.println("DONE");
  }

  private static String oneLine(String s) {
    if (s == null) {
      return "(no message)";
    }
    String t = s.replace('\n', ' ').replace('\r', ' ').replace('\t', ' ');
    return t.length() > 300 ? t.substring(0, 300) + "..." : t;
  }

  /** @return this process's resident set size from /proc/self/status, or -1 */
  static long rssKiB() {
    try {
      for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (l.startsWith("VmRSS:")) {
          return Long.parseLong(l.replaceAll("[^0-9]", ""));
        }
      }
    } catch (IOException | RuntimeException e) {
      return -1;
    }
    return -1;
  }
}
