package io.github.vlm4j.decoder.generation.constraint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dk.brics.automaton.Automaton;
import dk.brics.automaton.State;
import dk.brics.automaton.Transition;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The budgeted compiler accepts exactly the language dk.brics.automaton's own operations build (the
 * implementation main used before, kept in test scope as {@link BricsReferenceRegex} and {@link
 * BricsReferenceSchema}): for hand-picked and random regexes and for the random schemas of the
 * other tests, the two minimal DFAs are compared state pair by state pair over every char interval.
 */
class LanguageEquivalenceTest {
  private static final List<String> REGEXES = List.of("^\\d{3}-[a-z]+$", "say \"<hi>\" & @you #1 ~x",
      "a\\sb[\\w.]+(?:x|y)?", "[a-z]{1,5}", "\\d{2,4}", "(ab|cd)+", "[A-Z][a-z]*", "x?y?z", "ab(c|d)", "[0-9]+",
      ".*", "[^\"]*", "\\w+@\\w+\\.(com|org)", "(yes|no|maybe)", "-?\\d+(\\.\\d+)?([eE][+-]?\\d+)?",
      "a{2,5}b{0,3}c{2,}", "(a|b)*a(a|b){3}", "((a*)*)*b", "(a|aa)*c", "[]a]", "[^]a]+", "[a-]x", "[-a]",
      "\\t\\n\\r\\f\\.\\*\\\\", "[\\d\\s_]+", "[é-ü日本]{2}", "a$", "^$", "a\\$", "{\"k\": (1|2)}",
      "(?:ab){2}(cd)?", "[\\]\\[]", "a.b.c", "(a|b|c|d|e|f)*[^a-f]");

  @Test
  void handPickedRegexesCompileToTheReferenceLanguage() {
    for (String r : REGEXES) {
      assertSameLanguage(r, OutputConstraint.regex(r).dfa(), BricsReferenceRegex.parse(r));
    }
  }

  /** {@link OutputConstraint#jsonObject()} (the server's and LangChain4j's "any JSON object"). */
  @Test
  void theJsonObjectConstraintCompilesToTheReferenceLanguage() {
    assertSameLanguage("jsonObject", OutputConstraint.jsonObject().dfa(),
        BricsReferenceRegex.parse(OutputConstraint.JSON_OBJECT_REGEX));
  }

  @Test
  void randomRegexesCompileToTheReferenceLanguage() {
    SplittableRandom r = new SplittableRandom(20261201);
    for (int i = 0; i < 300; i++) {
      String regex = randomRegex(r, 0);
      Automaton reference = BricsReferenceRegex.parse(regex);
      if (reference.isEmpty()) {
        continue; // e.g. [^\u0000-\uffff]: both refuse an empty language
      }
      assertSameLanguage(regex, OutputConstraint.regex(regex).dfa(), reference);
    }
  }

  @Test
  void randomSchemasCompileToTheReferenceLanguage() {
    SplittableRandom r = new SplittableRandom(7);
    List<String> schemas = new ArrayList<>(List.of(
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"string\",\"maxLength\":2},"
            + "\"c\":{\"type\":\"boolean\"}},\"required\":[\"b\"],\"additionalProperties\":false}",
        "{\"type\":\"array\",\"items\":{\"enum\":[\"x\",1,null,{\"k\":[true]}]},\"minItems\":1,\"maxItems\":3}",
        "{\"type\":\"number\"}", "{\"const\":\"a\\\"b\"}", "{\"type\":\"string\",\"pattern\":\"^[A-Z]{2}\\\\d$\"}",
        "{\"type\":\"string\",\"minLength\":3,\"maxLength\":40}",
        "{\"type\":\"string\",\"pattern\":\"[a-z]+\",\"minLength\":2}",
        "{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"minItems\":2}"));
    for (int i = 0; i < 60; i++) {
      schemas.add(RandomSchemas.schema(r, 0));
    }
    for (String s : schemas) {
      Automaton reference = BricsReferenceSchema.compile(BricsReferenceSchema.parse(s));
      assertSameLanguage(s, OutputConstraint.jsonSchema(s).dfa(), reference);
    }
  }

  private static final String ATOMS = "abc";
  private static final String[] CLASSES = {".", "[a-c]", "[^b]", "\\d", "\\w", "[ab\\d]", "\"", "&", "#", "~", "@",
      "<", ">", "\\.", "\\*", "[\\s-]", "é"};

  private static String randomRegex(SplittableRandom r, int depth) {
    int parts = 1 + r.nextInt(4);
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < parts; i++) {
      int k = r.nextInt(depth >= 2 ? 6 : 9);
      String atom;
      if (k < 3) {
        atom = String.valueOf(ATOMS.charAt(r.nextInt(ATOMS.length())));
      } else if (k < 6) {
        atom = CLASSES[r.nextInt(CLASSES.length)];
      } else if (k < 8) {
        atom = "(" + randomRegex(r, depth + 1) + ")";
      } else {
        atom = "(" + randomRegex(r, depth + 1) + "|" + randomRegex(r, depth + 1) + ")";
      }
      s.append(atom);
      switch (r.nextInt(8)) {
        case 0 -> s.append('*');
        case 1 -> s.append('+');
        case 2 -> s.append('?');
        case 3 -> {
          int lo = r.nextInt(3);
          s.append('{').append(lo).append(r.nextBoolean() ? "" : "," + (r.nextBoolean() ? "" : lo + r.nextInt(3)))
              .append('}');
        }
        default -> { }
      }
    }
    return s.toString();
  }

  /** Compares the languages of a table DFA and a brics automaton, failing with a distinguishing text. */
  static void assertSameLanguage(String what, CharDfa mine, Automaton reference) {
    Automaton ref = reference.clone();
    ref.determinize();
    Set<State> live = live(ref);
    record Pair(int q, State s, String path) {}
    ArrayDeque<Pair> queue = new ArrayDeque<>();
    Set<String> seen = new HashSet<>();
    Map<State, Integer> ids = new HashMap<>();
    for (State s : ref.getStates()) {
      ids.put(s, ids.size());
    }
    State init = live.contains(ref.getInitialState()) ? ref.getInitialState() : null;
    queue.add(new Pair(mine.start(), init, ""));
    seen.add(mine.start() + ":" + (init == null ? -1 : ids.get(init)));
    int pairs = 0;
    while (!queue.isEmpty()) {
      Pair p = queue.poll();
      pairs++;
      boolean a = p.q() >= 0 && mine.accepting(p.q());
      boolean b = p.s() != null && p.s().isAccept();
      if (a != b) {
        fail(what + ": " + (a ? "only the budgeted compiler" : "only the reference") + " accepts \"" + p.path() + "\"");
      }
      if (p.q() < 0 && p.s() == null) {
        continue;
      }
      if ((p.q() < 0) != (p.s() == null)) {
        fail(what + ": after \"" + p.path() + "\" only " + (p.q() >= 0 ? "the budgeted compiler" : "the reference")
            + " can still match");
      }
      TreeSet<Integer> points = new TreeSet<>();
      for (int c = 0; c <= 128; c++) {
        points.add(c);
      }
      int[] high = mine.highRanges(p.q());
      for (int i = 0; i < high.length; i += 3) {
        points.add(high[i]);
        points.add(high[i + 1] + 1);
      }
      for (Transition t : p.s().getTransitions()) {
        points.add((int) t.getMin());
        points.add(t.getMax() + 1);
      }
      for (int c : points) {
        if (c > 0xFFFF) {
          continue;
        }
        int q = mine.step(p.q(), (char) c);
        State s = p.s().step((char) c);
        if (s != null && !live.contains(s)) {
          s = null;
        }
        String key = q + ":" + (s == null ? -1 : ids.get(s));
        if (seen.add(key)) {
          queue.add(new Pair(q, s, p.path().length() < 60 ? p.path() + (char) c : p.path()));
        }
      }
    }
    assertTrue(pairs >= mine.size(), what + ": every state of the budgeted DFA was compared");
    assertEquals(mine.size(), minimalSize(reference), what + ": both are minimal, so equally large");
  }

  private static int minimalSize(Automaton reference) {
    Automaton m = reference.clone();
    m.minimize();
    return live(m).size();
  }

  private static Set<State> live(Automaton a) {
    Map<State, List<State>> reverse = new HashMap<>();
    ArrayDeque<State> queue = new ArrayDeque<>();
    Set<State> live = new HashSet<>();
    for (State s : a.getStates()) {
      for (Transition t : s.getTransitions()) {
        reverse.computeIfAbsent(t.getDest(), k -> new ArrayList<>()).add(s);
      }
      if (s.isAccept()) {
        live.add(s);
        queue.add(s);
      }
    }
    while (!queue.isEmpty()) {
      for (State p : reverse.getOrDefault(queue.poll(), List.of())) {
        if (live.add(p)) {
          queue.add(p);
        }
      }
    }
    return live;
  }
}
