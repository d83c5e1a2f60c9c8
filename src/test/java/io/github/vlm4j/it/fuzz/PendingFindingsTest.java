package io.github.vlm4j.it.fuzz;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.vlm4j.it.Fixtures;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Replays the pending findings ({@code src/test/resources/fuzz/pending/<Harness>Inputs/<method>/*},
 * inputs that fail today and are kept out of the regression corpus so that {@code mvn verify} stays
 * green) through their harnesses and fails listing those that still fail. Run it after merging the
 * fixes: {@code mvn -B -pl src/test -am -Dtest=PendingFindingsTest -Dfuzz.pending=true
 * -Dsurefire.failIfNoSpecifiedTests=false verify}; move each input that passes into {@code
 * fuzz/corpus/io/github/vlm4j/it/fuzz/<Harness>Inputs/<method>/} and update FINDINGS.md.
 */
@Tag("fuzz") // runs in the fuzz-regression JVM (src/test/pom.xml), also under -Dtest
@EnabledIfSystemProperty(named = "fuzz.pending", matches = "true")
class PendingFindingsTest {
  @Test
  void pendingFindingsNowPass() throws Exception {
    Path pending = Fixtures.models().getParent().resolve("fuzz/pending");
    List<String> stillFailing = new ArrayList<>();
    List<String> passing = new ArrayList<>();
    try (Stream<Path> s = Files.walk(pending)) {
      for (Path input : s.filter(Files::isRegularFile).sorted().toList()) {
        Path rel = pending.relativize(input);
        if (rel.getNameCount() < 3 || !rel.getName(0).toString().endsWith("Inputs")) {
          continue; // e.g. malformed-folders.txt
        }
        String harness = rel.getName(0).toString().replaceFirst("Inputs$", "");
        String method = rel.getName(1).toString();
        Class<?> cls = Class.forName(PendingFindingsTest.class.getPackageName() + "." + harness);
        Method m = cls.getDeclaredMethod(method, byte[].class);
        m.setAccessible(true);
        Constructor<?> c = cls.getDeclaredConstructor();
        c.setAccessible(true);
        try {
          m.invoke(c.newInstance(), (Object) Files.readAllBytes(input));
          passing.add(rel.toString());
        } catch (InvocationTargetException e) {
          StringWriter w = new StringWriter();
          e.getCause().printStackTrace(new PrintWriter(w));
          stillFailing.add(rel + "\n" + w.toString().lines().limit(25).reduce((a, b) -> a + "\n" + b).orElse(""));
        }
      }
    }
    passing.forEach(p -> System.out.println("PENDING-NOW-PASSES " + p));
    stillFailing.forEach(p -> System.out.println("PENDING-STILL-FAILS " + p));
    assertTrue(stillFailing.isEmpty(), stillFailing.size() + " pending findings still fail (" + passing.size()
        + " pass):\n" + String.join("\n\n", stillFailing));
  }
}
