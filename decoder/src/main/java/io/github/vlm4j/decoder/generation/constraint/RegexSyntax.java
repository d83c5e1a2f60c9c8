package io.github.vlm4j.decoder.generation.constraint;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The regular-expression syntax of {@link OutputConstraint#regex}, parsed here (iteratively within a
 * group, recursively only into groups, whose nesting is limited) into a small tree, checked against
 * the limits below, then built into automata under a {@link CompileBudget}.
 *
 * <ul>
 *   <li>Literal chars, {@code .} (any char), {@code [...]} and {@code [^...]} classes with ranges,
 *       {@code |}, {@code ( )}, {@code (?: )}, {@code * + ?}, {@code {n}}, {@code {n,}}, {@code {n,m}}.
 *   <li>{@code \d}, {@code \w}, {@code \s} (also inside classes) mean {@code [0-9]},
 *       {@code [A-Za-z0-9_]} and {@code [ \t\n\r\f]}; {@code \t \n \r \f} are those control chars;
 *       any other {@code \c} is the char {@code c} itself. {@code \D \W \S \b \B} and back-references are refused.
 *   <li>The expression must match the whole output: a leading {@code ^} and a trailing {@code $} are
 *       accepted and ignored. {@code " & ~ # @ < >}, {@code $} elsewhere and a {@code &#123;} that
 *       follows nothing to repeat are ordinary chars; an empty alternative matches the empty string.
 * </ul>
 *
 * <p>Limits (checked before any automaton is built): at most {@value #MAX_CHARS} chars, groups and
 * stacked quantifiers nested at most {@value #MAX_NESTING} deep, repetition counts at most {@value
 * #MAX_REPEAT}, and nested repetitions multiplying to at most {@value #MAX_COPIES} copies of any part.
 */
final class RegexSyntax {
  /** Longest expression accepted, in chars. */
  static final int MAX_CHARS = 10_000;
  /** Deepest nesting of groups and stacked quantifiers. */
  static final int MAX_NESTING = 100;
  /** Largest count in {@code {n}}, {@code {n,}}, {@code {n,m}}. */
  static final int MAX_REPEAT = 1000;
  /** Most copies nested repetitions may make of a part (the product of their counts). */
  static final int MAX_COPIES = 10_000;

  private static final int[] DIGIT = {'0', '9'};
  private static final int[] WORD = {'0', '9', 'A', 'Z', '_', '_', 'a', 'z'};
  private static final int[] SPACE = {'\t', '\n', '\f', '\r', ' ', ' '};

  /** A parsed expression. */
  private sealed interface Node permits Chars, Seq, Alt, Rep {}

  /** One char of a set: sorted disjoint [lo, hi] pairs. */
  private record Chars(int[] ranges) implements Node {}

  private record Seq(List<Node> items) implements Node {}

  private record Alt(List<Node> options) implements Node {}

  /** {@code min} to {@code max} (-1: unbounded) repetitions; {@code copies}: most copies of any part. */
  private record Rep(Node body, int min, int max, long copies) implements Node {}

  private final String text;
  private final int end;
  private int pos;

  private RegexSyntax(String regex) {
    text = regex;
    int e = regex.length();
    if (e > (regex.startsWith("^") ? 1 : 0) && regex.charAt(e - 1) == '$' && !escaped(regex, e - 1)) {
      e--;
    }
    end = e;
    pos = regex.startsWith("^") ? 1 : 0;
  }

  /**
   * Compiles an expression to a minimal DFA.
   *
   * @param regex the expression in the syntax above
   * @param budget the compile limits
   * @return its minimal DFA (empty if no text matches)
   * @throws IllegalArgumentException saying what is wrong and where, or which limit it exceeds
   */
  static Dfa compile(String regex, CompileBudget budget) {
    return minimal(parse(regex), budget);
  }

  /** Parses and checks the limits; builds nothing. */
  private static Node parse(String regex) {
    if (regex.length() > MAX_CHARS) {
      throw new ConstraintTooComplexException("the regex has " + regex.length() + " chars; at most " + MAX_CHARS
          + " are supported");
    }
    RegexSyntax p = new RegexSyntax(regex);
    Node n = p.alternation(0);
    if (p.pos < p.end) {
      throw new IllegalArgumentException("unbalanced ) at position " + p.pos);
    }
    return n;
  }

  /**
   * The minimal DFA of a subtree. Like dk.brics.automaton, every group and repetition is made
   * minimal on its own before it is used, so that subset constructions run over small pieces.
   */
  private static Dfa minimal(Node n, CompileBudget budget) {
    Nfa nfa = new Nfa(budget);
    try {
      Nfa.Frag f = build(nfa, n);
      return Dfa.determinize(nfa, f).minimize(budget);
    } finally {
      nfa.release();
    }
  }

  private static Nfa.Frag build(Nfa nfa, Node n) {
    if (n instanceof Chars c) {
      return nfa.charSet(c.ranges());
    }
    if (n instanceof Seq s) {
      Nfa.Frag f = nfa.empty();
      for (Node item : s.items()) {
        f = nfa.concat(f, part(nfa, item));
      }
      return f;
    }
    if (n instanceof Alt a) {
      List<Nfa.Frag> parts = new ArrayList<>();
      for (Node o : a.options()) {
        parts.add(part(nfa, o));
      }
      return nfa.union(parts);
    }
    Rep r = (Rep) n;
    Dfa body = minimal(r.body(), nfa.budget());
    return nfa.repeat(() -> nfa.embed(body), r.min(), r.max());
  }

  /** A part of a sequence or alternation: a char set inline, anything else minimized first. */
  private static Nfa.Frag part(Nfa nfa, Node n) {
    return n instanceof Chars ? build(nfa, n) : nfa.embed(minimal(n, nfa.budget()));
  }

  private Node alternation(int depth) {
    if (depth > MAX_NESTING) {
      throw new ConstraintTooComplexException("the regex nests groups and quantifiers more than " + MAX_NESTING
          + " deep (at position " + pos + "); at most " + MAX_NESTING + " are supported");
    }
    List<Node> options = new ArrayList<>();
    options.add(sequence(depth));
    while (pos < end && text.charAt(pos) == '|') {
      pos++;
      options.add(sequence(depth));
    }
    return options.size() == 1 ? options.get(0) : new Alt(options);
  }

  private Node sequence(int depth) {
    List<Node> items = new ArrayList<>();
    while (pos < end) {
      char c = text.charAt(pos);
      if (c == '|' || c == ')') {
        break;
      }
      if (c == '*' || c == '+' || c == '?') {
        throw new IllegalArgumentException("nothing to repeat before " + c + " at position " + pos);
      }
      Node atom = atom(depth);
      int stacked = 0;
      while (pos < end && "*+?{".indexOf(text.charAt(pos)) >= 0) {
        if (depth + ++stacked > MAX_NESTING) {
          throw new ConstraintTooComplexException("the regex stacks quantifiers more than " + MAX_NESTING
              + " deep (at position " + pos + "); at most " + MAX_NESTING + " are supported");
        }
        atom = quantifier(atom);
      }
      items.add(atom);
    }
    return items.size() == 1 ? items.get(0) : new Seq(items);
  }

  private Node quantifier(Node body) {
    int at = pos;
    char q = text.charAt(pos++);
    int min;
    int max;
    switch (q) {
      case '*' -> {
        min = 0;
        max = -1;
      }
      case '+' -> {
        min = 1;
        max = -1;
      }
      case '?' -> {
        min = 0;
        max = 1;
      }
      default -> {
        min = count(at);
        max = min;
        if (pos < end && text.charAt(pos) == ',') {
          pos++;
          max = pos < end && Character.isDigit(text.charAt(pos)) ? count(at) : -1;
        }
        if (pos >= end || text.charAt(pos) != '}') {
          throw new IllegalArgumentException("expected } to close the count at position " + at);
        }
        pos++;
        if (max >= 0 && max < min) {
          throw new IllegalArgumentException("the count {" + min + "," + max + "} at position " + at
              + " has its maximum below its minimum");
        }
      }
    }
    long made = max < 0 ? min + 1L : Math.max(max, 1);
    long copies = copies(body) * made;
    if (copies > MAX_COPIES) {
      throw new ConstraintTooComplexException("the regex's nested repetitions make " + copies
          + " copies of a part (at position " + at + "); at most " + MAX_COPIES + " are supported");
    }
    return new Rep(body, min, max, copies);
  }

  private static long copies(Node n) {
    if (n instanceof Rep r) {
      return r.copies();
    }
    long most = 1;
    if (n instanceof Seq s) {
      for (Node i : s.items()) {
        most = Math.max(most, copies(i));
      }
    } else if (n instanceof Alt a) {
      for (Node o : a.options()) {
        most = Math.max(most, copies(o));
      }
    }
    return most;
  }

  /** Reads the digits of a count (at most {@value #MAX_REPEAT}). */
  private int count(int at) {
    int start = pos;
    long v = 0;
    while (pos < end && Character.isDigit(text.charAt(pos)) && text.charAt(pos) < 128) {
      v = Math.min(v * 10 + (text.charAt(pos) - '0'), Integer.MAX_VALUE);
      pos++;
    }
    if (pos == start) {
      throw new IllegalArgumentException("expected a count (digits) after { at position " + at);
    }
    if (v > MAX_REPEAT) {
      throw new ConstraintTooComplexException("the regex repeats " + (v >= Integer.MAX_VALUE ? "more than "
          + Integer.MAX_VALUE : String.valueOf(v)) + " times (at position " + at + "); at most " + MAX_REPEAT
          + " are supported");
    }
    return (int) v;
  }

  private Node atom(int depth) {
    char c = text.charAt(pos);
    switch (c) {
      case '(' -> {
        int at = pos;
        pos++;
        if (text.startsWith("?", pos)) {
          if (!text.startsWith("?:", pos)) {
            throw new IllegalArgumentException("group flags or look-around at position " + at + " are not supported");
          }
          pos += 2;
        }
        Node inner = alternation(depth + 1);
        if (pos >= end || text.charAt(pos) != ')') {
          throw new IllegalArgumentException("expected ) to close the group opened at position " + at);
        }
        pos++;
        return inner;
      }
      case '[' -> {
        return charClass();
      }
      case '.' -> {
        pos++;
        return new Chars(new int[] {0, 0xFFFF});
      }
      case '\\' -> {
        int[] cls = escape(false);
        return new Chars(cls);
      }
      default -> {
        pos++;
        return new Chars(new int[] {c, c});
      }
    }
  }

  /** Reads an escape at pos (a backslash); returns its char set. */
  private int[] escape(boolean inClass) {
    int at = pos;
    if (pos + 1 >= end) {
      throw new IllegalArgumentException("a trailing \\ at position " + at + " escapes nothing");
    }
    char e = text.charAt(pos + 1);
    pos += 2;
    switch (e) {
      case 'd':
        return DIGIT;
      case 'w':
        return WORD;
      case 's':
        return SPACE;
      case 't':
        return new int[] {'\t', '\t'};
      case 'n':
        return new int[] {'\n', '\n'};
      case 'r':
        return new int[] {'\r', '\r'};
      case 'f':
        return new int[] {'\f', '\f'};
      default:
        if ("DWSbBpPkQE".indexOf(e) >= 0 || Character.isDigit(e)) {
          throw new IllegalArgumentException("\\" + e + " at position " + at + " is not supported");
        }
        return new int[] {e, e};
    }
  }

  private Node charClass() {
    int at = pos;
    pos++;
    boolean negated = pos < end && text.charAt(pos) == '^';
    if (negated) {
      pos++;
    }
    List<int[]> parts = new ArrayList<>();
    boolean firstItem = true;
    while (true) {
      if (pos >= end) {
        throw new IllegalArgumentException("expected ] to close the class opened at position " + at);
      }
      char c = text.charAt(pos);
      if (c == ']' && !firstItem) {
        pos++;
        break;
      }
      firstItem = false;
      int[] lowSet;
      if (c == '\\') {
        lowSet = escape(true);
      } else {
        pos++;
        lowSet = new int[] {c, c};
      }
      boolean single = lowSet.length == 2 && lowSet[0] == lowSet[1];
      if (single && pos + 1 < end && text.charAt(pos) == '-' && text.charAt(pos + 1) != ']') {
        int dash = pos;
        pos++;
        int[] highSet = text.charAt(pos) == '\\' ? escape(true) : new int[] {text.charAt(pos), text.charAt(pos++)};
        if (highSet.length != 2 || highSet[0] != highSet[1]) {
          throw new IllegalArgumentException("a range at position " + dash + " cannot end in a class shorthand");
        }
        if (highSet[0] < lowSet[0]) {
          throw new IllegalArgumentException("invalid range " + text.substring(dash - 1, Math.min(pos, end))
              + " at position " + (dash - 1) + ": its end is below its start");
        }
        parts.add(new int[] {lowSet[0], highSet[0]});
      } else {
        parts.add(lowSet);
      }
    }
    int[] set = normalize(parts);
    return new Chars(negated ? complement(set) : set);
  }

  /** Sorted disjoint union of [lo, hi] pair lists. */
  private static int[] normalize(List<int[]> parts) {
    int n = 0;
    for (int[] p : parts) {
      n += p.length / 2;
    }
    long[] pairs = new long[n];
    int k = 0;
    for (int[] p : parts) {
      for (int i = 0; i < p.length; i += 2) {
        pairs[k++] = ((long) p[i] << 32) | p[i + 1];
      }
    }
    Arrays.sort(pairs);
    int[] out = new int[2 * n];
    int m = 0;
    for (long pair : pairs) {
      int lo = (int) (pair >>> 32);
      int hi = (int) pair;
      if (m > 0 && lo <= out[m - 1] + 1) {
        out[m - 1] = Math.max(out[m - 1], hi);
      } else {
        out[m++] = lo;
        out[m++] = hi;
      }
    }
    return Arrays.copyOf(out, m);
  }

  private static int[] complement(int[] set) {
    List<Integer> out = new ArrayList<>();
    int next = 0;
    for (int i = 0; i < set.length; i += 2) {
      if (set[i] > next) {
        out.add(next);
        out.add(set[i] - 1);
      }
      next = set[i + 1] + 1;
    }
    if (next <= 0xFFFF) {
      out.add(next);
      out.add(0xFFFF);
    }
    return out.stream().mapToInt(Integer::intValue).toArray();
  }

  private static boolean escaped(String s, int at) {
    int n = 0;
    for (int i = at - 1; i >= 0 && s.charAt(i) == '\\'; i--) {
      n++;
    }
    return n % 2 == 1;
  }
}
