package io.github.vlm4j.decoder.generation.constraint;

import dk.brics.automaton.Automaton;
import dk.brics.automaton.State;
import dk.brics.automaton.Transition;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

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
   * Converts a brics automaton (determinized and minimized here unless it already is; not modified
   * otherwise).
   *
   * @param automaton the automaton, whose language must be non-empty
   * @param minimal whether it is already a minimal DFA
   * @param maxStates refuse automata with more states
   * @return the table form
   * @throws IllegalStateException if it has more than {@code maxStates} states
   */
  static CharDfa of(Automaton automaton, boolean minimal, int maxStates) {
    Automaton a = automaton;
    if (!minimal) {
      a = automaton.clone();
      a.minimize();
    }
    List<State> states = new ArrayList<>(a.getStates());
    if (states.size() > maxStates) {
      throw new IllegalStateException(states.size() + " automaton states; at most " + maxStates + " are supported");
    }
    Map<State, Integer> index = new HashMap<>();
    for (State s : states) {
      index.put(s, index.size());
    }
    int n = states.size();
    List<List<Integer>> reverse = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      reverse.add(new ArrayList<>());
    }
    ArrayDeque<Integer> queue = new ArrayDeque<>();
    boolean[] live = new boolean[n];
    for (State s : states) {
      int i = index.get(s);
      for (Transition t : s.getTransitions()) {
        reverse.get(index.get(t.getDest())).add(i);
      }
      if (s.isAccept()) {
        live[i] = true;
        queue.add(i);
      }
    }
    while (!queue.isEmpty()) {
      for (int p : reverse.get(queue.poll())) {
        if (!live[p]) {
          live[p] = true;
          queue.add(p);
        }
      }
    }
    int[] renumber = new int[n];
    int m = 0;
    for (int i = 0; i < n; i++) {
      renumber[i] = live[i] ? m++ : -1;
    }
    int initial = renumber[index.get(a.getInitialState())];
    if (initial < 0) {
      throw new IllegalArgumentException("the expression matches no text");
    }
    boolean[] accept = new boolean[m];
    int[][] ascii = new int[m][];
    int[][] ranges = new int[m][];
    for (State s : states) {
      int i = renumber[index.get(s)];
      if (i < 0) {
        continue;
      }
      accept[i] = s.isAccept();
      int[] table = new int[ASCII];
      Arrays.fill(table, -1);
      List<int[]> high = new ArrayList<>();
      for (Transition t : s.getSortedTransitions(false)) {
        int dest = renumber[index.get(t.getDest())];
        if (dest < 0) {
          continue;
        }
        int lo = t.getMin();
        int hi = t.getMax();
        for (int c = lo; c <= Math.min(hi, ASCII - 1); c++) {
          table[c] = dest;
        }
        if (hi >= ASCII) {
          high.add(new int[] {Math.max(lo, ASCII), hi, dest});
        }
      }
      ascii[i] = table;
      int[] r = new int[high.size() * 3];
      for (int k = 0; k < high.size(); k++) {
        System.arraycopy(high.get(k), 0, r, 3 * k, 3);
      }
      ranges[i] = r;
    }
    return new CharDfa(initial, accept, ascii, ranges);
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
