package io.github.vlm4j.family;

import io.github.vlm4j.core.ModelLoadException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * Opens a model's graphs concurrently, one thread each: ONNX Runtime builds a session (parsing,
 * graph optimisation, weight pre-packing) on the calling thread, so a model's graphs opened one after
 * another leave all cores but one idle while it loads. Owns every part it opened until {@link
 * #release()}; {@link #close()} first waits for every opening still running, then closes every part
 * that opened (latest first), so a failed load leaves nothing open. {@link #await()} reports
 * failures in the order the openings were started, so the error a caller sees is the one loading the
 * graphs one after another would have raised first (any others are added as suppressed). Not
 * thread-safe: one loading thread uses an instance.
 */
public final class ParallelOpen implements AutoCloseable {
  /**
   * Opens one part.
   *
   * @param <T> the part's type
   */
  @FunctionalInterface
  public interface Opener<T extends AutoCloseable> {
    /**
     * Opens the part.
     *
     * @return the part; ownership passes to the {@link ParallelOpen} that ran this
     * @throws ModelLoadException if the part cannot be opened
     */
    T open() throws ModelLoadException;
  }

  /**
   * A part being opened.
   *
   * @param <T> the part's type
   */
  public static final class Pending<T extends AutoCloseable> {
    private final FutureTask<T> task;
    private final Thread thread;

    private Pending(FutureTask<T> task, Thread thread) {
      this.task = task;
      this.thread = thread;
    }

    /**
     * Returns the part once {@link ParallelOpen#await()} has returned normally.
     *
     * @return the opened part, still owned by its {@link ParallelOpen} until released
     * @throws IllegalStateException if the opening has not ended or failed
     */
    public T get() {
      if (!task.isDone()) {
        throw new IllegalStateException("the part is still opening: call await() first");
      }
      try {
        return task.get();
      } catch (ExecutionException | InterruptedException | java.util.concurrent.CancellationException e) {
        throw new IllegalStateException("the part failed to open: " + e, e);
      }
    }
  }

  private final List<Pending<?>> pending = new ArrayList<>();
  private boolean released;

  /** Creates an empty set of openings. */
  public ParallelOpen() {}

  /**
   * Starts opening a part on a thread of its own.
   *
   * @param <T> the part's type
   * @param what names the part (the thread's name)
   * @param opener opens it
   * @return the pending part
   */
  public <T extends AutoCloseable> Pending<T> start(String what, Opener<T> opener) {
    FutureTask<T> task = new FutureTask<>(opener::open);
    Thread thread = new Thread(task, "vlm4j-open-" + what);
    thread.setDaemon(true);
    Pending<T> p = new Pending<>(task, thread);
    pending.add(p);
    thread.start();
    return p;
  }

  /**
   * Waits for every opening to end (an interrupt is kept for later but does not stop the wait: the
   * sessions being built must end before they can be closed).
   *
   * @throws ModelLoadException the first failed opening's, in start order (others suppressed)
   */
  public void await() throws ModelLoadException {
    joinAll();
    Throwable first = null;
    for (Pending<?> p : pending) {
      Throwable failure = failure(p);
      if (failure == null) {
        continue;
      }
      if (first == null) {
        first = failure;
      } else {
        first.addSuppressed(failure);
      }
    }
    if (first instanceof ModelLoadException e) {
      throw e;
    } else if (first instanceof RuntimeException e) {
      throw e;
    } else if (first instanceof Error e) {
      throw e;
    } else if (first != null) {
      throw new IllegalStateException(first);
    }
  }

  /** Hands the opened parts over to the caller: {@link #close()} then closes nothing. */
  public void release() {
    released = true;
  }

  /** Waits for every opening, then (unless released) closes the parts that opened, latest first. */
  @Override
  public void close() {
    joinAll();
    if (released) {
      return;
    }
    for (int i = pending.size() - 1; i >= 0; i--) {
      if (failure(pending.get(i)) == null) {
        try {
          pending.get(i).get().close();
        } catch (Exception e) {
          // keep closing the rest; the load failure is what the caller sees
        }
      }
    }
  }

  private void joinAll() {
    boolean interrupted = false;
    for (Pending<?> p : pending) {
      while (true) {
        try {
          p.thread.join();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private static Throwable failure(Pending<?> p) {
    try {
      p.task.get();
      return null;
    } catch (ExecutionException e) {
      return e.getCause();
    } catch (InterruptedException | java.util.concurrent.CancellationException e) {
      return e;
    }
  }
}
