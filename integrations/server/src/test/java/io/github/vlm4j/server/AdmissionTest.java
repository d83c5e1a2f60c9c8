package io.github.vlm4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The queue's {@code Retry-After} follows how long requests hold their slots; abandoned waiters leave. */
@Timeout(30)
class AdmissionTest {
  static final long SECOND = 1_000_000_000L;

  @Test
  void retryAfterIsTheMeanHoldingTimePerSlotRoundedUpWithinBounds() throws Exception {
    AtomicLong now = new AtomicLong();
    Admission a = new Admission(2, 0, now::get);
    assertEquals(1, a.retryAfterSeconds(), "nothing finished yet: the minimum");
    long t = a.enter(Long.MAX_VALUE, () -> false);
    now.addAndGet(9 * SECOND);
    a.exit(t);
    assertEquals(5, a.retryAfterSeconds(), "9 s per request over 2 slots = 4.5 s, rounded up");
    long t1 = a.enter(Long.MAX_VALUE, () -> false);
    long t2 = a.enter(Long.MAX_VALUE, () -> false);
    ApiError full = assertThrows(ApiError.class, () -> a.enter(Long.MAX_VALUE, () -> false));
    assertEquals(429, full.status());
    assertEquals(5, full.retryAfterSeconds());
    now.addAndGet(SECOND);
    a.exit(t1);   // held 1 s: mean 0.2 * 1 + 0.8 * 9 = 7.4 s
    assertEquals(4, a.retryAfterSeconds());
    now.addAndGet(10_000 * SECOND);
    a.exit(t2);
    assertEquals(Admission.MAX_RETRY_AFTER, a.retryAfterSeconds(), "capped");
  }

  @Test
  void aWaiterWhoseClientLeftGets499AndFreesItsQueuePlace() throws Exception {
    Admission a = new Admission(1, 1);
    long t = a.enter(Long.MAX_VALUE, () -> false);
    AtomicBoolean gone = new AtomicBoolean();
    CompletableFuture<Long> waiter = CompletableFuture.supplyAsync(() -> {
      try {
        return a.enter(System.nanoTime() + 20 * SECOND, gone::get);
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
    });
    while (a.waiting() == 0) {
      Thread.sleep(1);
    }
    gone.set(true);
    a.wake();
    ApiError e = (ApiError) assertThrows(java.util.concurrent.ExecutionException.class,
        () -> waiter.get(10, TimeUnit.SECONDS)).getCause();
    assertEquals(499, e.status());
    assertEquals("client_disconnected", e.code());
    assertEquals(0, a.waiting());
    assertEquals(1, a.running(), "the running request keeps its slot");
    a.exit(t);
    assertEquals(0, a.running());
  }
}
