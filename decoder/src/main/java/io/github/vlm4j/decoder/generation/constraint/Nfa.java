package io.github.vlm4j.decoder.generation.constraint;

import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;

/**
 * A nondeterministic automaton over UTF-16 chars with epsilon moves, built Thompson-style from
 * fragments (one start and one end state each), as growable int arrays. Every state and edge is
 * charged to the {@link CompileBudget} as it is created, so building stops with a {@link
 * ConstraintTooComplexException} before it can use more than the budget's memory. Call {@link
 * #release} when done. Not thread-safe.
 */
final class Nfa {
  /** Edge label of an epsilon move. */
  static final int EPSILON = -1;

  /** A piece of automaton: its entry state and its single exit state. */
  record Frag(int start, int end) {}

  private final CompileBudget budget;
  private int states;
  private int edges;
  private int[] src = new int[64];
  private int[] lo = new int[64];
  private int[] hi = new int[64];
  private int[] dst = new int[64];
  private boolean released;

  Nfa(CompileBudget budget) {
    this.budget = budget;
  }

  CompileBudget budget() {
    return budget;
  }

  int stateCount() {
    return states;
  }

  int edgeCount() {
    return edges;
  }

  int src(int e) {
    return src[e];
  }

  int lo(int e) {
    return lo[e];
  }

  int hi(int e) {
    return hi[e];
  }

  int dst(int e) {
    return dst[e];
  }

  /** Returns this automaton's states and edges to the budget. */
  void release() {
    if (!released) {
      released = true;
      budget.releaseNfa(states, edges);
    }
  }

  int state() {
    budget.allocateNfa(1, 0);
    budget.poll();
    return states++;
  }

  void edge(int from, int min, int max, int to) {
    budget.allocateNfa(0, 1);
    if (edges == src.length) {
      int n = edges * 2;
      src = Arrays.copyOf(src, n);
      lo = Arrays.copyOf(lo, n);
      hi = Arrays.copyOf(hi, n);
      dst = Arrays.copyOf(dst, n);
    }
    src[edges] = from;
    lo[edges] = min;
    hi[edges] = max;
    dst[edges] = to;
    edges++;
  }

  void eps(int from, int to) {
    edge(from, EPSILON, EPSILON, to);
  }

  /** The empty string. */
  Frag empty() {
    int s = state();
    return new Frag(s, s);
  }

  /** One char in [min, max]. */
  Frag chars(int min, int max) {
    int s = state();
    int e = state();
    edge(s, min, max, e);
    return new Frag(s, e);
  }

  /** One char of a set given as sorted disjoint [min, max] pairs (a non-empty set). */
  Frag charSet(int[] ranges) {
    int s = state();
    int e = state();
    for (int i = 0; i < ranges.length; i += 2) {
      edge(s, ranges[i], ranges[i + 1], e);
    }
    return new Frag(s, e);
  }

  /** Exactly the string. */
  Frag string(String text) {
    int s = state();
    int at = s;
    for (int i = 0; i < text.length(); i++) {
      int next = state();
      edge(at, text.charAt(i), text.charAt(i), next);
      at = next;
    }
    return new Frag(s, at);
  }

  Frag concat(Frag a, Frag b) {
    eps(a.end, b.start);
    return new Frag(a.start, b.end);
  }

  Frag concat(List<Frag> parts) {
    if (parts.isEmpty()) {
      return empty();
    }
    Frag f = parts.get(0);
    for (int i = 1; i < parts.size(); i++) {
      f = concat(f, parts.get(i));
    }
    return f;
  }

  Frag union(List<Frag> parts) {
    if (parts.size() == 1) {
      return parts.get(0);
    }
    int s = state();
    int e = state();
    for (Frag p : parts) {
      eps(s, p.start);
      eps(p.end, e);
    }
    return new Frag(s, e);
  }

  Frag optional(Frag a) {
    int s = state();
    int e = state();
    eps(s, a.start);
    eps(a.end, e);
    eps(s, e);
    return new Frag(s, e);
  }

  Frag star(Frag a) {
    int s = state();
    int e = state();
    eps(s, a.start);
    eps(a.end, a.start);
    eps(a.end, e);
    eps(s, e);
    return new Frag(s, e);
  }

  /**
   * {@code min} to {@code max} copies (unbounded if {@code max < 0}), each made fresh by {@code
   * copy}.
   */
  Frag repeat(Supplier<Frag> copy, int min, int max) {
    Frag f = empty();
    for (int i = 0; i < min; i++) {
      f = concat(f, copy.get());
    }
    if (max < 0) {
      return concat(f, star(copy.get()));
    }
    Frag tail = null;
    for (int i = min; i < max; i++) {
      tail = optional(tail == null ? copy.get() : concat(copy.get(), tail));
    }
    return tail == null ? f : concat(f, tail);
  }

  /** A copy of a DFA's states and edges; its accepting states lead to the fragment's end. */
  Frag embed(Dfa d) {
    if (d.size() == 0) {
      return new Frag(state(), state()); // the empty language: no path from start to end
    }
    int n = d.size();
    int base = states;
    for (int i = 0; i < n; i++) {
      state();
    }
    int end = state();
    for (int q = 0; q < n; q++) {
      for (int e = d.first(q); e < d.first(q + 1); e++) {
        edge(base + q, d.lo(e), d.hi(e), base + d.dst(e));
      }
      if (d.accepting(q)) {
        eps(base + q, end);
      }
    }
    return new Frag(base + d.start(), end);
  }
}
