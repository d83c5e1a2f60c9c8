package io.github.vlm4j.it.soak;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Settings of one soak run. Immutable; thread-safe.
 *
 * @param threads worker threads sharing each model (one session per thread and model)
 * @param duration how long the workers issue requests (the final close phase comes after)
 * @param warmup samples taken before this are left out of the RSS slope
 * @param sampleEvery interval between memory samples
 * @param requestLimit a request running longer than this is a hang (the watchdog reports it)
 * @param seed seeds every worker's request mix, so a run's sequence of requests per thread is reproducible
 * @param caches whether the image-feature and demo-prefix caches keep their defaults ({@code false}: both 0 bytes)
 * @param goldensPerModel how many golden cases of each model's goldens.json enter the mix (0 = all)
 * @param strictCancelRace count an {@code InferenceException} "Exiting due to terminate flag" on the
 *     request after a cancelled one as an error ({@code true}, the default since the race of issue #11
 *     item 4 was fixed) or only report it as "known cancel race" ({@code false}, for comparing with
 *     code from before that fix)
 * @param models the reference model folders' names under {@code src/test/resources/models}
 * @param reportFile where to write the report (also printed), if present
 * @param diagnostics after the workers stop, ask the JVM to trim the C heap ({@code jcmd
 *     System.trim_native_heap}) and sample RSS again, and with {@code -XX:NativeMemoryTracking} take a
 *     baseline at the end of the warm-up and a summary diff at the end
 * @param cpuArena whether ONNX Runtime's CPU memory arena is on (the default; {@code false} to tell its
 *     growth from other native memory)
 */
public record SoakOptions(int threads, Duration duration, Duration warmup, Duration sampleEvery, Duration requestLimit,
    long seed, boolean caches, int goldensPerModel, boolean strictCancelRace, List<String> models,
    Optional<Path> reportFile, boolean diagnostics, boolean cpuArena) {

  /** The committed tiny reference models. */
  public static final List<String> TINY_MODELS = List.of("vlm4j-tiny-idefics3", "vlm4j-tiny-llava", "vlm4j-tiny-modular");

  /** Checks the values. */
  public SoakOptions {
    if (threads < 1 || threads > 256) {
      throw new IllegalArgumentException("threads must be in [1, 256], got " + threads);
    }
    if (duration.isNegative() || warmup.isNegative() || sampleEvery.isZero() || sampleEvery.isNegative()
        || requestLimit.isZero() || requestLimit.isNegative()) {
      throw new IllegalArgumentException("durations must be positive: duration " + duration + ", warm-up " + warmup
          + ", sampleEvery " + sampleEvery + ", requestLimit " + requestLimit);
    }
    if (goldensPerModel < 0) {
      throw new IllegalArgumentException("goldensPerModel must be >= 0, got " + goldensPerModel);
    }
    models = List.copyOf(models);
  }

  /**
   * Reads the options from system properties ({@code soak.threads}, {@code soak.minutes} or {@code
   * soak.seconds}, {@code soak.warmupMinutes}, {@code soak.sampleSeconds}, {@code soak.requestLimitSeconds},
   * {@code soak.seed}, {@code soak.caches} = on|off, {@code soak.goldensPerModel}, {@code
   * soak.strictCancelRace}, {@code soak.report}, {@code soak.diagnostics}, {@code soak.cpuArena}); defaults are those of a long run (16 threads,
   * 20 minutes, 5 minutes warm-up, every golden case).
   *
   * @return the options
   */
  public static SoakOptions fromSystemProperties() {
    Duration duration = System.getProperty("soak.seconds") != null
        ? Duration.ofSeconds(Long.parseLong(System.getProperty("soak.seconds")))
        : Duration.ofSeconds(Math.round(Double.parseDouble(System.getProperty("soak.minutes", "20")) * 60));
    String caches = System.getProperty("soak.caches", "on").toLowerCase(Locale.ROOT);
    if (!caches.equals("on") && !caches.equals("off")) {
      throw new IllegalArgumentException("soak.caches must be on or off, got " + caches);
    }
    return new SoakOptions(
        Integer.getInteger("soak.threads", 16),
        duration,
        Duration.ofSeconds(Math.round(Double.parseDouble(System.getProperty("soak.warmupMinutes", "5")) * 60)),
        Duration.ofSeconds(Long.getLong("soak.sampleSeconds", 10L)),
        Duration.ofSeconds(Long.getLong("soak.requestLimitSeconds", 120L)),
        Long.getLong("soak.seed", 11L),
        caches.equals("on"),
        Integer.getInteger("soak.goldensPerModel", 0),
        Boolean.parseBoolean(System.getProperty("soak.strictCancelRace", "true")),
        TINY_MODELS,
        Optional.ofNullable(System.getProperty("soak.report")).map(Path::of),
        Boolean.parseBoolean(System.getProperty("soak.diagnostics", "true")),
        Boolean.parseBoolean(System.getProperty("soak.cpuArena", "true")));
  }
}
