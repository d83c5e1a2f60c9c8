package io.github.vlm4j.decoder.generation.constraint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.vlm4j.core.VlmInputException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hostile regexes and schemas: each is refused with INVALID_OPTION naming the limit (or, where the
 * input only looks hostile, compiles), always within a bounded time and without an Error. Cases that
 * may be refused run with a 2 s compile limit (the default, used for those that must compile, is
 * 5 s) to keep the test short; a refusal that depends on
 * the machine's speed accepts either the state limit or the time limit. The time bound asserted is
 * generous (10 s, the build machine is shared); the measured time is printed.
 */
class HostileConstraintTest {
  private static final long BOUND_MILLIS = 10_000;
  private static final long LIMIT_MILLIS = 2_000;
  /** The refusal of an automaton too large to build within the limits, by size or by time. */
  private static final String TOO_LARGE = "more than 200000 automaton states|took longer than 2 s";

  /** Marks a case that may compile or be refused (depending on the machine's speed), typed either way. */
  private static final String EITHER = "*";

  /** A hostile input, the text the refusal must contain (null: it must compile; EITHER: either). */
  record Case(String name, Supplier<OutputConstraint> compile, String refusal) {
    @Override
    public String toString() {
      return name;
    }
  }

  private static Case regex(String name, String regex, String refusal) {
    return new Case(name, () -> OutputConstraint.regex(regex, budget(refusal)), refusal);
  }

  private static Case schema(String name, String schema, String refusal) {
    return new Case(name, () -> OutputConstraint.jsonSchema(schema, budget(refusal)), refusal);
  }

  /** The default limits for inputs that must compile, a 2 s time limit for the others. */
  private static CompileBudget budget(String refusal) {
    return refusal == null ? CompileBudget.standard() : CompileBudget.withMillis(LIMIT_MILLIS);
  }

  static List<Case> cases() {
    List<Case> c = new ArrayList<>();
    c.add(regex("(a|b)*a(a|b){20}: 2^21 DFA states", "(a|b)*a(a|b){20}", TOO_LARGE));
    c.add(regex("a{100000}", "a{100000}", "repeats 100000 times \\(at position 1\\); at most 1000 are supported"));
    c.add(regex("a{99999999999999999999}", "a{99999999999999999999}", "at most 1000 are supported"));
    c.add(regex("(a{1000}){1000}", "(a{1000}){1000}", "make 1000000 copies of a part \\(at position 9\\); at most 10000"));
    c.add(regex("a{1000}{1000}", "a{1000}{1000}", "make 1000000 copies"));
    c.add(regex(".{0,1000}x.{0,1000}: exponential subsets", ".{0,1000}x.{0,1000}", TOO_LARGE));
    c.add(regex("10,000 (", "(".repeat(10_000) + "a" + ")".repeat(10_000), "at most 10000 are supported"));
    c.add(regex("4,000 ( nested", "(".repeat(4_000) + "a" + ")".repeat(4_000), "nests groups"));
    c.add(regex("200 stacked *", "a" + "*".repeat(200), "stacks quantifiers"));
    c.add(regex("10,001 chars", "a".repeat(10_001), "at most 10000 are supported"));
    c.add(regex("class of 3,000 chars {1000}", bigClass(3_000) + "{1000}", "more than 1000000 automaton transitions"));
    c.add(regex("(.{10}){1000} ^ 10 alternatives", "((.|a|b|c|d|e|f|g|h|i){10}){1000}", null));
    c.add(regex("((a*)*)*b", "((a*)*)*b", null));
    c.add(regex("(a|aa)*c", "(a|aa)*c", null));
    c.add(regex("(a?){1000}a{1000}", "(a?){1000}a{1000}", null));
    c.add(regex(".{1000}", ".{1000}", null));
    c.add(regex("(x+x+)+y", "(x+x+)+y", null));
    c.add(regex("alternation of 1,400 words", words(1_400), null));
    c.add(regex("(a|b)*a(a|b){16}: 2^17 DFA states", "(a|b)*a(a|b){16}", EITHER));
    c.add(schema("pattern with blow-up in a property",
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"(a|b)*a(a|b){20}\"}}}",
        "at \\$\\.properties\\.a\\.pattern: the constraint needs more than 200000|took longer than 2 s"));
    c.add(schema("pattern .{0,500}x.{0,500} with maxLength 1000",
        "{\"type\":\"string\",\"pattern\":\".{0,500}x.{0,500}\",\"maxLength\":1000}", TOO_LARGE));
    c.add(schema("maxLength 100000", "{\"type\":\"string\",\"maxLength\":100000}", "\\[0, 1000\\], found 100000"));
    c.add(schema("minItems 1000000", "{\"type\":\"array\",\"items\":{\"type\":\"null\"},\"minItems\":1000000}",
        "\\[0, 100\\], found 1000000"));
    c.add(schema("arrays of 100 in arrays of 100 of strings of 1000", """
        {"type":"array","maxItems":100,"items":{"type":"array","maxItems":100,"items":
         {"type":"string","maxLength":1000}}}""", "more than 1000000 automaton (states|transitions) before|took longer"));
    c.add(schema("2,000 properties of strings of 1000", properties(2_000), "more than 1000000 automaton (states|transitions) before|took longer"));
    c.add(schema("2,000 properties with distinct patterns", patternProperties(2_000), "automaton|took longer than 2 s"));
    c.add(schema("depth 20", "{\"type\":\"array\",\"items\":".repeat(20) + "{\"type\":\"null\"}" + "}".repeat(20),
        "deeper"));
    c.add(schema("JSON nested 10,000 deep", "{\"a\":".repeat(10_000) + "1" + "}".repeat(10_000), "not valid JSON"));
    c.add(schema("enum of 200 KiB", enumOf(16_000, 10), null));
    c.add(new Case("25,000 choices", () -> OutputConstraint.choice(choices(25_000)), "expected at most 10000 choices, found 25000"));
    return c;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void refusedTypedOrCompiledWithinTheBound(Case c) {
    long t0 = System.nanoTime();
    String outcome;
    if (c.refusal() == null) {
      OutputConstraint oc = c.compile().get();
      outcome = "compiled: " + oc.dfa().size() + " states";
    } else if (c.refusal().equals(EITHER)) {
      try {
        outcome = "compiled: " + c.compile().get().dfa().size() + " states";
      } catch (VlmInputException e) {
        assertEquals(VlmInputException.Reason.INVALID_OPTION, e.reason());
        outcome = "refused: " + e.getMessage();
      }
    } else {
      VlmInputException e = assertThrows(VlmInputException.class, () -> c.compile().get());
      assertEquals(VlmInputException.Reason.INVALID_OPTION, e.reason());
      assertTrue(Pattern.compile(c.refusal()).matcher(e.getMessage()).find(),
          () -> "expected /" + c.refusal() + "/ in: " + e.getMessage());
      outcome = "refused: " + e.getMessage();
    }
    long ms = (System.nanoTime() - t0) / 1_000_000;
    System.out.printf(Locale.ROOT, "HOSTILE %-55s %6d ms  %s%n", c.name(), ms,
        outcome.length() > 220 ? outcome.substring(0, 220) + "..." : outcome);
    assertTrue(ms < BOUND_MILLIS, c.name() + " took " + ms + " ms");
  }

  @Test
  void theTimeLimitStopsALongCompilationWithTheLimitNamed() {
    long t0 = System.nanoTime();
    VlmInputException e = assertThrows(VlmInputException.class,
        () -> OutputConstraint.regex("(a|b)*a(a|b){16}", CompileBudget.withMillis(50)));
    long ms = (System.nanoTime() - t0) / 1_000_000;
    System.out.println("HOSTILE (a|b)*a(a|b){16} with a 50 ms limit: refused after " + ms + " ms: " + e.getMessage());
    assertEquals(VlmInputException.Reason.INVALID_OPTION, e.reason());
    assertTrue(e.getMessage().contains("took longer than 50 ms"), e.getMessage());
    assertTrue(ms < 5_000, ms + " ms");
  }

  @Test
  void theTimeLimitIsConfigurableBySystemProperty() {
    String old = System.getProperty(CompileBudget.MILLIS_PROPERTY);
    try {
      System.setProperty(CompileBudget.MILLIS_PROPERTY, "1234");
      assertEquals(1234, CompileBudget.standard().millis());
      System.setProperty(CompileBudget.MILLIS_PROPERTY, "not a number");
      assertEquals(CompileBudget.DEFAULT_MILLIS, CompileBudget.standard().millis());
    } finally {
      if (old == null) {
        System.clearProperty(CompileBudget.MILLIS_PROPERTY);
      } else {
        System.setProperty(CompileBudget.MILLIS_PROPERTY, old);
      }
    }
  }

  @Test
  void compilationsBeyondTheConcurrentFewWaitWithinTheirTimeLimit() {
    CompileBudget holder = CompileBudget.withMillis(10_000);
    CompileBudget.Turn a = holder.turn();
    CompileBudget.Turn b = holder.turn();
    try {
      long t0 = System.nanoTime();
      VlmInputException e = assertThrows(VlmInputException.class,
          () -> OutputConstraint.regex("a", CompileBudget.withMillis(200)));
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertEquals(VlmInputException.Reason.INVALID_OPTION, e.reason());
      assertTrue(e.getMessage().contains("waiting for other compilations"), e.getMessage());
      assertTrue(ms >= 150 && ms < 5_000, ms + " ms");
    } finally {
      a.close();
      b.close();
    }
    OutputConstraint.regex("a", CompileBudget.withMillis(200)); // a turn is free again
  }

  @Test
  void aBudgetIsReturnedAfterEachCompilationSoLaterOnesAreNotStarved() {
    CompileBudget shared = CompileBudget.withMillis(10_000);
    for (int i = 0; i < 50; i++) {
      OutputConstraint.regex("[a-z]{1000}", shared);
    }
  }

  private static String bigClass(int n) {
    StringBuilder s = new StringBuilder("[");
    for (int i = 0; i < n; i++) {
      s.append((char) (0x4E00 + 2 * i));
    }
    return s.append(']').toString();
  }

  private static String words(int n) {
    SplittableRandom r = new SplittableRandom(1);
    List<String> w = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      w.add(Integer.toString(r.nextInt(1 << 30), 36));
    }
    return "(" + String.join("|", w) + ")";
  }

  private static String properties(int n) {
    StringBuilder s = new StringBuilder("{\"type\":\"object\",\"properties\":{");
    for (int i = 0; i < n; i++) {
      s.append(i == 0 ? "" : ",").append("\"p").append(i).append("\":{\"type\":\"string\",\"maxLength\":1000}");
    }
    return s.append("}}").toString();
  }

  private static String patternProperties(int n) {
    StringBuilder s = new StringBuilder("{\"type\":\"object\",\"properties\":{");
    for (int i = 0; i < n; i++) {
      s.append(i == 0 ? "" : ",").append("\"p").append(i).append("\":{\"type\":\"string\",\"pattern\":\"(a|b)*a(a|b){")
          .append(10 + i % 7).append("}x").append(i).append("\"}");
    }
    return s.append("}}").toString();
  }

  private static String enumOf(int n, int len) {
    SplittableRandom r = new SplittableRandom(2);
    StringBuilder s = new StringBuilder("{\"enum\":[");
    for (int i = 0; i < n; i++) {
      s.append(i == 0 ? "" : ",").append('"');
      for (int k = 0; k < len; k++) {
        s.append((char) ('a' + r.nextInt(26)));
      }
      s.append('"');
    }
    return s.append("]}").toString();
  }

  private static List<String> choices(int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add("c" + i);
    }
    return out;
  }
}
