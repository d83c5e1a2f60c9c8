package io.github.vlm4j.benchmarks;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/** Allocation and memory probes for the benchmarks. */
final class Heap {
  private static final com.sun.management.ThreadMXBean THREADS =
      (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

  private Heap() {}

  /** @return Java heap bytes allocated so far by the calling thread */
  static long allocatedBytes() {
    return THREADS.getCurrentThreadAllocatedBytes();
  }

  /**
   * Resets the peak resident set size to the current one (Linux: writes 5 to {@code
   * /proc/self/clear_refs}).
   *
   * @return whether the reset worked
   */
  static boolean resetPeakRss() {
    try {
      Files.writeString(Path.of("/proc/self/clear_refs"), "5");
      return true;
    } catch (java.io.IOException | RuntimeException e) {
      return false;
    }
  }

  /**
   * @return CPU time of the whole process (all threads, ONNX Runtime's native ones included) in
   *     nanoseconds, or -1 where the JVM cannot tell
   */
  static long processCpuNanos() {
    return ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
        ? os.getProcessCpuTime() : -1;
  }

  /** @return this process's peak resident set size in MiB (Linux {@code VmHWM}), or NaN elsewhere */
  static double peakRssMib() {
    return status("VmHWM:");
  }

  /** @return this process's resident set size in MiB (Linux {@code VmRSS}), or NaN elsewhere */
  static double rssMib() {
    return status("VmRSS:");
  }

  private static double status(String key) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith(key)) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      // not Linux
    }
    return Double.NaN;
  }
}
