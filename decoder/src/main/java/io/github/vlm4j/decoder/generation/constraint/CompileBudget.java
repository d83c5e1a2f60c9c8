package io.github.vlm4j.decoder.generation.constraint;

import java.util.concurrent.CancellationException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The limits one constraint compilation runs under: automaton sizes checked as they grow and a
 * wall-clock deadline checked in every loop, so that any expression or schema compiles or is refused
 * within about {@link #millis()} and a bounded amount of memory. One instance per compilation; not
 * thread-safe. At most {@value #DEFAULT_CONCURRENT} compilations run at once in the JVM (system
 * property {@value #CONCURRENT_PROPERTY}); others wait for a turn within their time limit.
 *
 * <p>Memory at the default limits, worst case for one compilation (estimated from the array sizes):
 * the NFAs alive at once hold at most {@value #DEFAULT_MAX_NFA_STATES} states and {@value
 * #DEFAULT_MAX_NFA_EDGES} edges (about 16 bytes per edge twice, 35 MB); a subset construction holds at
 * most {@value #DEFAULT_MAX_SUBSET_ENTRIES} NFA-state entries (about 40 MB with its hash map), a DFA
 * at most {@link OutputConstraint#MAX_STATES} states and {@value #DEFAULT_MAX_DFA_EDGES} edges (about
 * 25 MB, the minimizer about as much again), and the final char tables about 110 MB at 200,000
 * states: about 250 MB in all, within a 512 MiB heap.
 */
final class CompileBudget {
  /** System property: how many compilations may run at once (default {@value #DEFAULT_CONCURRENT}). */
  static final String CONCURRENT_PROPERTY = "vlm4j.constraint.concurrentCompilations";
  /** Default number of compilations that may run at once. */
  static final int DEFAULT_CONCURRENT = 2;
  private static final Semaphore TURNS = new Semaphore(Math.max(1,
      Integer.getInteger(CONCURRENT_PROPERTY, DEFAULT_CONCURRENT)), true);

  /** System property: the compile time limit in milliseconds (default {@value #DEFAULT_MILLIS}). */
  static final String MILLIS_PROPERTY = "vlm4j.constraint.compileMillis";
  /** Default compile time limit in milliseconds. */
  static final long DEFAULT_MILLIS = 5000;
  /** Most NFA states alive at once during one compilation. */
  static final int DEFAULT_MAX_NFA_STATES = 1_000_000;
  /** Most NFA edges alive at once during one compilation. */
  static final int DEFAULT_MAX_NFA_EDGES = 1_000_000;
  /** Most DFA edges (char intervals) of one automaton. */
  static final int DEFAULT_MAX_DFA_EDGES = 2_000_000;
  /** Most NFA-state entries over all subsets of one subset construction. */
  static final int DEFAULT_MAX_SUBSET_ENTRIES = 8_000_000;

  final int maxDfaStates;
  final int maxDfaEdges;
  final int maxNfaStates;
  final int maxNfaEdges;
  final int maxSubsetEntries;
  private final long millis;
  private final long deadline;
  private int nfaStates;
  private int nfaEdges;
  private int polls;

  CompileBudget(long millis, int maxDfaStates, int maxDfaEdges, int maxNfaStates, int maxNfaEdges,
      int maxSubsetEntries) {
    this.millis = millis;
    this.deadline = System.nanoTime() + millis * 1_000_000L;
    this.maxDfaStates = maxDfaStates;
    this.maxDfaEdges = maxDfaEdges;
    this.maxNfaStates = maxNfaStates;
    this.maxNfaEdges = maxNfaEdges;
    this.maxSubsetEntries = maxSubsetEntries;
  }

  /** The default limits, the time limit from {@value #MILLIS_PROPERTY} if set to a positive number. */
  static CompileBudget standard() {
    return withMillis(configuredMillis());
  }

  /** The default size limits with another time limit. */
  static CompileBudget withMillis(long millis) {
    return new CompileBudget(millis, OutputConstraint.MAX_STATES, DEFAULT_MAX_DFA_EDGES, DEFAULT_MAX_NFA_STATES,
        DEFAULT_MAX_NFA_EDGES, DEFAULT_MAX_SUBSET_ENTRIES);
  }

  static long configuredMillis() {
    String v = System.getProperty(MILLIS_PROPERTY);
    if (v != null) {
      try {
        long ms = Long.parseLong(v.trim());
        if (ms > 0) {
          return ms;
        }
      } catch (NumberFormatException ignored) {
        // fall back to the default below
      }
    }
    return DEFAULT_MILLIS;
  }

  /** The time limit in milliseconds. */
  long millis() {
    return millis;
  }

  /** A turn to compile (of the JVM-wide few); close it when done. */
  interface Turn extends AutoCloseable {
    @Override
    void close();
  }

  /**
   * Waits for a turn to compile, at most until the deadline.
   *
   * @throws ConstraintTooComplexException if the deadline passes first
   * @throws CancellationException if the thread is interrupted while waiting (its flag stays set)
   */
  Turn turn() {
    long left = deadline - System.nanoTime();
    try {
      if (left <= 0 || !TURNS.tryAcquire(left, TimeUnit.NANOSECONDS)) {
        throw new ConstraintTooComplexException("compiling the constraint took longer than " + limitText()
            + " waiting for other compilations to finish (at most " + DEFAULT_CONCURRENT
            + " run at once unless " + CONCURRENT_PROPERTY + " says otherwise)");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      CancellationException c = new CancellationException("interrupted while waiting to compile a constraint");
      c.initCause(e);
      throw c;
    }
    return TURNS::release;
  }

  private String limitText() {
    return millis % 1000 == 0 ? millis / 1000 + " s" : millis + " ms";
  }

  /** Throws if the deadline passed (checks the clock on every 64th call). */
  void poll() {
    if ((++polls & 63) == 0) {
      check();
    }
  }

  /** Throws if the deadline passed. */
  void check() {
    if (System.nanoTime() - deadline > 0) {
      throw new ConstraintTooComplexException("compiling the constraint took longer than " + limitText()
          + " (the limit; system property " + MILLIS_PROPERTY + ")");
    }
  }

  /** Accounts for NFA states and edges coming alive. */
  void allocateNfa(int states, int edges) {
    nfaStates += states;
    nfaEdges += edges;
    if (nfaStates > maxNfaStates || nfaStates < 0) {
      throw new ConstraintTooComplexException("the constraint needs more than " + maxNfaStates
          + " automaton states before determinization");
    }
    if (nfaEdges > maxNfaEdges || nfaEdges < 0) {
      throw new ConstraintTooComplexException("the constraint needs more than " + maxNfaEdges
          + " automaton transitions before determinization");
    }
  }

  /** Accounts for an NFA being dropped. */
  void releaseNfa(int states, int edges) {
    nfaStates -= states;
    nfaEdges -= edges;
  }

  ConstraintTooComplexException tooManyStates() {
    return new ConstraintTooComplexException("the constraint needs more than " + maxDfaStates + " automaton states");
  }
}
