package io.github.vlm4j;

import io.github.vlm4j.core.ModelClosedException;

/**
 * Counts operations in flight so that closing waits for them (or stops them at their next step)
 * instead of freeing native memory under a running graph. A close requested from inside an operation
 * (a streamer callback calling {@code model.close()}) cannot wait for that operation, which is on its
 * own stack: it waits for the others, and the release runs when the caller's own operations end.
 * Thread-safe.
 */
final class Lifecycle {
  private final ThreadLocal<int[]> ownDepth = ThreadLocal.withInitial(() -> new int[1]);
  private int active;
  private boolean closed;
  private Runnable onIdle;

  synchronized void acquire() {
    if (closed) {
      throw new ModelClosedException("the model is closed");
    }
    active++;
    ownDepth.get()[0]++;
  }

  void release() {
    Runnable run = null;
    synchronized (this) {
      active--;
      int[] own = ownDepth.get();
      own[0]--;
      if (own[0] == 0) {
        ownDepth.remove();
      }
      if (active == 0 && onIdle != null) {
        run = onIdle;
        onIdle = null;
      }
      notifyAll();
    }
    if (run != null) {
      run.run();
    }
  }

  synchronized boolean isClosed() {
    return closed;
  }

  /** @return true if this call closed it (false if it was already closed) */
  synchronized boolean beginClose() {
    if (closed) {
      return false;
    }
    closed = true;
    return true;
  }

  /**
   * Waits until no other thread has an operation in flight, then runs {@code release}: now, if the
   * calling thread has none either, or when the calling thread's last operation ends.
   *
   * @param release frees the native resources
   * @return true if {@code release} ran in this call
   */
  boolean whenIdle(Runnable release) {
    boolean interrupted = false;
    boolean now;
    synchronized (this) {
      int own = ownDepth.get()[0];
      if (own == 0) {
        ownDepth.remove();
      }
      while (active > own) {
        try {
          wait();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      now = own == 0;
      if (!now) {
        onIdle = release;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    if (now) {
      release.run();
    }
    return now;
  }
}
