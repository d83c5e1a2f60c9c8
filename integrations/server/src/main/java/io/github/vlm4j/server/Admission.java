package io.github.vlm4j.server;

/**
 * Bounded concurrency with a bounded queue: at most {@code maxConcurrent} requests run; up to
 * {@code maxQueue} more wait (in arrival order of wake-ups, not strictly FIFO); any further request
 * is refused at once with 429 and {@code Retry-After}. While draining, new requests get 503.
 * Thread-safe.
 */
final class Admission {
  private final int maxConcurrent;
  private final int maxQueue;
  private int running;
  private int waiting;
  private boolean draining;

  Admission(int maxConcurrent, int maxQueue) {
    this.maxConcurrent = maxConcurrent;
    this.maxQueue = maxQueue;
  }

  /**
   * Waits for a slot until {@code deadlineNanos} ({@link System#nanoTime()} scale).
   *
   * @throws ApiError 429 if the queue is full, 503 while draining, 504 if the deadline passes while waiting
   */
  synchronized void enter(long deadlineNanos) throws InterruptedException {
    if (draining) {
      throw shuttingDown();
    }
    if (running < maxConcurrent) {
      running++;
      return;
    }
    if (waiting >= maxQueue) {
      throw ApiError.retryAfter(429, ApiError.RATE_LIMIT, "queue_full", "the server is busy: " + running
          + " requests running and " + waiting + " waiting (--max-queue " + maxQueue + "); retry later", 1);
    }
    waiting++;
    try {
      while (running >= maxConcurrent && !draining) {
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0) {
          throw ApiError.of(504, ApiError.TIMEOUT, "request_timeout", null, "the request timed out while waiting for"
              + " a free slot");
        }
        long ms = Math.max(1, left / 1_000_000);
        wait(ms);
      }
      if (draining) {
        throw shuttingDown();
      }
      running++;
    } finally {
      waiting--;
    }
  }

  synchronized void exit() {
    running--;
    notifyAll();
  }

  /** Refuses new requests from now on and wakes waiting ones (which get 503). */
  synchronized void drain() {
    draining = true;
    notifyAll();
  }

  synchronized int running() {
    return running;
  }

  synchronized int waiting() {
    return waiting;
  }

  synchronized boolean draining() {
    return draining;
  }

  private static ApiError shuttingDown() {
    return ApiError.retryAfter(503, ApiError.UNAVAILABLE, "shutting_down", "the server is shutting down", 5);
  }
}
