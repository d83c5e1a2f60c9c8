package io.github.vlm4j;

import io.github.vlm4j.core.ModelClosedException;

/**
 * Counts operations in flight so that closing waits for them (or stops them at their next step)
 * instead of freeing native memory under a running graph. Thread-safe.
 */
final class Lifecycle {
  private int active;
  private boolean closed;

  synchronized void acquire() {
    if (closed) {
      throw new ModelClosedException("the model is closed");
    }
    active++;
  }

  synchronized void release() {
    active--;
    notifyAll();
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

  synchronized void awaitIdle() {
    boolean interrupted = false;
    while (active > 0) {
      try {
        wait();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
