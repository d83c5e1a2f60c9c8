package io.github.vlm4j.vision;

import io.github.vlm4j.core.VlmInputException;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * A pool of bytes that image decodes reserve before they allocate pixel memory, so that concurrent
 * decodes together stay within a bound (a byte semaphore). A decode that needs more than is free
 * waits (cancellably, at most a given time); a decode that needs more than the whole pool is
 * refused at once.
 *
 * <p>{@link #shared()} is one pool for the whole JVM, sized a quarter of {@link
 * Runtime#maxMemory()} (-Xmx): every {@link ImageDecoder} built without an explicit budget uses it,
 * so two models in one process share it too. Thread-safe.
 */
public final class DecodeBudget {
  private static final long POLL_MILLIS = 20;
  private static final DecodeBudget SHARED = new DecodeBudget(Math.max(64L << 20, Runtime.getRuntime().maxMemory() / 4));

  private final long capacity;
  private long reserved;
  private long peak;

  /**
   * Creates a pool of the given size.
   *
   * @param capacityBytes bytes that concurrent decodes may hold together, > 0
   */
  public DecodeBudget(long capacityBytes) {
    if (capacityBytes <= 0) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "a decode budget must be positive, got " + capacityBytes + " bytes");
    }
    this.capacity = capacityBytes;
  }

  /**
   * Returns the pool shared by the whole JVM.
   *
   * @return the JVM-wide default pool: a quarter of the maximum heap, at least 64 MiB
   */
  public static DecodeBudget shared() {
    return SHARED;
  }

  /**
   * Returns the pool's capacity.
   *
   * @return the size of the pool in bytes
   */
  public long capacity() {
    return capacity;
  }

  /**
   * Returns the bytes currently reserved.
   *
   * @return bytes reserved right now
   */
  public synchronized long reserved() {
    return reserved;
  }

  /**
   * Returns the peak reservation.
   *
   * @return the most bytes ever reserved at once (for tests and monitoring)
   */
  public synchronized long peakReserved() {
    return peak;
  }

  /**
   * Reserves {@code bytes}, waiting while other decodes hold the pool.
   *
   * @param bytes bytes to reserve
   * @param what the image, for messages
   * @param maxWait how long to wait for the bytes to become free
   * @param cancelled polled while waiting
   * @return the reservation; close it to give the bytes back
   * @throws VlmInputException IMAGE_TOO_LARGE if {@code bytes} exceed the whole pool or are not
   *     free within {@code maxWait}
   * @throws CancellationException if {@code cancelled} turns true while waiting
   */
  public Reservation reserve(long bytes, String what, Duration maxWait, BooleanSupplier cancelled) {
    if (bytes > capacity) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_TOO_LARGE,
          "decoding image " + what + " needs about " + mib(bytes) + " MiB but the decode budget is "
              + mib(capacity) + " MiB (by default a quarter of the maximum heap, -Xmx; raise -Xmx or set a larger "
              + "budget on the ImageDecoder)");
    }
    long deadline = System.nanoTime() + maxWait.toNanos();
    synchronized (this) {
      while (capacity - reserved < bytes) {
        if (cancelled.getAsBoolean()) {
          throw new CancellationException("cancelled while waiting for " + mib(bytes) + " MiB of decode budget");
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new VlmInputException(VlmInputException.Reason.IMAGE_TOO_LARGE,
              "decoding image " + what + " needs about " + mib(bytes) + " MiB of the " + mib(capacity)
                  + " MiB decode budget, but other decodes held it for longer than " + maxWait.toMillis() + " ms");
        }
        try {
          wait(Math.max(1, Math.min(POLL_MILLIS, left / 1_000_000)));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new CancellationException("interrupted while waiting for decode budget");
        }
      }
      reserved += bytes;
      peak = Math.max(peak, reserved);
    }
    return new Reservation(bytes);
  }

  private synchronized void release(long bytes) {
    reserved -= bytes;
    notifyAll();
  }

  static long mib(long bytes) {
    return (bytes + (1 << 20) - 1) >> 20;
  }

  /** Bytes held from a {@link DecodeBudget}; {@link #close()} returns them (idempotent). Not thread-safe. */
  public final class Reservation implements AutoCloseable {
    private long bytes;

    private Reservation(long bytes) {
      this.bytes = bytes;
    }

    /**
     * Returns the size of this reservation.
     *
     * @return the bytes held
     */
    public long bytes() {
      return bytes;
    }

    @Override
    public void close() {
      if (bytes > 0) {
        release(bytes);
        bytes = 0;
      }
    }
  }
}
