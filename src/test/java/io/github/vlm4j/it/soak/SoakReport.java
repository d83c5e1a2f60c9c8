package io.github.vlm4j.it.soak;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a soak run did and measured: request counts by kind, problems (mismatches, unexpected errors
 * by type, hangs, the known cancel race), and memory over time with least-squares slopes after the
 * warm-up.
 *
 * <p><b>Thread-safety:</b> immutable once built; read it after {@link SoakHarness#run} returned.
 */
public final class SoakReport {
  private final SoakOptions options;
  private final double referenceSeconds;
  private final double rssBeforeLoadMb;
  private final double rssAfterReferencesMb;
  private final double runSeconds;
  private final SoakStats stats;
  private final List<MemorySampler.Sample> samples;
  private final double warmupSeconds;
  private final String nmtBaseline;
  private final String nmtDiff;
  private final String gcEffect;
  private final double rssBeforeTrimMb;
  private final double rssAfterTrimMb;
  private final Map<String, Long> cacheStats;

  SoakReport(SoakOptions options, double referenceSeconds, double rssBeforeLoadMb, double rssAfterReferencesMb,
      double runSeconds, SoakStats stats,
      List<MemorySampler.Sample> samples, double warmupSeconds, String nmtBaseline, String nmtDiff, String gcEffect,
      double rssBeforeTrimMb, double rssAfterTrimMb, Map<String, Long> cacheStats) {
    this.options = options;
    this.referenceSeconds = referenceSeconds;
    this.rssBeforeLoadMb = rssBeforeLoadMb;
    this.rssAfterReferencesMb = rssAfterReferencesMb;
    this.runSeconds = runSeconds;
    this.stats = stats;
    this.samples = List.copyOf(samples);
    this.warmupSeconds = warmupSeconds;
    this.nmtBaseline = nmtBaseline;
    this.nmtDiff = nmtDiff;
    this.gcEffect = gcEffect;
    this.rssBeforeTrimMb = rssBeforeTrimMb;
    this.rssAfterTrimMb = rssAfterTrimMb;
    this.cacheStats = new TreeMap<>(cacheStats);
  }

  /** @return requests that ended as expected, by kind */
  public Map<String, Long> requestsByKind() {
    return stats.withPrefix("requests.");
  }

  /** @return every request that ended as expected */
  public long requests() {
    return requestsByKind().values().stream().mapToLong(Long::longValue).sum();
  }

  /** @return successful outputs that differ from their golden or single-thread result, and wrong outcomes */
  public long mismatches() {
    return stats.get(SoakStats.MISMATCH);
  }

  /** @return exceptions valid requests should not end with, by class name */
  public Map<String, Long> errorsByType() {
    return stats.withPrefix(SoakStats.ERROR + ".");
  }

  /** @return every unexpected exception */
  public long errors() {
    return errorsByType().values().stream().mapToLong(Long::longValue).sum();
  }

  /** @return unexpected exceptions that are none of vlm4j's typed exceptions or {@code CancellationException} */
  public long untypedErrors() {
    return errorsByType().entrySet().stream()
        .filter(e -> !List.of("io.github.vlm4j.core.VlmInputException", "io.github.vlm4j.core.InferenceException",
            "io.github.vlm4j.core.ModelClosedException", "java.util.concurrent.CancellationException")
            .contains(e.getKey().substring(SoakStats.ERROR.length() + 1)))
        .mapToLong(Map.Entry::getValue).sum();
  }

  /** @return requests (or closes) that exceeded the watchdog's limit */
  public long hangs() {
    return stats.get(SoakStats.HANG);
  }

  /** @return requests after a cancelled one that failed with "Exiting due to terminate flag" */
  public long knownCancelRace() {
    return stats.get(SoakStats.KNOWN_CANCEL_RACE);
  }

  /** @return requests that ended with ModelClosedException when the models were closed under them */
  public long closedUnderRequests() {
    return stats.get("closePhase.ModelClosedException");
  }

  /** @return the first problems, each with its description */
  public List<String> examples() {
    return stats.examples();
  }

  /** @return the RSS slope after the warm-up, MB per minute (NaN with fewer than 3 samples after it) */
  public double rssSlopeMbPerMinute() {
    return MemorySampler.slopePerMinute(samples, warmupSeconds, MemorySampler.Sample::rssMb);
  }

  /** @return the RSS slope after the warm-up, MB per 1000 completed requests (NaN without requests) */
  public double rssSlopeMbPerThousandRequests() {
    return 1000 * MemorySampler.slope(samples, warmupSeconds, s -> s.requests(), MemorySampler.Sample::rssMb);
  }

  /**
   * @return the slope of RSS minus the committed Java heap after the warm-up, MB per minute: the
   *     growth outside the heap (native memory, metaspace, code, thread stacks)
   */
  public double nonHeapRssSlopeMbPerMinute() {
    return MemorySampler.slopePerMinute(samples, warmupSeconds, s -> s.rssMb() - s.heapCommittedMb());
  }

  /** @return the slope of heap in use after the warm-up, MB per minute */
  public double heapSlopeMbPerMinute() {
    return MemorySampler.slopePerMinute(samples, warmupSeconds, MemorySampler.Sample::heapUsedMb);
  }

  /** @return the memory samples */
  public List<MemorySampler.Sample> samples() {
    return samples;
  }

  private MemorySampler.Sample firstAfterWarmup() {
    return samples.stream().filter(s -> s.seconds() >= warmupSeconds).findFirst().orElse(samples.get(samples.size() - 1));
  }

  /** @return a human-readable summary (also the file {@link SoakOptions#reportFile()} gets) */
  public String format() {
    StringBuilder b = new StringBuilder();
    MemorySampler.Sample first = samples.get(0);
    MemorySampler.Sample warm = firstAfterWarmup();
    MemorySampler.Sample last = samples.get(samples.size() - 1);
    double maxRss = samples.stream().mapToDouble(MemorySampler.Sample::rssMb).max().orElse(Double.NaN);
    long afterWarmup = samples.stream().filter(s -> s.seconds() >= warmupSeconds).count();
    b.append(String.format(Locale.ROOT, "soak: %d threads on %s, caches %s, ONNX Runtime CPU arena %s, seed %d, %.0f s of requests (warm-up %.0f s),"
            + " references computed in %.1f s%n", options.threads(), options.models(), options.caches() ? "on" : "off",
        options.cpuArena() ? "on" : "off", options.seed(), runSeconds, warmupSeconds, referenceSeconds));
    b.append(String.format(Locale.ROOT, "requests: %d (%.2f/s) %s%n", requests(), requests() / runSeconds,
        requestsByKind()));
    b.append("outcomes: ").append(stats.withPrefix("cancel.")).append(' ').append(stats.withPrefix("sessionClose."))
        .append(' ').append(stats.withPrefix("bad.")).append(System.lineSeparator());
    b.append("caches: ").append(cacheStats).append(System.lineSeparator());
    b.append(String.format(Locale.ROOT, "mismatches: %d, errors: %d %s (untyped %d), hangs: %d, known cancel race: %d,"
            + " closed under running requests: %d of %d%n", mismatches(), errors(), errorsByType(), untypedErrors(),
        hangs(), knownCancelRace(), closedUnderRequests(), options.threads()));
    b.append(String.format(Locale.ROOT, "RSS MB: start %.1f, after warm-up %.1f, end %.1f, max %.1f; slope after warm-up"
            + " %.2f MB/min (%.3f MB per 1000 requests) over %d samples (%.1f min, %d requests)%n", first.rssMb(),
        warm.rssMb(), last.rssMb(), maxRss, rssSlopeMbPerMinute(), rssSlopeMbPerThousandRequests(), afterWarmup,
        (last.seconds() - warm.seconds()) / 60, last.requests() - warm.requests()));
    b.append(String.format(Locale.ROOT, "RSS MB before loading the models %.1f, after the single-thread references"
        + " %.1f; RSS minus committed heap: start %.1f, end %.1f, slope after warm-up %.2f MB/min%n", rssBeforeLoadMb,
        rssAfterReferencesMb, first.rssMb() - first.heapCommittedMb(), last.rssMb() - last.heapCommittedMb(),
        nonHeapRssSlopeMbPerMinute()));
    b.append(String.format(Locale.ROOT, "heap used MB: start %.1f, end %.1f, slope after warm-up %.2f MB/min; committed"
            + " end %.1f; direct buffers MB %.1f -> %.1f (max %.1f); threads %d -> %d; open fds %d -> %d%n",
        first.heapUsedMb(), last.heapUsedMb(), heapSlopeMbPerMinute(), last.heapCommittedMb(), first.directMb(),
        last.directMb(), samples.stream().mapToDouble(MemorySampler.Sample::directMb).max().orElse(Double.NaN),
        first.threads(), last.threads(), first.fds(), last.fds()));
    if (gcEffect != null) {
      b.append("after the workers stopped, System.gc(): ").append(gcEffect).append(System.lineSeparator());
    }
    if (!Double.isNaN(rssAfterTrimMb)) {
      b.append(String.format(Locale.ROOT, "then malloc_trim: RSS %.1f MB; after malloc_trim (jcmd"
          + " System.trim_native_heap): %.1f MB%n", rssBeforeTrimMb, rssAfterTrimMb));
    }
    b.append("RSS series (s:MB):");
    int step = Math.max(1, samples.size() / 40);
    for (int i = 0; i < samples.size(); i += step) {
      b.append(String.format(Locale.ROOT, " %.0f:%.0f", samples.get(i).seconds(), samples.get(i).rssMb()));
    }
    b.append(System.lineSeparator());
    if (nmtDiff != null) {
      b.append("NMT baseline: ").append(nmtBaseline == null ? "none" : nmtBaseline.strip()).append(System.lineSeparator());
      b.append("NMT summary.diff since the end of the warm-up:").append(System.lineSeparator()).append(nmtDiff);
    }
    for (String e : examples()) {
      b.append("  ").append(e).append(System.lineSeparator());
    }
    return b.toString();
  }

  /**
   * Prints the summary; if {@link SoakOptions#reportFile()} is set, writes it there and the memory
   * samples next to it ({@code <file>.csv}).
   */
  public void publish() {
    String text = format();
    System.out.println(text);
    options.reportFile().ifPresent(f -> {
      try {
        Files.writeString(f, text);
        StringBuilder csv = new StringBuilder(
            "seconds,requests,rss_mb,heap_used_mb,heap_committed_mb,direct_mb,threads,fds\n");
        for (MemorySampler.Sample m : samples) {
          csv.append(String.format(Locale.ROOT, "%.1f,%d,%.1f,%.1f,%.1f,%.1f,%d,%d%n", m.seconds(), m.requests(),
              m.rssMb(), m.heapUsedMb(), m.heapCommittedMb(), m.directMb(), m.threads(), m.fds()));
        }
        Files.writeString(f.resolveSibling(f.getFileName() + ".csv"), csv);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
  }
}
