package io.github.vlm4j.it.soak;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * The long soak, run by {@code bash benchmarks/soak.sh} (not by {@code mvn verify}: its class name
 * does not match Surefire's test patterns). Settings come from system properties (see {@link
 * SoakOptions#fromSystemProperties()}); the report is printed and written to {@code -Dsoak.report}.
 * Fails on mismatches, unexpected errors and hangs, never on memory figures (they are reported).
 */
class SoakLongRun {
  @Test
  void soak() throws Exception {
    SoakOptions o = SoakOptions.fromSystemProperties();
    SoakReport r = SoakHarness.run(o);
    r.publish();
    String why = r.format();
    assertEquals(0, r.mismatches(), why);
    assertEquals(0, r.errors(), why);
    assertEquals(0, r.hangs(), why);
    assertEquals(o.threads(), r.closedUnderRequests(), why);
  }
}
