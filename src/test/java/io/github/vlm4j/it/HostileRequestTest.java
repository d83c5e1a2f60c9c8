package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.vlm4j.GenerationSession;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.ModelClosedException;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.FinishReason;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Issue #11 items 1, 4, 5 and 6 through the public API: races, re-entrant closes, over-long text. */
class HostileRequestTest {
  static VisionLanguageModel model;

  @BeforeAll
  static void load() throws Exception {
    model = VisionLanguageModel.load(Fixtures.model("vlm4j-tiny-idefics3"));
  }

  @AfterAll
  static void close() {
    model.close();
  }

  static final List<Message> SHORT = List.of(Message.user("What shapes are there?"));

  /** A streamer that runs {@code action} when the second token arrives (on the generating thread). */
  static TokenStreamer onSecondToken(Runnable action) {
    return new TokenStreamer() {
      int n;

      @Override
      public void onText(String delta) {}

      @Override
      public void onToken(int id) {
        if (++n == 2) {
          action.run();
        }
      }
    };
  }

  static GenerationConfig endless(int max) {
    return GenerationConfig.builder().maxNewTokens(max).eosTokenIds(List.of(Integer.MAX_VALUE)).build();
  }

  /**
   * A cancel aimed at one request never fails the next one: on each of 6 sessions, one thread runs
   * short requests back to back while another cancels at random moments. Every request ends normally
   * or as CANCELLED — never with "Exiting due to terminate flag" (before the fix, cancel() set its flag
   * and terminated "the running state" in two steps, so a late terminate could hit the next request:
   * about 1 in 180 cancels under load).
   */
  @Test
  void cancelNeverLeaksIntoTheNextRequest() throws Exception {
    AtomicInteger normal = new AtomicInteger();
    AtomicInteger cancelled = new AtomicInteger();
    AtomicInteger cancels = new AtomicInteger();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicBoolean stop = new AtomicBoolean();
    long end = System.nanoTime() + Duration.ofSeconds(8).toNanos();
    List<Thread> threads = new java.util.ArrayList<>();
    List<GenerationSession> sessions = new java.util.ArrayList<>();
    for (int t = 0; t < 6; t++) {
      GenerationSession s = model.newSession();
      sessions.add(s);
      int seed = t;
      threads.add(new Thread(() -> {
        java.util.Random r = new java.util.Random(seed);
        while (!stop.get()) {
          java.util.concurrent.locks.LockSupport.parkNanos(r.nextInt(30_000_000));
          s.cancel();
          cancels.incrementAndGet();
        }
      }));
      threads.add(new Thread(() -> {
        while (System.nanoTime() < end && failure.get() == null) {
          try {
            GenerationResult r = s.generate(SHORT, GenerationConfig.greedy(3), RequestOptions.DEFAULT,
                TokenStreamer.none());
            (r.finishReason() == FinishReason.CANCELLED ? cancelled : normal).incrementAndGet();
          } catch (RuntimeException e) {
            failure.compareAndSet(null, e);
          }
        }
      }));
    }
    threads.forEach(Thread::start);
    for (int i = 1; i < threads.size(); i += 2) {
      threads.get(i).join(120_000);
    }
    stop.set(true);
    for (Thread t : threads) {
      t.join(10_000);
    }
    sessions.forEach(GenerationSession::close);
    System.out.println("[cancel-race] cancels " + cancels + ", requests normal " + normal + ", cancelled " + cancelled);
    assertEquals(null, failure.get(), "a request failed after a cancel of another request");
    assertTrue(cancelled.get() > 20 && normal.get() >= 5, "too few requests of each kind to exercise the race");
  }

  @Test
  void cancelWithNothingRunningStopsExactlyTheNextRequest() {
    try (GenerationSession s = model.newSession()) {
      assertEquals(false, s.cancel());
      assertEquals(FinishReason.CANCELLED,
          s.generate(SHORT, GenerationConfig.greedy(2), RequestOptions.DEFAULT, TokenStreamer.none()).finishReason());
      assertTrue(s.generate(SHORT, GenerationConfig.greedy(2), RequestOptions.DEFAULT, TokenStreamer.none())
          .finishReason() != FinishReason.CANCELLED);
    }
  }

  @Test
  void closingTheSessionFromItsOwnStreamerDoesNotDeadlock() {
    GenerationSession s = model.newSession();
    GenerationResult r = assertTimeoutPreemptively(Duration.ofSeconds(60), () ->
        s.generate(SHORT, endless(200), RequestOptions.DEFAULT, onSecondToken(s::close)));
    assertEquals(FinishReason.CANCELLED, r.finishReason());
    assertEquals(2, r.tokenIds().length);
    assertThrows(ModelClosedException.class,
        () -> s.generate(SHORT, GenerationConfig.greedy(2), RequestOptions.DEFAULT, TokenStreamer.none()));
    s.close();   // idempotent
  }

  @Test
  void closingTheModelFromAStreamerDoesNotDeadlock() throws Exception {
    VisionLanguageModel own = VisionLanguageModel.load(Fixtures.model("vlm4j-tiny-idefics3"));
    AtomicBoolean closedInCallback = new AtomicBoolean();
    assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
      assertThrows(ModelClosedException.class, () -> own.generate(SHORT, endless(200), RequestOptions.DEFAULT,
          onSecondToken(() -> {
            own.close();
            closedInCallback.set(true);
          })));
    });
    assertTrue(closedInCallback.get());
    assertThrows(ModelClosedException.class, own::newSession);
  }

  /** 10 MB of text: refused from its length alone, before the template or the tokenizer see it. */
  @Test
  void textThatCannotFitIsRefusedBeforeTokenizing() {
    String huge = "word ".repeat(2_000_000);
    VlmInputException e = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> assertThrows(VlmInputException.class,
        () -> model.generate(List.of(Message.user(huge)), GenerationConfig.greedy(2), RequestOptions.DEFAULT,
            TokenStreamer.none())));
    assertEquals(VlmInputException.Reason.PROMPT_TOO_LONG, e.reason());
    assertTrue(e.getMessage().contains("10000000 characters"), e.getMessage());
    assertEquals(VlmInputException.Reason.PROMPT_TOO_LONG,
        assertThrows(VlmInputException.class, () -> model.countTokens(List.of(Message.user(huge)), RequestOptions.DEFAULT))
            .reason());
  }

  /** Text just under the character bound still goes through and is judged by its real token count. */
  @Test
  void longTextUnderTheBoundIsJudgedByTokens() {
    int window = model.textConfig().maxPositions();
    String text = "a ".repeat(window);   // about one token per "a ": over the window, under the char bound
    VlmInputException e = assertThrows(VlmInputException.class,
        () -> model.generate(List.of(Message.user(text)), GenerationConfig.greedy(2), RequestOptions.DEFAULT,
            TokenStreamer.none()));
    assertEquals(VlmInputException.Reason.PROMPT_TOO_LONG, e.reason());
    assertTrue(e.getMessage().contains("tokens"), e.getMessage());
  }

  /** cancel() while a large image is being decoded ends the request there: no template, tokens or graph runs. */
  @Test
  void cancelDuringImageDecodingStopsTheRequest(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    java.awt.image.BufferedImage big = new java.awt.image.BufferedImage(4000, 4000,
        java.awt.image.BufferedImage.TYPE_INT_RGB);
    java.util.Random r = new java.util.Random(1);
    for (int y = 0; y < 4000; y++) {
      for (int x = 0; x < 4000; x += 8) {
        big.setRGB(x, y, r.nextInt());
      }
    }
    java.nio.file.Path png = dir.resolve("big.png");
    javax.imageio.ImageIO.write(big, "png", png.toFile());
    List<Message> chat = List.of(Message.user(io.github.vlm4j.core.prompt.ImageInput.of(png), "What is it?"));
    long t0 = System.nanoTime();
    model.countTokens(chat, RequestOptions.DEFAULT);   // one full decode: how long it takes here
    long full = System.nanoTime() - t0;
    try (GenerationSession s = model.newSession()) {
      Thread canceller = new Thread(() -> {
        java.util.concurrent.locks.LockSupport.parkNanos(full / 10);
        s.cancel();
      });
      canceller.start();
      GenerationResult res = s.generate(chat, GenerationConfig.greedy(4), RequestOptions.DEFAULT, TokenStreamer.none());
      canceller.join();
      assertEquals(FinishReason.CANCELLED, res.finishReason());
      assertEquals(0, res.usage().promptTokens(), "stopped before the prompt was tokenized");
    }
  }
}
