package io.github.vlm4j.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.decoder.generation.TokenFeed;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Rows of a shared state stepping together on their own threads, with a pure-Java step. */
class LockstepBatchTest {
  static final int VOCAB = 3;
  static final int FILLER = -1;

  /** Row r's logits after a step: {r, step, token}; records what each step was given. */
  static final class FakeStep implements LockstepBatch.Step {
    final int rows;
    final List<int[]> given = new ArrayList<>();

    FakeStep(int rows) {
      this.rows = rows;
    }

    @Override
    public synchronized float[] run(int[] tokens) {
      given.add(tokens.clone());
      float[] out = new float[rows * VOCAB];
      for (int r = 0; r < rows; r++) {
        out[r * VOCAB] = r;
        out[r * VOCAB + 1] = given.size();
        out[r * VOCAB + 2] = tokens[r];
      }
      return out;
    }
  }

  @Test
  void rowsStepTogetherAndFinishedRowsAreFedTheFiller() throws Exception {
    int rows = 4;
    FakeStep step = new FakeStep(rows);
    LockstepBatch batch = new LockstepBatch(rows, VOCAB, FILLER, step);
    ExecutorService pool = Executors.newFixedThreadPool(rows);
    try {
      List<Future<List<float[]>>> runs = new ArrayList<>();
      for (int r = 0; r < rows; r++) {
        int row = r;
        int steps = 2 + 3 * r;   // rows end after 2, 5, 8, 11 steps
        runs.add(pool.submit(() -> {
          TokenFeed feed = batch.feed(row);
          List<float[]> seen = new ArrayList<>();
          try {
            for (int i = 0; i < steps; i++) {
              Thread.sleep((row * 7 + i) % 3);   // arrive in varying order
              seen.add(feed.feed(100 * row + i).clone());
            }
          } finally {
            batch.leave(row);
          }
          return seen;
        }));
      }
      for (int r = 0; r < rows; r++) {
        List<float[]> seen = runs.get(r).get(30, TimeUnit.SECONDS);
        assertEquals(2 + 3 * r, seen.size());
        for (int i = 0; i < seen.size(); i++) {
          // its own row of step i + 1, which was given this row's i-th token
          assertArrayEquals(new float[] {r, i + 1, 100 * r + i}, seen.get(i), "row " + r + " step " + i);
        }
      }
    } finally {
      pool.shutdownNow();
    }
    assertEquals(11, step.given.size(), "one step per step of the longest row");
    for (int s = 0; s < step.given.size(); s++) {
      for (int r = 0; r < rows; r++) {
        int expected = s < 2 + 3 * r ? 100 * r + s : FILLER;
        assertEquals(expected, step.given.get(s)[r], "step " + s + " row " + r);
      }
    }
  }

  @Test
  void aFailedStepFailsEveryWaitingRow() throws Exception {
    int rows = 3;
    LockstepBatch batch = new LockstepBatch(rows, VOCAB, FILLER, tokens -> {
      throw new InferenceException("boom");
    });
    ExecutorService pool = Executors.newFixedThreadPool(rows);
    try {
      List<Future<float[]>> runs = new ArrayList<>();
      for (int r = 0; r < rows; r++) {
        int row = r;
        runs.add(pool.submit(() -> batch.feed(row).feed(row)));
      }
      for (Future<float[]> f : runs) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof InferenceException, e.getCause().toString());
        assertTrue(e.getCause().getMessage().contains("boom"), e.getCause().getMessage());
      }
    } finally {
      pool.shutdownNow();
    }
    assertThrows(InferenceException.class, () -> batch.feed(0).feed(1));
  }

  @Test
  void misuseIsRefused() {
    LockstepBatch batch = new LockstepBatch(1, VOCAB, FILLER, new FakeStep(1));
    assertArrayEquals(new float[] {0, 1, 7}, batch.feed(0).feed(7));
    batch.leave(0);
    batch.leave(0);   // idempotent
    assertThrows(IllegalStateException.class, () -> batch.feed(0).feed(8));
    assertThrows(IllegalArgumentException.class, () -> batch.feed(1));
    assertThrows(IllegalArgumentException.class, () -> new LockstepBatch(0, VOCAB, FILLER, new FakeStep(1)));
    LockstepBatch wrong = new LockstepBatch(2, VOCAB, FILLER, tokens -> new float[1]);
    wrong.leave(1);
    assertThrows(InferenceException.class, () -> wrong.feed(0).feed(1));
  }
}
