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
    List<GenerationResult> alone = new ArrayList<>();
    try (VisionLanguageModel solo = VisionLanguageModel.builder(Fixtures.model(name)).maxBatchSize(1).build()) {
      assertFalse(solo.batchingEnabled());
      for (Request r : requests) {
        alone.add(run(solo, r));
      }
    }
    try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(name))) {
      assertTrue(model.batchingEnabled(), name + " decoder takes position_ids: it must batch");
      List<GenerationResult> batched = concurrently(model, requests, r -> run(model, r));
      for (int i = 0; i < requests.size(); i++) {
        assertSame(requests.get(i), alone.get(i), batched.get(i));
      }
      DecodeBatcher.Stats s = model.batchStats();
      System.out.printf("%s: %d requests, %d batched steps, %.2f rows per step, largest %d rows%n", name,
          requests.size(), s.steps(), s.meanBatch(), s.largestBatch());
      assertEquals((long) requests.size(), s.joins(), "every request joined the batch once");
      assertTrue(s.largestBatch() >= 2, "concurrent requests shared a step: " + s);
      assertTrue(s.meanBatch() > 1.2, "steps were shared, not serialised: " + s);
      // the batch is empty again and keeps working for a request alone
      Request first = requests.get(0);
      assertSame(first, alone.get(0), run(model, first));
    }
  }

  @Test
  void fp16CacheBatchesLikeAlone() throws Exception {
    String name = "vlm4j-tiny-idefics3";
    List<Request> requests = requests(name).subList(0, 6);
    List<GenerationResult> alone = new ArrayList<>();
    try (VisionLanguageModel solo = VisionLanguageModel.builder(Fixtures.model(name)).dtype(Dtype.FP16)
        .maxBatchSize(1).build()) {
      for (Request r : requests) {
        alone.add(run(solo, r));
      }
    }
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
    List<GenerationResult> alone = new ArrayList<>();
    try (VisionLanguageModel solo = VisionLanguageModel.builder(Fixtures.model(name)).maxBatchSize(1).build()) {
      for (Request r : requests) {
        alone.add(run(solo, r));
      }
    }
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
    List<GenerationResult> alone = new ArrayList<>();
    try (VisionLanguageModel solo = VisionLanguageModel.builder(Fixtures.model(name)).maxBatchSize(1).build()) {
      for (Request r : requests) {
        alone.add(run(solo, r));
      }
    }
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
}
