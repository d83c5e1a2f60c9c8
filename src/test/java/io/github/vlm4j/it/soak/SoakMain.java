package io.github.vlm4j.it.soak;

import java.util.Map;

/**
 * Runs one soak from the command line ({@code benchmarks/soak.sh} calls it): {@code --minutes M}
 * {@code --caches on|off} {@code --threads N} {@code --seed S} {@code --warmup-minutes W} {@code
 * --sample-seconds S} {@code --goldens-per-model K} {@code --lenient-cancel-race} {@code --report FILE}
 * {@code --no-diagnostics} {@code --cpu-arena true|false}. Each option sets the {@code soak.*} system property of {@link
 * SoakOptions#fromSystemProperties()}. Exit status 0 when there were no mismatches, unexpected errors
 * or hangs, 1 otherwise, 2 for a bad command line.
 */
public final class SoakMain {
  private static final Map<String, String> PROPERTIES = Map.ofEntries(Map.entry("--minutes", "soak.minutes"),
      Map.entry("--caches", "soak.caches"), Map.entry("--threads", "soak.threads"), Map.entry("--seed", "soak.seed"),
      Map.entry("--warmup-minutes", "soak.warmupMinutes"), Map.entry("--sample-seconds", "soak.sampleSeconds"),
      Map.entry("--goldens-per-model", "soak.goldensPerModel"), Map.entry("--report", "soak.report"),
      Map.entry("--request-limit-seconds", "soak.requestLimitSeconds"), Map.entry("--cpu-arena", "soak.cpuArena"));

  private SoakMain() {}

  /**
   * @param args see the class comment
   * @throws Exception if the models do not load
   */
  public static void main(String[] args) throws Exception {
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--lenient-cancel-race")) {
        System.setProperty("soak.strictCancelRace", "false");
      } else if (a.equals("--no-diagnostics")) {
        System.setProperty("soak.diagnostics", "false");
      } else if (PROPERTIES.containsKey(a) && i + 1 < args.length) {
        System.setProperty(PROPERTIES.get(a), args[++i]);
      } else {
        System.err.println("unknown or incomplete option " + a + "; options: " + PROPERTIES.keySet()
            + " --lenient-cancel-race --no-diagnostics");
        System.exit(2);
      }
    }
    SoakOptions o;
    try {
      o = SoakOptions.fromSystemProperties();
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    SoakReport r = SoakHarness.run(o);
    r.publish();
    System.exit(r.mismatches() == 0 && r.errors() == 0 && r.hangs() == 0 && r.closedUnderRequests() == o.threads()
        ? 0 : 1);
  }
}
