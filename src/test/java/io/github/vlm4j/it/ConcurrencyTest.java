package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.GenerationSession;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelClosedException;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.FinishReason;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** One model, many threads: same greedy ids as one thread; close and cancel are safe mid-generation. */
class ConcurrencyTest {
  static final String MODEL = "vlm4j-tiny-idefics3";

  record Case(String name, List<Message> messages, RequestOptions options, int maxNew) {}

  static List<Case> cases() {
    List<Case> out = new ArrayList<>();
    for (JsonNode c : Fixtures.json(Fixtures.model(MODEL).resolve("goldens.json")).get("cases")) {
      out.add(new Case(c.get("name").asText(), GoldenParityTest.messages(MODEL, c), GoldenParityTest.options(c),
          c.get("max_new_tokens").asInt()));
    }
    return out;
  }

  @Test
  void eightThreadsGiveTheSameIdsAsOne() throws Exception {
    List<Case> cases = cases();
    try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(MODEL))) {
      List<int[]> sequential = new ArrayList<>();
      for (Case c : cases) {
        sequential.add(model.generate(c.messages(), GenerationConfig.greedy(c.maxNew()), c.options(), TokenStreamer.none()).tokenIds());
      }
      int threads = 8;
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      try {
        List<Future<List<int[]>>> futures = new ArrayList<>();
        CountDownLatch start = new CountDownLatch(1);
        for (int t = 0; t < threads; t++) {
          final int offset = t;
          futures.add(pool.submit(() -> {
            start.await();
            List<int[]> got = new ArrayList<>();
            try (GenerationSession s = model.newSession()) {
              for (int i = 0; i < cases.size(); i++) {
                Case c = cases.get((i + offset) % cases.size());
                got.add(s.generate(c.messages(), GenerationConfig.greedy(c.maxNew()), c.options(), TokenStreamer.none()).tokenIds());
              }
            }
            return got;
          }));
        }
        start.countDown();
        for (int t = 0; t < threads; t++) {
          List<int[]> got = futures.get(t).get(5, TimeUnit.MINUTES);
          for (int i = 0; i < cases.size(); i++) {
            int k = (i + t) % cases.size();
            assertArrayEquals(sequential.get(k), got.get(i), "thread " + t + " case " + cases.get(k).name());
          }
        }
      } finally {
        pool.shutdownNow();
      }
    }
  }

  /** A request that would run long: no end-of-sequence id is ever produced. */
  static GenerationConfig endless(int max) {
    return GenerationConfig.builder().maxNewTokens(max).eosTokenIds(List.of(Integer.MAX_VALUE)).build();
  }

  @Test
  void cancelStopsAtTheNextStep() throws Exception {
    Case c = cases().get(0);
    try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(MODEL));
         GenerationSession s = model.newSession()) {
      AtomicInteger tokens = new AtomicInteger();
      GenerationResult r = s.generate(c.messages(), endless(400), c.options(), new TokenStreamer() {
        @Override
        public void onText(String delta) {}

        @Override
        public void onToken(int id) {
          if (tokens.incrementAndGet() == 3) {
            s.cancel();
          }
        }
      });
      assertEquals(FinishReason.CANCELLED, r.finishReason());
      assertEquals(3, r.tokenIds().length);
      GenerationResult again = s.generate(c.messages(), GenerationConfig.greedy(c.maxNew()), c.options(), TokenStreamer.none());
      assertTrue(again.finishReason() != FinishReason.CANCELLED, "a later request runs normally");
    }
  }

  @Test
  void closingTheModelWhileRequestsRunIsSafe() throws Exception {
    Case c = cases().get(0);
    VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(MODEL));
    ExecutorService pool = Executors.newFixedThreadPool(4);
    CountDownLatch running = new CountDownLatch(4);
    List<Future<String>> futures = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      futures.add(pool.submit(() -> {
        try (GenerationSession s = model.newSession()) {
          GenerationResult r = s.generate(c.messages(), endless(2000), c.options(), new TokenStreamer() {
            boolean first = true;

            @Override
            public void onText(String delta) {}

            @Override
            public void onToken(int id) {
              if (first) {
                first = false;
                running.countDown();
              }
            }
          });
          return "finished " + r.finishReason();
        } catch (ModelClosedException e) {
          return "closed";
        }
      }));
    }
    assertTrue(running.await(2, TimeUnit.MINUTES), "generations started");
    long t0 = System.nanoTime();
    model.close();
    long closeMs = (System.nanoTime() - t0) / 1_000_000;
    for (Future<String> f : futures) {
      String outcome = f.get(1, TimeUnit.MINUTES);
      if (!outcome.equals("closed") && !outcome.startsWith("finished")) {
        fail(outcome);
      }
      assertEquals("closed", outcome, "requests running during close fail cleanly");
    }
    pool.shutdown();
    assertTrue(closeMs < 30_000, "close waited " + closeMs + " ms");
    assertThrows(ModelClosedException.class, model::newSession);
  }
}
