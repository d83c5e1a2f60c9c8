package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.GenerationSession;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.onnx.Dtype;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.DecodeBatcher;
import io.github.vlm4j.decoder.generation.FinishReason;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import io.github.vlm4j.decoder.generation.constraint.OutputConstraint;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * Continuous batching (issue 12): requests generating at the same time share decoder steps, and each
 * gets exactly what it gets alone — greedy and seeded sampling, stop strings, constraints, token
 * limits, cancellation — while rows join and leave the batch at different steps.
 */
class BatchedDecodingTest {
  record Request(String name, List<Message> messages, RequestOptions options, GenerationConfig config) {}

  /** Every golden case of the model, each with a different generation setting. */
  static List<Request> requests(String model) {
    List<Request> out = new ArrayList<>();
    int k = 0;
    for (JsonNode c : Fixtures.json(Fixtures.model(model).resolve("goldens.json")).get("cases")) {
      int maxNew = c.get("max_new_tokens").asInt();
      GenerationConfig config = switch (k % 5) {
        case 0 -> GenerationConfig.greedy(maxNew);
        case 1 -> GenerationConfig.builder().maxNewTokens(maxNew + 7).doSample(true).temperature(0.9).topP(0.95)
            .seed(1000 + k).build();
        case 2 -> GenerationConfig.builder().maxNewTokens(3 + k).doSample(true).temperature(1.3).topK(40)
            .repetitionPenalty(1.2).seed(k).build();
        case 3 -> GenerationConfig.builder().maxNewTokens(40).constraint(OutputConstraint.regex("[a-z ]{1,30}\\.")).build();
        default -> GenerationConfig.builder().maxNewTokens(maxNew).stopStrings(List.of("e")).build();
      };
      out.add(new Request(c.get("name").asText() + "#" + k, GoldenParityTest.messages(model, c),
          GoldenParityTest.options(c), config));
      k++;
    }
    return out;
  }

  static GenerationResult run(VisionLanguageModel model, Request r) {
    return model.generate(r.messages(), r.config(), r.options(), TokenStreamer.none());
  }

  /** Every request on a model that never batches ({@code maxBatchSize(1)}), one after the other. */
  static List<GenerationResult> alone(String name, Dtype dtype, List<Request> requests) throws Exception {
    List<GenerationResult> out = new ArrayList<>();
    try (VisionLanguageModel solo = VisionLanguageModel.builder(Fixtures.model(name)).dtype(dtype).maxBatchSize(1)
        .build()) {
      assertFalse(solo.batchingEnabled());
      for (Request r : requests) {
        out.add(run(solo, r));
      }
    }
    return out;
  }

  /** Runs every request on its own thread, all released at once; results in request order. */
  static List<GenerationResult> concurrently(VisionLanguageModel model, List<Request> requests,
      Function<Request, GenerationResult> call) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(requests.size());
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<GenerationResult>> futures = new ArrayList<>();
      for (Request r : requests) {
        futures.add(pool.submit(() -> {
          start.await();
          return call.apply(r);
        }));
      }
      start.countDown();
      List<GenerationResult> out = new ArrayList<>();
      for (Future<GenerationResult> f : futures) {
        out.add(f.get(5, TimeUnit.MINUTES));
      }
      return out;
    } finally {
      pool.shutdownNow();
    }
  }

  static void assertSame(Request r, GenerationResult alone, GenerationResult batched) {
    assertArrayEquals(alone.tokenIds(), batched.tokenIds(), r.name() + ": ids");
    assertEquals(alone.text(), batched.text(), r.name() + ": text");
    assertEquals(alone.finishReason(), batched.finishReason(), r.name() + ": finish reason");
    assertEquals(alone.constraint(), batched.constraint(), r.name() + ": constraint status");
  }

  @ParameterizedTest
  @ValueSource(strings = {"vlm4j-tiny-idefics3", "vlm4j-tiny-llava", "vlm4j-tiny-modular"})
  void concurrentRequestsShareStepsAndGetWhatTheyGetAlone(String name) throws Exception {
    List<Request> requests = requests(name);
    List<GenerationResult> alone = alone(name, Dtype.FP32, requests);
    try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(name))) {
      assertTrue(model.batchingEnabled(), name + " decoder takes position_ids: it must batch");
      List<GenerationResult> batched = concurrently(model, requests, r -> run(model, r));
      for (int i = 0; i < requests.size(); i++) {
        assertSame(requests.get(i), alone.get(i), batched.get(i));
      }
      DecodeBatcher.Stats s = model.batchStats();
      System.out.printf("%s: %d requests, %d batched steps, %.2f rows per step, largest %d rows, %d cache copies%n", name,
          requests.size(), s.steps(), s.meanBatch(), s.largestBatch(), s.cacheCopies());
      assertTrue(s.joins() <= requests.size() && s.joins() >= 2, "requests joined the batch at most once: " + s);
      assertTrue(s.largestBatch() >= 2, "concurrent requests shared a step: " + s);
      assertTrue(s.meanBatch() > 1.2, "steps were shared, not serialised: " + s);
      // the cache is copied only when a row joins a running batch or rows leave: at most twice per
      // request, never per step
      assertTrue(s.cacheCopies() <= 2L * requests.size(), s.toString());
      // the batch is empty again and keeps working for a request alone
      Request first = requests.get(0);
      assertSame(first, alone.get(0), run(model, first));
    }
  }

  @Test
  void fp16CacheBatchesLikeAlone() throws Exception {
    String name = "vlm4j-tiny-idefics3";
    List<Request> requests = requests(name).subList(0, 6);
    List<GenerationResult> alone = alone(name, Dtype.FP16, requests);
    try (VisionLanguageModel model = VisionLanguageModel.builder(Fixtures.model(name)).dtype(Dtype.FP16).build()) {
      List<GenerationResult> batched = concurrently(model, requests, r -> run(model, r));
      for (int i = 0; i < requests.size(); i++) {
        assertSame(requests.get(i), alone.get(i), batched.get(i));
      }
      assertTrue(model.batchStats().largestBatch() >= 2, model.batchStats().toString());
    }
  }

  @Test
  void boundsOnRowsAndPaddedTokensHold() throws Exception {
    String name = "vlm4j-tiny-idefics3";
    List<Request> requests = requests(name);
    List<GenerationResult> alone = alone(name, Dtype.FP32, requests);
    int window = 1024;
    try (VisionLanguageModel model = VisionLanguageModel.builder(Fixtures.model(name)).maxBatchSize(3)
        .maxBatchTokens(window).build()) {
      assertEquals(window, model.textConfig().maxPositions());
      List<GenerationResult> batched = concurrently(model, requests, r -> run(model, r));
      for (int i = 0; i < requests.size(); i++) {
        assertSame(requests.get(i), alone.get(i), batched.get(i));
      }
      DecodeBatcher.Stats s = model.batchStats();
      assertTrue(s.largestBatch() <= 3 && s.largestBatch() >= 2, s.toString());
      assertTrue(s.largestBatchTokens() <= window, s.toString());
    }
  }

  @Test
  void aCancelledRequestLeavesWithoutDisturbingTheOthers() throws Exception {
    String name = "vlm4j-tiny-idefics3";
    List<Request> requests = requests(name).subList(0, 5);
    List<GenerationResult> alone = alone(name, Dtype.FP32, requests);
    Request victim = new Request("cancelled", requests.get(0).messages(), requests.get(0).options(),
        GenerationConfig.builder().maxNewTokens(200).eosTokenIds(List.of(0)).build());
    List<Request> all = new ArrayList<>(requests);
    all.add(victim);
    try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(name))) {
      List<GenerationResult> batched = concurrently(model, all, r -> {
        if (r != victim) {
          return run(model, r);
        }
        try (GenerationSession s = model.newSession()) {
          return s.generate(r.messages(), r.config(), r.options(), new TokenStreamer() {
            int tokens;

            @Override
            public void onText(String delta) {}

            @Override
            public void onToken(int id) {
              if (++tokens == 5) {
                s.cancel();
              }
            }
          });
        }
      });
      for (int i = 0; i < requests.size(); i++) {
        assertSame(requests.get(i), alone.get(i), batched.get(i));
      }
      GenerationResult cancelled = batched.get(requests.size());
      assertEquals(FinishReason.CANCELLED, cancelled.finishReason());
      assertTrue(model.batchStats().largestBatch() >= 2, model.batchStats().toString());
    }
  }

  /**
   * A request waiting for a place in a full batch (its prefill done, its first token chosen) is
   * cancelled while it waits: it frees its cache and ends at once, and the batch's rows go on. The
   * rows are never held (holding one row in its streamer would stall the shared step for all); they
   * are long enough to keep the batch full while the victim waits, and the victim's token count
   * shows it never got a step.
   */
  @Test
  void aRequestWaitingToJoinAFullBatchCanBeCancelled() throws Exception {
    String name = "vlm4j-tiny-idefics3";
    List<Message> chat = List.of(Message.user("Tell a long story."));
    CountDownLatch started = new CountDownLatch(2);
    CountDownLatch victimWaits = new CountDownLatch(1);
    java.util.concurrent.atomic.AtomicInteger victimTokens = new java.util.concurrent.atomic.AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try (VisionLanguageModel model = VisionLanguageModel.builder(Fixtures.model(name)).maxBatchSize(2).build()) {
      int prompt = model.countTokens(chat, RequestOptions.DEFAULT).promptTokens();
      int longest = model.textConfig().maxPositions() - prompt - 1;
      GenerationConfig rowConfig = GenerationConfig.builder().maxNewTokens(longest).eosTokenIds(List.of(0)).build();
      List<Future<GenerationResult>> rows = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        rows.add(pool.submit(() -> model.generate(chat, rowConfig, RequestOptions.DEFAULT, new TokenStreamer() {
          int tokens;

          @Override
          public void onText(String delta) {}

          @Override
          public void onToken(int id) {
            if (++tokens == 3) {
              started.countDown();
            }
          }
        })));
      }
      assertTrue(started.await(30, TimeUnit.SECONDS));
      GenerationSession victim = model.newSession();
      Future<GenerationResult> v = pool.submit(() -> victim.generate(chat, rowConfig, RequestOptions.DEFAULT,
          new TokenStreamer() {
            @Override
            public void onText(String delta) {}

            @Override
            public void onToken(int id) {
              victimTokens.incrementAndGet();
              victimWaits.countDown();   // its first token is chosen: next it waits for a place
            }
          }));
      assertTrue(victimWaits.await(30, TimeUnit.SECONDS));
      Thread.sleep(50);
      boolean rowsRunning = rows.stream().noneMatch(Future::isDone);
      long t0 = System.nanoTime();
      victim.cancel();
      GenerationResult cancelled = v.get(10, TimeUnit.SECONDS);
      long ms = (System.nanoTime() - t0) / 1_000_000;
      boolean rowsStillRunning = rows.stream().noneMatch(Future::isDone);
      assertTrue(rowsRunning, "the batch was still full when the victim was cancelled");
      assertTrue(rowsStillRunning, "the victim ended before any row left (it was not admitted by a row leaving)");
      assertEquals(FinishReason.CANCELLED, cancelled.finishReason());
      assertEquals(1, victimTokens.get(), "the victim never got a step: it was waiting for a place");
      assertTrue(ms < 2000, "ended " + ms + " ms after the cancel");
      for (Future<GenerationResult> r : rows) {
        assertEquals(longest, r.get(120, TimeUnit.SECONDS).tokenIds().length, "the rows went on");
      }
      victim.close();
    } finally {
      pool.shutdownNow();
    }
  }

  /** Scoring labels as rows of one run equals one run per label (2..8 labels, several episodes). */
  @Test
  void classifyScoresAllLabelsInSharedRunsLikeOneRunEach() throws Exception {
    java.nio.file.Path dir = Fixtures.model("vlm4j-tiny-idefics3");
    List<Fixtures.EvalCase> episodes = Fixtures.evalCases("icl_2shot").subList(0, 4);
    List<List<String>> labelSets = List.of(List.of("circle", "square"),
        List.of("circle", "square", "triangle", "a red circle", "two squares", "none of them", "star", "x"));
    try (VisionLanguageModel solo = VisionLanguageModel.builder(dir).maxBatchSize(1).build();
         VisionLanguageModel batched = VisionLanguageModel.builder(dir).build();
         VisionLanguageModel twoRows = VisionLanguageModel.builder(dir).maxBatchSize(2).build()) {
      double worst = 0;
      for (Fixtures.EvalCase ec : episodes) {
        io.github.vlm4j.FewShotPrompt p = EvalParityTest.fewShot(ec);
        for (List<String> labels : labelSets) {
          io.github.vlm4j.LabelScores ref = solo.classify(p, labels, RequestOptions.DEFAULT);
          for (VisionLanguageModel m : List.of(batched, twoRows)) {
            io.github.vlm4j.LabelScores got = m.classify(p, labels, RequestOptions.DEFAULT);
            for (int i = 0; i < labels.size(); i++) {
              var a = ref.scores().get(i);
              var b = got.scores().get(i);
              assertEquals(a.label(), b.label());
              assertArrayEquals(a.tokenIds(), b.tokenIds());
              for (int j = 0; j < a.tokenLogProbs().length; j++) {
                worst = Math.max(worst, Math.abs(a.tokenLogProbs()[j] - b.tokenLogProbs()[j]));
              }
              assertEquals(a.logProb(), b.logProb(), 1e-5, ec.id() + " " + a.label());
              assertEquals(a.probability(), b.probability(), 1e-5, ec.id() + " " + a.label());
            }
          }
        }
      }
      System.out.printf("classify: batched vs one run per label, largest token log-prob difference %.2e%n", worst);
    }
  }

  /** A request that fails (bad image, a streamer that throws mid-generation) fails alone. */
  @Test
  void aFailingRequestFailsAlone() throws Exception {
    String name = "vlm4j-tiny-idefics3";
    List<Request> requests = requests(name).subList(0, 5);
    List<GenerationResult> alone = alone(name, Dtype.FP32, requests);
    Request corrupt = new Request("corrupt image", List.of(Message.user(
        io.github.vlm4j.core.prompt.ImageInput.of(new byte[] {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3}), "what?")),
        RequestOptions.DEFAULT, GenerationConfig.greedy(20));
    Request throwing = new Request("streamer throws", requests.get(0).messages(), requests.get(0).options(),
        GenerationConfig.builder().maxNewTokens(200).eosTokenIds(List.of(0)).build());
    List<Request> all = new ArrayList<>(requests);
    all.add(corrupt);
    all.add(throwing);
    List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
    try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(name))) {
      List<GenerationResult> batched = concurrently(model, all, r -> {
        try {
          if (r == throwing) {
            return model.generate(r.messages(), r.config(), r.options(), new TokenStreamer() {
              int tokens;

              @Override
              public void onText(String delta) {}

              @Override
              public void onToken(int id) {
                if (++tokens == 4) {
                  throw new IllegalStateException("the client went away");
                }
              }
            });
          }
          return run(model, r);
        } catch (RuntimeException e) {
          failures.add(e);
          return null;
        }
      });
      for (int i = 0; i < requests.size(); i++) {
        assertSame(requests.get(i), alone.get(i), batched.get(i));
      }
      assertEquals(2, failures.size(), failures.toString());
      assertTrue(failures.stream().anyMatch(f -> f instanceof io.github.vlm4j.core.VlmInputException v
          && v.reason().name().startsWith("IMAGE_")), failures.toString());
      assertTrue(failures.stream().anyMatch(f -> "the client went away".equals(f.getMessage())), failures.toString());
      // the batch is healthy afterwards
      assertSame(requests.get(1), alone.get(1), run(model, requests.get(1)));
    }
  }
}
