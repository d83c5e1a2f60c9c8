package io.github.vlm4j.decoder.generation.constraint;

import java.util.Arrays;

/**
 * A deterministic automaton over UTF-16 chars, as immutable arrays, holding only live states (an
 * accepting state is reachable from each of them): a transition into a dead state is dropped, so
 * {@link #step} returns -1 as soon as a text can no longer be completed to a match.
 */
final class CharDfa {
  private static final int ASCII = 128;

  private final int start;
  private final boolean[] accept;
  /** Per state, the next state of each ASCII char (-1: none). */
  private final int[][] ascii;
  /** Per state, sorted disjoint intervals above ASCII: min, max, dest triples. */
  private final int[][] ranges;

  private CharDfa(int start, boolean[] accept, int[][] ascii, int[][] ranges) {
    this.start = start;
    this.accept = accept;
    this.ascii = ascii;
    this.ranges = ranges;
  }

  /**
   * Converts a minimal DFA (every state live, as {@link Dfa#minimize} returns it) to table form.
   *
   * @param d the automaton, whose language must be non-empty
   * @return the table form
   * @throws IllegalArgumentException if no text matches
   */
  static CharDfa of(Dfa d) {
    int m = d.size();
    if (m == 0) {
      throw new IllegalArgumentException("the expression matches no text");
    }
    boolean[] accept = new boolean[m];
    int[][] ascii = new int[m][];
    int[][] ranges = new int[m][];
    for (int i = 0; i < m; i++) {
      accept[i] = d.accepting(i);
      int[] table = new int[ASCII];
      Arrays.fill(table, -1);
      int high = 0;
      for (int e = d.first(i); e < d.first(i + 1); e++) {
        for (int c = d.lo(e); c <= Math.min(d.hi(e), ASCII - 1); c++) {
          table[c] = d.dst(e);
        }
        if (d.hi(e) >= ASCII) {
          high++;
        }
      }
      int[] r = new int[high * 3];
      int k = 0;
      for (int e = d.first(i); e < d.first(i + 1); e++) {
        if (d.hi(e) >= ASCII) {
          r[k++] = Math.max(d.lo(e), ASCII);
          r[k++] = d.hi(e);
          r[k++] = d.dst(e);
        }
      }
      ascii[i] = table;
      ranges[i] = r;
    }
    return new CharDfa(d.start(), accept, ascii, ranges);
  }

  int start() {
    return start;
  }

  int size() {
    return accept.length;
  }

  boolean accepting(int state) {
    return accept[state];
  }

  /** Returns the state's edges on chars above ASCII: min, max, dest triples (the array itself; for tests). */
  int[] highRanges(int state) {
    return ranges[state];
  }

  /** Returns the live state after a char, or -1. */
  int step(int state, char c) {
    if (c < ASCII) {
      return ascii[state][c];
    }
    int[] r = ranges[state];
    int lo = 0;
    int hi = r.length / 3 - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      if (c < r[3 * mid]) {
        hi = mid - 1;
      } else if (c > r[3 * mid + 1]) {
        lo = mid + 1;
      } else {
        return r[3 * mid + 2];
      }
    }
    return -1;
  }

  /** Returns the live state after a text, or -1. */
  int walk(int state, CharSequence text) {
    int s = state;
    for (int i = 0; i < text.length() && s >= 0; i++) {
      s = step(s, text.charAt(i));
    }
    return s;
  }
}
