package io.github.vlm4j.it.fuzz;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.vlm4j.it.Fixtures;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Malformed model folders generated from a seed ({@code -Dfuzz.seed}, {@code -Dfuzz.folders}: 40 in
 * {@code mvn verify}, 240 in the {@code fuzz} profile) by {@link FolderMutator} from the committed
 * tiny idefics3, llava and modular folders, each loaded with {@code
 * VisionLanguageModel.builder(dir).build()} in forked child JVMs ({@link MalformedFolderChild}, two
 * at a time, each loading a batch). Only success or a typed error is allowed. A load that takes
 * longer than {@code -Dfuzz.loadSeconds} (30) is a hang (the child is killed); a child that dies
 * (signal, {@code hs_err_pid*.log}, exit without finishing) is a crash. RSS growth of the child over
 * each failed load is recorded (leak indicator).
 *
 * <p>Known findings that other work is fixing are listed as regular expressions in {@code
 * src/test/resources/fuzz/pending/malformed-folders.txt}; a matching result is counted as
 * "pending" and does not fail the test (delete the line once the fix is merged). Counts go to
 * {@code ${fuzz.results}/malformed-folders.properties}; findings with their mutations to {@code
 * malformed-folders-findings.txt} next to it, and their folders are kept under {@code
 * target/malformed-folders} for reproduction.
 */
@Tag("fuzz") // runs in the fuzz-regression JVM (src/test/pom.xml), also under -Dtest
class MalformedFolderTest {
  private static final String[] MODELS = {"vlm4j-tiny-idefics3", "vlm4j-tiny-llava", "vlm4j-tiny-modular"};
  private static final int CHILDREN = 2;

  /** One generated folder and what became of it. */
  static final class Folder {
    final int index;
    final Path dir;
    final String base;
    final String dtype;
    final List<String> mutations;
    String outcome = "unknown";
    String detail = "";
    long rssGrowthKiB;
    long millis;

    Folder(int index, Path dir, String base, String dtype, List<String> mutations) {
      this.index = index;
      this.dir = dir;
      this.base = base;
      this.dtype = dtype;
      this.mutations = mutations;
    }

    String describe() {
      return "#" + index + " " + base + (dtype.isEmpty() ? "" : " dtype=" + dtype) + " " + mutations;
    }
  }

  @Test
  void malformedFoldersLoadOrFailTyped() throws Exception {
    int count = Integer.getInteger("fuzz.folders", 40);
    long seed = Long.getLong("fuzz.seed", 20261201L);
    long loadSeconds = Long.getLong("fuzz.loadSeconds", 30);
    Path root = Path.of(System.getProperty("java.io.tmpdir")).resolve("malformed-folders");
    deleteTree(root);
    Files.createDirectories(root);
    long t0 = System.nanoTime();
    FolderMutator mutator = new FolderMutator(seed);
    List<Folder> folders = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      String base = MODELS[i % MODELS.length];
      Path dir = root.resolve(String.format(Locale.ROOT, "%04d-%s", i, base.replace("vlm4j-tiny-", "")));
      List<String> mutations = mutator.mutate(Fixtures.model(base), dir);
      folders.add(new Folder(i, dir, base, mutator.dtype(), mutations));
    }
    List<Thread> threads = new ArrayList<>();
    Map<Integer, Throwable> failures = new ConcurrentHashMap<>();
    for (int c = 0; c < CHILDREN; c++) {
      List<Folder> batch = new ArrayList<>();
      for (int i = c; i < folders.size(); i += CHILDREN) {
        batch.add(folders.get(i));
      }
      int child = c;
      Thread t = new Thread(() -> {
        try {
          runBatch(child, batch, root, loadSeconds);
        } catch (Throwable e) {
          failures.put(child, e);
        }
      }, "malformed-child-" + c);
      t.start();
      threads.add(t);
    }
    for (Thread t : threads) {
      t.join();
    }
    if (!failures.isEmpty()) {
      throw new AssertionError("child runner failed: " + failures, failures.values().iterator().next());
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    report(folders, seconds, seed);
  }

  private static void runBatch(int child, List<Folder> batch, Path root, long loadSeconds) throws Exception {
    int next = 0;
    int run = 0;
    while (next < batch.size()) {
      Path work = Files.createDirectories(root.resolve("child-" + child + "-" + run++));
      Path list = work.resolve("folders.tsv");
      StringBuilder sb = new StringBuilder();
      for (int i = next; i < batch.size(); i++) {
        Folder f = batch.get(i);
        sb.append(f.index).append('\t').append(f.dir).append('\t').append(f.dtype).append('\n');
      }
      Files.writeString(list, sb);
      List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-Xmx512m", "-XX:-CreateCoredumpOnCrash", "-XX:ErrorFile=" + work.resolve("hs_err_pid%p.log"),
          "-Djava.io.tmpdir=" + work, "-cp", System.getProperty("java.class.path"),
          MalformedFolderChild.class.getName(), list.toString());
      ProcessBuilder pb = new ProcessBuilder(cmd).directory(work.toFile())
          .redirectError(work.resolve("stderr.txt").toFile());
      pb.environment().putAll(Map.of("ORT_DISABLE_TELEMETRY", "1", "OPT_OUT_TRACKING", "true"));
      Process p = pb.start();
      BlockingQueue<String> lines = new LinkedBlockingQueue<>();
      Thread reader = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
          for (String l; (l = r.readLine()) != null; ) {
            lines.add(l);
          }
        } catch (IOException ignored) {
          // the child was killed
        } finally {
          lines.add("EOF");
        }
      }, "malformed-reader-" + child);
      reader.setDaemon(true);
      reader.start();
      Folder current = null;
      long rssBefore = 0;
      boolean done = false;
      try {
        while (true) {
          // Startup (JVM + ONNX Runtime) gets the same allowance as one load.
          String l = lines.poll(loadSeconds, TimeUnit.SECONDS);
          if (l == null) {
            Folder hung = current != null ? current : batch.get(next);
            hung.outcome = "hang";
            hung.detail = "no result after " + loadSeconds + " s; child killed";
            next = batch.indexOf(hung) + 1;
            break;
          }
          if (l.startsWith("START ")) {
            String[] f = l.split(" ");
            current = byIndex(batch, Integer.parseInt(f[1]));
            rssBefore = Long.parseLong(f[2]);
          } else if (l.startsWith("RESULT ")) {
            String[] f = l.split(" ", 6);
            Folder r = byIndex(batch, Integer.parseInt(f[1]));
            r.outcome = f[2];
            r.rssGrowthKiB = Long.parseLong(f[3]) - rssBefore;
            r.millis = Long.parseLong(f[4]);
            r.detail = f.length > 5 ? f[5] : "";
            next = batch.indexOf(r) + 1;
            current = null;
          } else if (l.equals("DONE")) {
            done = true;
            next = batch.size();
            break;
          } else if (l.equals("EOF")) {
            Folder dead = current != null ? current : next < batch.size() ? batch.get(next) : null;
            p.waitFor(10, TimeUnit.SECONDS);
            int code = p.isAlive() ? -1 : p.exitValue();
            if (dead != null) {
              dead.outcome = "crash";
              dead.detail = "child exited with " + code + (code > 128 ? " (signal " + (code - 128) + ")" : "")
                  + hsErr(work);
              next = batch.indexOf(dead) + 1;
            }
            break;
          }
        }
      } finally {
        if (p.isAlive()) {
          p.destroyForcibly();
          p.waitFor(10, TimeUnit.SECONDS);
        }
      }
      if (done && !hsErr(work).isEmpty()) {
        throw new AssertionError("child " + child + " finished but wrote " + hsErr(work));
      }
    }
  }

  private static String hsErr(Path work) throws IOException {
    try (Stream<Path> s = Files.list(work)) {
      return s.map(Path::getFileName).map(Path::toString).filter(n -> n.startsWith("hs_err_pid"))
          .map(n -> ", wrote " + n).findFirst().orElse("");
    }
  }

  private static Folder byIndex(List<Folder> batch, int index) {
    return batch.stream().filter(f -> f.index == index).findFirst()
        .orElseThrow(() -> new IllegalStateException("child reported unknown folder " + index));
  }

  private static List<Pattern> pending() throws IOException {
    Path file = Fixtures.models().getParent().resolve("fuzz/pending/malformed-folders.txt");
    List<Pattern> out = new ArrayList<>();
    if (Files.exists(file)) {
      for (String l : Files.readAllLines(file)) {
        if (!l.isBlank() && !l.startsWith("#")) {
          out.add(Pattern.compile(l.strip()));
        }
      }
    }
    return out;
  }

  private static void report(List<Folder> folders, double seconds, long seed) throws IOException {
    List<Pattern> pending = pending();
    Map<String, Integer> histogram = new TreeMap<>();
    List<String> findings = new ArrayList<>();
    List<String> pendingHits = new ArrayList<>();
    int ok = 0;
    int typed = 0;
    int untyped = 0;
    int hangs = 0;
    int crashes = 0;
    int pendingCount = 0;
    long failedGrowth = 0;
    long maxGrowth = 0;
    int failed = 0;
    List<Long> growths = new ArrayList<>();
    for (Folder f : folders) {
      switch (f.outcome) {
        case "ok" -> ok++;
        case "typed" -> {
          typed++;
          histogram.merge(f.detail.split(" ", 2)[0], 1, Integer::sum);
        }
        default -> {
          String line = f.outcome + " " + f.detail + " | " + f.describe();
          if (pending.stream().anyMatch(p -> p.matcher(line).find())) {
            pendingCount++;
            pendingHits.add(line);
          } else {
            findings.add(line);
          }
          switch (f.outcome) {
            case "untyped" -> untyped++;
            case "hang" -> hangs++;
            case "crash" -> crashes++;
            default -> findings.add("no result: " + line);
          }
        }
      }
      if (!f.outcome.equals("ok") && (f.outcome.equals("typed") || f.outcome.equals("untyped"))) {
        failed++;
        failedGrowth += f.rssGrowthKiB;
        growths.add(f.rssGrowthKiB);
        maxGrowth = Math.max(maxGrowth, f.rssGrowthKiB);
      }
    }
    StringBuilder sb = new StringBuilder();
    sb.append("harness=malformed-folders\n");
    sb.append("seed=").append(seed).append('\n');
    sb.append("folders=").append(folders.size()).append('\n');
    sb.append("ok=").append(ok).append('\n');
    sb.append("typed=").append(typed).append('\n');
    sb.append("untyped=").append(untyped).append('\n');
    sb.append("hangs=").append(hangs).append('\n');
    sb.append("crashes=").append(crashes).append('\n');
    sb.append("pending=").append(pendingCount).append('\n');
    sb.append("seconds=").append(String.format(Locale.ROOT, "%.1f", seconds)).append('\n');
    sb.append("failedLoads=").append(failed).append('\n');
    sb.append("rssGrowthPerFailedLoadKiB=").append(failed == 0 ? 0 : failedGrowth / failed).append('\n');
    sb.append("medianRssGrowthFailedLoadKiB=").append(growths.isEmpty() ? 0
        : growths.stream().sorted().toList().get(growths.size() / 2)).append('\n');
    sb.append("maxRssGrowthFailedLoadKiB=").append(maxGrowth).append('\n');
    histogram.forEach((k, v) -> sb.append("reason.").append(k).append('=').append(v).append('\n'));
    String results = System.getProperty("fuzz.results");
    if (results != null) {
      Path dir = Files.createDirectories(Path.of(results));
      Files.writeString(dir.resolve("malformed-folders.properties"), sb);
      List<String> all = new ArrayList<>(findings);
      pendingHits.forEach(l -> all.add("(pending) " + l));
      Files.write(dir.resolve("malformed-folders-findings.txt"), all);
    }
    System.out.print(sb);
    pendingHits.forEach(l -> System.out.println("PENDING " + l));
    findings.forEach(l -> System.out.println("FINDING " + l));
    for (Folder f : folders) {
      if (f.outcome.equals("ok") || f.outcome.equals("typed")) {
        deleteTree(f.dir);
      }
    }
    assertTrue(findings.isEmpty(), findings.size() + " malformed folders gave an untyped error, a hang or a crash "
        + "(not listed in fuzz/pending/malformed-folders.txt):\n" + String.join("\n", findings));
  }

  private static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
