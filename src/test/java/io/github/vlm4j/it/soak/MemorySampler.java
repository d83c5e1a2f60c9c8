package io.github.vlm4j.it.soak;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Samples this process's resident set size ({@code VmRSS} of {@code /proc/self/status}), Java heap
 * use, live threads and open file descriptors at a fixed interval on its own daemon thread, and fits
 * least-squares slopes (MB per minute) over the samples taken after a warm-up.
 *
 * <p><b>Thread-safety:</b> {@link #start()} and {@link #stop()} from one controlling thread; the
 * accessors after {@link #stop()}. <b>Ownership:</b> the caller stops it.
 */
final class MemorySampler {
  /**
   * One sample.
   *
   * @param seconds since start
   * @param requests requests completed by then
   * @param directMb memory of live direct {@code ByteBuffer}s (freed only when the GC collects them)
   */
  record Sample(double seconds, long requests, double rssMb, double heapUsedMb, double heapCommittedMb, double directMb,
      int threads, int fds) {}

  private final long intervalMillis;
  private final java.util.function.LongSupplier requests;
  private final List<Sample> samples = new ArrayList<>();
  private final long t0 = System.nanoTime();
  private Thread thread;
  private volatile boolean running;

  MemorySampler(java.time.Duration interval, java.util.function.LongSupplier requests) {
    this.intervalMillis = interval.toMillis();
    this.requests = requests;
  }

  void start() {
    running = true;
    sample();
    thread = new Thread(() -> {
      while (running) {
        try {
          Thread.sleep(intervalMillis);
        } catch (InterruptedException e) {
          return;
        }
        sample();
      }
    }, "soak-memory-sampler");
    thread.setDaemon(true);
    thread.start();
  }

  void stop() {
    running = false;
    thread.interrupt();
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    sample();
  }

  /** Takes one sample now (also from other threads). */
  synchronized Sample sample() {
    MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
    Sample s = new Sample((System.nanoTime() - t0) / 1e9, requests.getAsLong(), rssKb() / 1024.0, heap.getUsed() / 1048576.0,
        heap.getCommitted() / 1048576.0, directBytes() / 1048576.0, ManagementFactory.getThreadMXBean().getThreadCount(), openFds());
    samples.add(s);
    return s;
  }

  synchronized List<Sample> samples() {
    return List.copyOf(samples);
  }

  /** @return seconds since this sampler was created */
  double elapsedSeconds() {
    return (System.nanoTime() - t0) / 1e9;
  }

  private static long directBytes() {
    return ManagementFactory.getPlatformMXBeans(java.lang.management.BufferPoolMXBean.class).stream()
        .filter(b -> b.getName().equals("direct")).mapToLong(java.lang.management.BufferPoolMXBean::getMemoryUsed)
        .sum();
  }

  /** @return {@code VmRSS} in kB, or -1 where {@code /proc} is missing */
  static long rssKb() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      }
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
    return -1;
  }

  private static int openFds() {
    try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
      return (int) s.count();
    } catch (IOException e) {
      return -1;
    }
  }

  /**
   * @param from seconds since start; earlier samples are left out
   * @param value what to fit
   * @return the least-squares slope of {@code value} in units per minute, NaN with fewer than 3 samples
   */
  static double slopePerMinute(List<Sample> samples, double from, java.util.function.ToDoubleFunction<Sample> value) {
    return slope(samples, from, s -> s.seconds() / 60, value);
  }

  /**
   * @param from seconds since start; earlier samples are left out
   * @param x the abscissa
   * @param value what to fit
   * @return the least-squares slope of {@code value} over {@code x}, NaN with fewer than 3 samples
   */
  static double slope(List<Sample> samples, double from, java.util.function.ToDoubleFunction<Sample> x,
      java.util.function.ToDoubleFunction<Sample> value) {
    List<Sample> used = samples.stream().filter(s -> s.seconds() >= from).toList();
    int n = used.size();
    if (n < 3) {
      return Double.NaN;
    }
    double mx = used.stream().mapToDouble(x).average().orElseThrow();
    double my = used.stream().mapToDouble(value).average().orElseThrow();
    double sxy = 0;
    double sxx = 0;
    for (Sample s : used) {
      double dx = x.applyAsDouble(s) - mx;
      sxy += dx * (value.applyAsDouble(s) - my);
      sxx += dx * dx;
    }
    return sxx == 0 ? Double.NaN : sxy / sxx;
  }

  /**
   * Runs {@code jcmd <this pid> args...} (native memory tracking, heap trimming) and returns its
   * output, or why it could not run. Bounded to 60 s.
   */
  static String jcmd(String... args) {
    List<String> cmd = new ArrayList<>(List.of("jcmd", Long.toString(ProcessHandle.current().pid())));
    cmd.addAll(List.of(args));
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return "jcmd timed out";
      }
      return new String(out, java.nio.charset.StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "jcmd failed: " + e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "jcmd interrupted";
    }
  }

  /** @return whether this JVM runs with {@code -XX:NativeMemoryTracking} on */
  static boolean nativeMemoryTracking() {
    return ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
        .anyMatch(a -> a.startsWith("-XX:NativeMemoryTracking=") && !a.endsWith("=off"));
  }
}
