package io.github.vlm4j.decoder;

import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.decoder.generation.TokenFeed;
import java.util.Arrays;
import java.util.concurrent.CancellationException;

/**
 * The rows of one multi-row decoder state (e.g. {@link Seq2SeqDecoder#newState(int)}) stepping
 * together, each row driven by its own thread (its own {@link
 * io.github.vlm4j.decoder.generation.Generator}): a row's {@link #feed} blocks until every row still
 * running has chosen its token, then one step runs for all of them. A finished row {@link #leave}s;
 * the state's rows must keep equal lengths, so the rows still running go on stepping it and the
 * departed row is fed a filler token whose logits nobody reads.
 *
 * <p>Thread-safe: one thread per row uses its row's {@link #feed(int)} and then calls {@link #leave};
 * the step function runs on whichever row's thread completes a step, never concurrently with
 * itself. If a step fails, every waiting and later call fails with its error.
 */
public final class LockstepBatch {
  /** One decoder step of every row. */
  @FunctionalInterface
  public interface Step {
    /**
     * Runs one step.
     *
     * @param tokens one token per row (departed rows: the filler)
     * @return {@code rows × vocab} logits (may be an array the step reuses)
     */
    float[] run(int[] tokens);
  }

  private final int rows;
  private final int vocab;
  private final int filler;
  private final Step step;
  private final int[] tokens;
  private final boolean[] left;
  private final float[][] rowLogits;
  private int active;
  private int waiting;
  private long generation;
  private float[] out;
  private RuntimeException failure;

  /**
   * Starts a batch whose rows are all running.
   *
   * @param rows rows of the state, at least 1
   * @param vocab logits per row
   * @param filler the token fed for rows that have left
   * @param step runs one step of the state
   * @throws IllegalArgumentException if {@code rows} or {@code vocab} is less than 1
   */
  public LockstepBatch(int rows, int vocab, int filler, Step step) {
    if (rows < 1 || vocab < 1) {
      throw new IllegalArgumentException("rows and vocab must be at least 1, got " + rows + ", " + vocab);
    }
    this.rows = rows;
    this.vocab = vocab;
    this.filler = filler;
    this.step = step;
    this.tokens = new int[rows];
    this.left = new boolean[rows];
    this.rowLogits = new float[rows][vocab];
    this.active = rows;
  }

  /**
   * Returns the feed of one row.
   *
   * @param row the row, in {@code [0, rows)}
   * @return a feed that appends the row's token once every running row has chosen one, and returns
   *     the row's logits after it (an array reused by the row's next call)
   */
  public TokenFeed feed(int row) {
    if (row < 0 || row >= rows) {
      throw new IllegalArgumentException("row " + row + " is not in [0, " + rows + ")");
    }
    return token -> feed(row, token);
  }

  private synchronized float[] feed(int row, int token) {
    check(row);
    tokens[row] = token;
    waiting++;
    long mine = generation;
    if (waiting == active) {
      runStep();
    } else {
      while (generation == mine && failure == null) {
        try {
          wait();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new CancellationException("interrupted while waiting for the batch's step");
        }
      }
    }
    if (failure != null) {
      throw new InferenceException("a step of the batch failed: " + failure.getMessage(), failure);
    }
    System.arraycopy(out, row * vocab, rowLogits[row], 0, vocab);
    return rowLogits[row];
  }

  /**
   * Takes a finished row out of the batch (idempotent): the others no longer wait for it.
   *
   * @param row the row
   */
  public synchronized void leave(int row) {
    if (row < 0 || row >= rows || left[row]) {
      return;
    }
    left[row] = true;
    active--;
    if (active > 0 && waiting == active && failure == null) {
      runStep();
    }
  }

  private void check(int row) {
    if (left[row]) {
      throw new IllegalStateException("row " + row + " has left the batch");
    }
    if (failure != null) {
      throw new InferenceException("a step of the batch failed: " + failure.getMessage(), failure);
    }
  }

  /** Runs one step for every row (holding the lock) and wakes the waiting rows. */
  private void runStep() {
    for (int r = 0; r < rows; r++) {
      if (left[r]) {
        tokens[r] = filler;
      }
    }
    try {
      float[] logits = step.run(Arrays.copyOf(tokens, rows));
      if (logits.length != rows * vocab) {
        throw new InferenceException("a batch step returned " + logits.length + " logits for " + rows + " rows of "
            + vocab);
      }
      out = logits;
    } catch (RuntimeException e) {
      failure = e;
    }
    waiting = 0;
    generation++;
    notifyAll();
  }
}
