package io.github.vlm4j.it.fuzz;

import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.VlmInputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One fuzz harness's bookkeeping: runs each input on a worker thread under a per-input watchdog
 * (a stuck input is a "hang" finding; its worker is abandoned and a fresh one takes over), sorts
 * outcomes into "ok", typed rejections by reason, untyped errors, property violations (an {@link
 * AssertionError} from the harness) and hangs, and writes the counts
 * to {@code ${fuzz.results}/<harness><fuzz.resultSuffix>.properties} (read by {@code .ci/fuzz-summary}; the
 * suffix is empty except in {@code .ci/run}'s top-up run).
 *
 * <p>Typed means {@link VlmInputException} or {@link ModelLoadException}; anything else that
 * escapes (including {@link Error}s such as {@code OutOfMemoryError}) is rethrown, so Jazzer records
 * the input as a finding and a regression run fails. One instance per harness class; inputs are run
 * one at a time (Jazzer calls the harness from one thread).
 */
final class FuzzRun {
  /** Whether Jazzer is fuzzing (JAZZER_FUZZ set) rather than replaying the committed corpus. */
  static final boolean FUZZING = isSet(System.getenv("JAZZER_FUZZ")) || isSet(System.getProperty("JAZZER_FUZZ"));

  private final String harness;
  private final long limitMillis;
  private final long startNanos = System.nanoTime();
  private final Map<String, Long> outcomes = new TreeMap<>();
  private final Map<String, Long> millis = new TreeMap<>();
  private long slowest;
  private long execs;
  private long untyped;
  private long violations;
  private long hangs;
  private ExecutorService worker = newWorker();

  /** A body that may throw anything. */
  @FunctionalInterface
  interface Body {
    /** @throws Exception whatever the code under test throws */
    void run() throws Exception;
  }

  /**
   * @param harness name used in the summary file
   * @param limitSeconds per-input watchdog (system property {@code fuzz.inputSeconds} overrides)
   */
  FuzzRun(String harness, int limitSeconds) {
    this.harness = harness;
    this.limitMillis = Long.getLong("fuzz.inputSeconds", limitSeconds) * 1000L;
    Runtime.getRuntime().addShutdownHook(new Thread(this::writeSummary, "fuzz-summary-" + harness));
  }

  private static boolean isSet(String v) {
    return v != null && !v.isEmpty() && !v.equals("0") && !v.equalsIgnoreCase("false");
  }

  private static ExecutorService newWorker() {
    return Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "fuzz-input");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * A body that names its own outcome, e.g. a refusal that the public contract documents as an
   * {@code IllegalArgumentException}, which the body catches and checks itself.
   */
  @FunctionalInterface
  interface LabelledBody {
    /**
     * @return the outcome to count ("ok" for an accepted input)
     * @throws Exception whatever the code under test throws
     */
    String run() throws Exception;
  }

  /**
   * Runs one input.
   *
   * @param body the code under test for this input
   * @throws AssertionError for a hang (with the stuck thread's stack) or wrapping an untyped error
   */
  void run(Body body) {
    runLabelled(() -> {
      body.run();
      return "ok";
    });
  }

  /**
   * Runs one input whose body names its outcome.
   *
   * @param body the code under test for this input
   * @throws AssertionError for a hang (with the stuck thread's stack) or wrapping an untyped error
   */
  void runLabelled(LabelledBody body) {
    AtomicReference<Thread> runner = new AtomicReference<>();
    Future<String> f = worker.submit(() -> {
      runner.set(Thread.currentThread());
      try {
        return body.run();
      } catch (VlmInputException e) {
        return "VlmInputException." + e.reason();
      } catch (ModelLoadException e) {
        return "ModelLoadException." + e.reason();
      }
    });
    String outcome;
    long t0 = System.nanoTime();
    try {
      outcome = f.get(limitMillis, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      Thread stuck = runner.get();
      f.cancel(true);
      worker.shutdownNow();
      worker = newWorker(); // the stuck thread may never return; it is a daemon
      synchronized (this) {
        execs++;
        hangs++;
        count("hang");
      }
      writeSummary();
      AssertionError hang = new AssertionError(harness + ": input still running after " + limitMillis
          + " ms (hang); stack of the stuck thread attached");
      if (stuck != null) {
        Throwable where = new Throwable("stuck thread " + stuck.getName());
        where.setStackTrace(stuck.getStackTrace());
        hang.initCause(where);
      }
      throw hang;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      synchronized (this) {
        execs++;
        if (cause instanceof AssertionError) {
          violations++;
          count("violation");
        } else {
          untyped++;
          count("untyped." + cause.getClass().getName());
        }
      }
      writeSummary();
      if (cause instanceof AssertionError a) {
        throw a;
      }
      if (cause instanceof Error err) {
        throw new AssertionError(harness + ": untyped " + err, err);
      }
      throw new AssertionError(harness + ": only VlmInputException/ModelLoadException may escape, got " + cause, cause);
    }
    long ms = (System.nanoTime() - t0) / 1_000_000;
    synchronized (this) {
      execs++;
      count(outcome);
      millis.merge(outcome, ms, Long::sum);
      slowest = Math.max(slowest, ms);
    }
    if ((execs & 0x3FFF) == 0) {
      writeSummary();
    }
  }

  private void count(String key) {
    outcomes.merge(key, 1L, Long::sum);
  }

  /** Writes the current counts (also on JVM exit). */
  synchronized void writeSummary() {
    String dir = System.getProperty("fuzz.results");
    if (dir == null) {
      return;
    }
    double seconds = (System.nanoTime() - startNanos) / 1e9;
    StringBuilder sb = new StringBuilder();
    sb.append("harness=").append(harness).append('\n');
    sb.append("mode=").append(FUZZING ? "fuzz" : "regression").append('\n');
    sb.append("execs=").append(execs).append('\n');
    sb.append("seconds=").append(String.format(java.util.Locale.ROOT, "%.1f", seconds)).append('\n');
    sb.append("untyped=").append(untyped).append('\n');
    sb.append("hangs=").append(hangs).append('\n');
    sb.append("violations=").append(violations).append('\n');
    sb.append("slowestTypedMillis=").append(slowest).append('\n');
    outcomes.forEach((k, v) -> sb.append("outcome.").append(k).append('=').append(v).append('\n'));
    millis.forEach((k, v) -> sb.append("millis.").append(k).append('=').append(v).append('\n'));
    try {
      String suffix = System.getProperty("fuzz.resultSuffix", "");
      Path out = Path.of(dir, harness + suffix + ".properties");
      Files.createDirectories(out.getParent());
      Path tmp = Files.createTempFile(out.getParent(), harness, ".tmp");
      Files.writeString(tmp, sb, StandardCharsets.UTF_8);
      Files.move(tmp, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** @return inputs run so far */
  synchronized long execs() {
    return execs;
  }

  /** @return a one-line summary */
  synchronized String line() {
    return String.format(java.util.Locale.ROOT, "FUZZ %s mode=%s execs=%d untyped=%d hangs=%d violations=%d %s",
        harness, FUZZING ? "fuzz" : "regression", execs, untyped, hangs, violations, outcomes);
  }
}
