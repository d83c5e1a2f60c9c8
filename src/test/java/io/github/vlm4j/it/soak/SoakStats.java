package io.github.vlm4j.it.soak;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counters and the first examples of every kind of problem of a soak run.
 *
 * <p><b>Thread-safety:</b> thread-safe (workers, the watchdog and the controller record into it).
 */
final class SoakStats {
  /** Counter names: a successful output that differs from its single-thread result or golden. */
  static final String MISMATCH = "mismatch";
  /** An exception a valid request should not end with; followed by {@code .<class name>}. */
  static final String ERROR = "error";
  /** A request that ran longer than the watchdog's limit. */
  static final String HANG = "hang";
  /** The request after a cancelled one failed with {@code Exiting due to terminate flag} (issue #11 item 4). */
  static final String KNOWN_CANCEL_RACE = "knownCancelRace";
  private static final int MAX_EXAMPLES = 40;

  private final Map<String, LongAdder> counters = new ConcurrentHashMap<>();
  private final List<String> examples = new ArrayList<>();

  void count(String name) {
    counters.computeIfAbsent(name, k -> new LongAdder()).increment();
  }

  /** Counts a problem and keeps its description (the first few of each run). */
  void problem(String counter, String description) {
    count(counter);
    synchronized (examples) {
      if (examples.size() < MAX_EXAMPLES) {
        examples.add(counter + ": " + description);
      }
    }
  }

  /** Counts an exception a valid request should not end with, by its class, keeping its stack trace. */
  void error(String request, Throwable t) {
    StringWriter w = new StringWriter();
    t.printStackTrace(new PrintWriter(w));
    String trace = w.toString();
    problem(ERROR + "." + t.getClass().getName(), request + ": " + trace.substring(0, Math.min(trace.length(), 3000)));
  }

  long get(String name) {
    LongAdder a = counters.get(name);
    return a == null ? 0 : a.sum();
  }

  /** @return every counter whose name starts with {@code prefix}, by name */
  Map<String, Long> withPrefix(String prefix) {
    Map<String, Long> out = new TreeMap<>();
    counters.forEach((k, v) -> {
      if (k.startsWith(prefix)) {
        out.put(k, v.sum());
      }
    });
    return out;
  }

  List<String> examples() {
    synchronized (examples) {
      return List.copyOf(examples);
    }
  }
}
