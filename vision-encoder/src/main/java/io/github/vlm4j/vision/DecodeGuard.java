package io.github.vlm4j.vision;

import io.github.vlm4j.core.VlmInputException;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * The cancellation flag and time bound of one decode, polled from inside decoding (stream reads,
 * reader progress callbacks, conversion row loops). Once tripped it stays tripped. Used by one
 * decoding thread.
 */
final class DecodeGuard {
  private final BooleanSupplier cancelled;
  private final long deadline;
  private final Duration limit;
  private final String what;
  private volatile RuntimeException tripped;

  DecodeGuard(BooleanSupplier cancelled, Duration limit, String what) {
    this.cancelled = cancelled;
    this.limit = limit;
    this.deadline = System.nanoTime() + limit.toNanos();
    this.what = what;
  }

  /** @return true (and remembers why) if the decode must stop */
  boolean shouldStop() {
    if (tripped != null) {
      return true;
    }
    if (cancelled.getAsBoolean()) {
      tripped = new CancellationException("decoding image " + what + " was cancelled");
      return true;
    }
    if (System.nanoTime() - deadline > 0) {
      tripped = new VlmInputException(VlmInputException.Reason.IMAGE_TOO_LARGE,
          "decoding image " + what + " took longer than the limit of " + limit.toMillis()
              + " ms; it is too costly to decode (set a longer decode time limit on the ImageDecoder to accept it)");
      return true;
    }
    return false;
  }

  /** Throws the reason to stop, if any. */
  void check() {
    if (shouldStop()) {
      throw tripped;
    }
  }

  /** Throws the reason to stop if the guard tripped earlier (e.g. a reader was aborted). */
  void rethrowIfTripped() {
    if (tripped != null) {
      throw tripped;
    }
  }

  BooleanSupplier cancelled() {
    return cancelled;
  }
}
