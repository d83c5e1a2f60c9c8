package io.github.vlm4j.decoder.generation.constraint;

import java.lang.ref.Cleaner;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A constraint compiled against a vocabulary: a token-level automaton whose states are ints.
 * Immutable and thread-safe; one instance serves every request with the same constraint and
 * vocabulary (see {@link #compile}).
 *
 * <p>States are the live states of the constraint's char automaton. The tokens allowed in a state
 * and the states they lead to are computed the first time the state is needed (by walking the
 * vocabulary's sorted texts, sharing common prefixes, through the char automaton) and kept; after
 * that {@link #mask} costs one pass over the logits. A token is allowed only if the text stays a
 * prefix of some match after it.
 *
 * <p>The kept moves of all compiled constraints together hold at most {@value #MAX_CACHED_MOVES}
 * (token, next state) pairs (8 bytes each, 128 MB): a state inside a long JSON string allows almost
 * every token, so a hostile schema could otherwise make each visited state keep a copy of the
 * vocabulary. Beyond the bound, moves are computed again each time they are needed (one pass over
 * the vocabulary; the results are the same). A compilation's pairs are returned to the bound when it
 * leaves the cache or is garbage-collected.
 */
public final class CompiledConstraint {
  /** Most compilations kept by {@link #compile}. */
  static final int CACHE_SIZE = 32;
  /** Most (token, next state) pairs kept by all compiled constraints together. */
  static final long MAX_CACHED_MOVES = 16_000_000;
  /** The bound in force (tests lower it). */
  static volatile long cachedMovesLimit = MAX_CACHED_MOVES;
  private static final AtomicLong CACHED_MOVES = new AtomicLong();
  private static final Cleaner CLEANER = Cleaner.create();

  private static final Map<Key, CompiledConstraint> CACHE = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<Key, CompiledConstraint> eldest) {
      if (size() > CACHE_SIZE) {
        eldest.getValue().account.retire();
        return true;
      }
      return false;
    }
  };

  /** One compilation's share of the kept moves; retired when it leaves the cache or is collected. */
  private static final class Account implements Runnable {
    private long pairs;
    private boolean retired;

    synchronized boolean reserve(int n) {
      if (retired) {
        return false;
      }
      if (CACHED_MOVES.addAndGet(n) > cachedMovesLimit) {
        CACHED_MOVES.addAndGet(-n);
        return false;
      }
      pairs += n;
      return true;
    }

    synchronized void unreserve(int n) {
      if (!retired) {
        pairs -= n;
        CACHED_MOVES.addAndGet(-n);
      }
    }

    synchronized void retire() {
      if (!retired) {
        retired = true;
        CACHED_MOVES.addAndGet(-pairs);
        pairs = 0;
      }
    }

    @Override
    public void run() {
      retire();
    }
  }

  private record Key(String constraint, TokenVocabulary vocabulary) {}

  /** The tokens allowed in one state (ascending ids) and the state after each. */
  private record Moves(int[] ids, int[] next) {}

  private final CharDfa dfa;
  private final TokenVocabulary vocabulary;
  private final AtomicReferenceArray<Moves> moves;
  private final Account account = new Account();

  private CompiledConstraint(CharDfa dfa, TokenVocabulary vocabulary) {
    this.dfa = dfa;
    this.vocabulary = vocabulary;
    this.moves = new AtomicReferenceArray<>(dfa.size());
    CLEANER.register(this, account);
  }

  /** The (token, next state) pairs kept by all compiled constraints now (for tests). */
  static long cachedMoves() {
    return CACHED_MOVES.get();
  }

  /**
   * Compiles (or returns the cached compilation of) a constraint for a vocabulary. Compilations
   * are cached by the constraint's {@link OutputConstraint#key()} and the vocabulary instance
   * (the {@value #CACHE_SIZE} most recently used are kept).
   *
   * @param constraint the constraint
   * @param vocabulary the model's vocabulary
   * @return the compiled constraint
   */
  public static CompiledConstraint compile(OutputConstraint constraint, TokenVocabulary vocabulary) {
    Objects.requireNonNull(constraint, "constraint");
    Objects.requireNonNull(vocabulary, "vocabulary");
    Key key = new Key(constraint.key(), vocabulary);
    synchronized (CACHE) {
      return CACHE.computeIfAbsent(key, k -> new CompiledConstraint(constraint.dfa(), vocabulary));
    }
  }

  /**
   * Compiles a constraint for a vocabulary without consulting or filling the cache (for
   * benchmarks measuring compilation).
   *
   * @param constraint the constraint
   * @param vocabulary the model's vocabulary
   * @return a new compiled constraint
   */
  public static CompiledConstraint compileUncached(OutputConstraint constraint, TokenVocabulary vocabulary) {
    return new CompiledConstraint(constraint.dfa(), Objects.requireNonNull(vocabulary, "vocabulary"));
  }

  /**
   * Returns the state before any token.
   *
   * @return the start state
   */
  public int start() {
    return dfa.start();
  }

  /**
   * Tells whether the text so far is a complete match.
   *
   * @param state a state
   * @return whether generation may end here
   */
  public boolean accepting(int state) {
    check(state);
    return dfa.accepting(state);
  }

  /**
   * Tells whether any token may follow in this state.
   *
   * @param state a state
   * @return whether some token keeps the text a prefix of a match
   */
  public boolean canContinue(int state) {
    return moves(state).ids.length > 0;
  }

  /**
   * Returns the state after a token.
   *
   * @param state the current state
   * @param token a token id
   * @return the next state, or -1 if the token is not allowed here
   */
  public int next(int state, int token) {
    Moves m = moves(state);
    int k = Arrays.binarySearch(m.ids, token);
    return k >= 0 ? m.next[k] : -1;
  }

  /**
   * Returns the number of tokens allowed in a state.
   *
   * @param state a state
   * @return how many token ids {@link #next} accepts in it
   */
  public int allowedCount(int state) {
    return moves(state).ids.length;
  }

  /**
   * Returns the tokens allowed in a state.
   *
   * @param state a state
   * @return the allowed ids, ascending (a copy)
   */
  public int[] allowedTokens(int state) {
    return moves(state).ids.clone();
  }

  /**
   * Sets the logits of every token not allowed in this state to negative infinity (end-of-sequence
   * ids are the caller's business: they are never allowed here).
   *
   * @param state the current state
   * @param logits next-token logits, modified in place; ids beyond the vocabulary are disallowed
   */
  public void mask(int state, float[] logits) {
    int[] ids = moves(state).ids;
    int n = logits.length;
    int from = 0;
    for (int id : ids) {
      if (id >= n) {
        break;
      }
      if (id > from) {
        Arrays.fill(logits, from, id, Float.NEGATIVE_INFINITY);
      }
      from = id + 1;
    }
    if (from < n) {
      Arrays.fill(logits, from, n, Float.NEGATIVE_INFINITY);
    }
  }

  /**
   * Returns the number of states.
   *
   * @return states range over {@code [0, stateCount())}
   */
  public int stateCount() {
    return dfa.size();
  }

  private void check(int state) {
    if (state < 0 || state >= dfa.size()) {
      throw new IllegalArgumentException("state " + state + " is outside [0, " + dfa.size() + ")");
    }
  }

  private Moves moves(int state) {
    check(state);
    Moves m = moves.get(state);
    if (m == null) {
      m = computeMoves(state);
      int n = m.ids.length;
      if (account.reserve(n) && !moves.compareAndSet(state, null, m)) {
        account.unreserve(n);
        m = moves.get(state);
      }
    }
    return m;
  }

  /** Walks the sorted texts from a state, reusing the states of each common prefix. */
  private Moves computeMoves(int state) {
    TokenVocabulary v = vocabulary;
    int n = v.allowedCount();
    int[] at = new int[v.longest() + 1];
    at[0] = state;
    int valid = 0;
    int[] ids = new int[16];
    int[] next = new int[16];
    int count = 0;
    int k = 0;
    while (k < n) {
      String t = v.sortedText(k);
      int d = Math.min(v.commonPrefix(k), valid);
      int q = at[d];
      while (d < t.length()) {
        q = dfa.step(q, t.charAt(d));
        if (q < 0) {
          break;
        }
        at[++d] = q;
      }
      valid = d;
      k++;
      if (q < 0) {
        while (k < n && v.commonPrefix(k) > d) {
          k++;
        }
        continue;
      }
      if (count == ids.length) {
        ids = Arrays.copyOf(ids, count * 2);
        next = Arrays.copyOf(next, count * 2);
      }
      ids[count] = v.sortedId(k - 1);
      next[count] = q;
      count++;
    }
    long[] packed = new long[count];
    for (int i = 0; i < count; i++) {
      packed[i] = ((long) ids[i] << 32) | (next[i] & 0xffffffffL);
    }
    Arrays.sort(packed);
    int[] sortedIds = new int[count];
    int[] sortedNext = new int[count];
    for (int i = 0; i < count; i++) {
      sortedIds[i] = (int) (packed[i] >>> 32);
      sortedNext[i] = (int) packed[i];
    }
    return new Moves(sortedIds, sortedNext);
  }
}
