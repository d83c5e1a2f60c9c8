package io.github.vlm4j.server;

import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/**
 * Bounded concurrency with a bounded queue: at most {@code maxConcurrent} requests run; up to
 * {@code maxQueue} more wait (in arrival order of wake-ups, not strictly FIFO); any further request
 * is refused at once with 429 and a {@code Retry-After} estimated from how long requests hold their
 * slot. While draining, new requests get 503. Thread-safe.
 */
final class Admission {
  /** Weight of the newest slot-holding time in the running average. */
  private static final double SMOOTHING = 0.2;
  /** Bounds of the {@code Retry-After} estimate, in seconds. */
  static final long MIN_RETRY_AFTER = 1;
  static final long MAX_RETRY_AFTER = 60;

  private final int maxConcurrent;
  private final int maxQueue;
  private final LongSupplier clock;
  private int running;
  private int waiting;
  private boolean draining;
  /** Running average of how long a request holds its slot, in nanoseconds; 0 until one has finished. */
  private double meanHoldNanos;

  Admission(int maxConcurrent, int maxQueue) {
    this(maxConcurrent, maxQueue, System::nanoTime);
  }

  /** @param clock nanosecond clock (tests pass their own) */
  Admission(int maxConcurrent, int maxQueue, LongSupplier clock) {
    this.maxConcurrent = maxConcurrent;
    this.maxQueue = maxQueue;
    this.clock = clock;
  }

  /**
   * Waits for a slot until {@code deadlineNanos} ({@link System#nanoTime()} scale), or until the
   * client is gone.
   *
   * @param deadlineNanos when to give up
   * @param abandoned whether the client went away (checked on every {@link #wake()})
   * @return the time the slot was taken, to pass to {@link #exit(long)}
   * @throws ApiError 429 if the queue is full, 503 while draining, 504 if the deadline passes while
   *     waiting, 499 if the client went away while waiting
   */
  synchronized long enter(long deadlineNanos, BooleanSupplier abandoned) throws InterruptedException {
    if (draining) {
      throw shuttingDown();
    }
    if (running < maxConcurrent) {
      running++;
      return clock.getAsLong();
    }
    if (waiting >= maxQueue) {
      throw ApiError.retryAfter(429, ApiError.RATE_LIMIT, "queue_full", "the server is busy: " + running
          + " requests running and " + waiting + " waiting (--max-queue " + maxQueue + "); retry later",
          retryAfterSeconds());
    }
    waiting++;
    try {
      while (running >= maxConcurrent && !draining) {
        if (abandoned.getAsBoolean()) {
          throw clientGone();
        }
        long left = deadlineNanos - clock.getAsLong();
        if (left <= 0) {
          throw ApiError.of(504, ApiError.TIMEOUT, "request_timeout", null, "the request timed out while waiting for"
              + " a free slot");
        }
        wait(Math.max(1, left / 1_000_000));
      }
      if (draining) {
        throw shuttingDown();
      }
      if (abandoned.getAsBoolean()) {
        throw clientGone();
      }
      running++;
      return clock.getAsLong();
    } finally {
      waiting--;
    }
  }

  /**
   * Frees a slot and folds its holding time into the {@code Retry-After} estimate.
   *
   * @param enteredAt what {@link #enter} returned
   */
  synchronized void exit(long enteredAt) {
    double held = Math.max(0, clock.getAsLong() - enteredAt);
    meanHoldNanos = meanHoldNanos == 0 ? held : SMOOTHING * held + (1 - SMOOTHING) * meanHoldNanos;
    running--;
    notifyAll();
  }

  /** Wakes waiting requests so they re-check whether their client is still there. */
  synchronized void wake() {
    notifyAll();
  }

  /**
   * Estimates when a queue place frees: with {@code maxConcurrent} slots each held for the mean
   * time, one slot frees every mean / maxConcurrent on average. Rounded up, in [1, 60] seconds.
   *
   * @return the {@code Retry-After} seconds for a request refused now
   */
  synchronized long retryAfterSeconds() {
    double seconds = meanHoldNanos / 1e9 / maxConcurrent;
    return Math.max(MIN_RETRY_AFTER, Math.min(MAX_RETRY_AFTER, (long) Math.ceil(seconds)));
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

  static ApiError clientGone() {
    return ApiError.of(499, ApiError.INVALID_REQUEST, "client_disconnected", null, "the client went away");
  }

  private static ApiError shuttingDown() {
    return ApiError.retryAfter(503, ApiError.UNAVAILABLE, "shutting_down", "the server is shutting down", 5);
  }
}
