package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.GenerationSession;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import io.github.vlm4j.projector.AdapterInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** Gated cross-modal adapters on one shared backbone: concurrent use, live swaps, typed errors. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdapterTest {
  static final String MODEL = "vlm4j-tiny-modular";
  static final Path BAD = Fixtures.models().getParent().resolve("fixtures/bad-adapters");
  VisionLanguageModel model;
  List<ConcurrencyTest.Case> cases;

  @BeforeAll
  void load() throws ModelLoadException {
    model = VisionLanguageModel.load(Fixtures.model(MODEL));
    cases = new ArrayList<>();
    for (JsonNode c : Fixtures.json(Fixtures.model(MODEL).resolve("goldens.json")).get("cases")) {
      cases.add(new ConcurrencyTest.Case(c.get("name").asText(), GoldenParityTest.messages(MODEL, c),
          GoldenParityTest.options(c), c.get("max_new_tokens").asInt()));
    }
  }

  @AfterAll
  void close() {
    model.close();
  }

  int[] run(ConcurrencyTest.Case c) {
    return model.generate(c.messages(), GenerationConfig.greedy(c.maxNew()), c.options(), TokenStreamer.none()).tokenIds();
  }

  @Test
  void listsAdaptersWithSizesAndTheBackboneOnce() {
    List<AdapterInfo> infos = model.adapters();
    assertEquals(List.of("counting", "inspection"), infos.stream().map(AdapterInfo::name).toList());
    for (AdapterInfo a : infos) {
      assertTrue(a.parameters() > 10_000 && a.parameters() < 10_000_000, a.toString());
      assertEquals(a.parameters() * 4, a.weightBytes(), "fp32 weights");
      assertTrue(a.usesQuery());
      assertFalse(a.description().isBlank());
    }
    assertTrue(model.backboneWeightBytes() > 10 * infos.get(0).weightBytes(),
        "backbone " + model.backboneWeightBytes() + " bytes vs adapter " + infos.get(0).weightBytes());
  }

  @Test
  void requestsWithDifferentAdaptersRunConcurrentlyWithTheSameIds() throws Exception {
    assertTrue(cases.stream().anyMatch(c -> c.options().adapter().isPresent()));
    List<int[]> sequential = cases.stream().map(this::run).toList();
    int threads = 8;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<List<int[]>>> futures = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        final int offset = t;
        futures.add(pool.submit(() -> {
          start.await();
          List<int[]> got = new ArrayList<>();
          for (int i = 0; i < cases.size(); i++) {
            got.add(run(cases.get((i + offset) % cases.size())));
          }
          return got;
        }));
      }
      start.countDown();
      for (int t = 0; t < threads; t++) {
        List<int[]> got = futures.get(t).get(5, TimeUnit.MINUTES);
        for (int i = 0; i < cases.size(); i++) {
          int k = (i + t) % cases.size();
          assertArrayEquals(sequential.get(k), got.get(i), "thread " + t + " " + cases.get(k).name());
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void adaptersCanBeAddedAndRemovedWhileRequestsRun(@TempDir Path dir) throws Exception {
    Path copy = dir.resolve("counting-v2.onnx");
    Files.copy(Fixtures.model(MODEL).resolve("onnx/adapters/counting.onnx"), copy);
    ConcurrencyTest.Case counting = cases.stream().filter(c -> c.options().adapter().orElse("").equals("counting"))
        .findFirst().orElseThrow();
    int[] expected = run(counting);
    AtomicBoolean stop = new AtomicBoolean();
    ExecutorService pool = Executors.newFixedThreadPool(3);
    List<Future<Integer>> traffic = new ArrayList<>();
    for (int t = 0; t < 3; t++) {
      traffic.add(pool.submit(() -> {
        int n = 0;
        while (!stop.get()) {
          assertArrayEquals(expected, run(counting), "requests on other adapters are undisturbed");
          n++;
        }
        return n;
      }));
    }
    for (int round = 0; round < 5; round++) {
      model.registerAdapter("counting-v2", copy, "same weights, registered at run time");
      ConcurrencyTest.Case v2 = new ConcurrencyTest.Case("v2", counting.messages(),
          RequestOptions.DEFAULT.withAdapter("counting-v2"), counting.maxNew());
      assertArrayEquals(expected, run(v2), "a registered copy behaves like the original");
      assertTrue(model.adapterNames().contains("counting-v2"));
      assertTrue(model.unregisterAdapter("counting-v2"));
      VlmInputException e = assertThrows(VlmInputException.class, () -> run(v2));
      assertEquals(VlmInputException.Reason.UNKNOWN_ADAPTER, e.reason());
    }
    stop.set(true);
    int total = 0;
    for (Future<Integer> f : traffic) {
      total += f.get(2, TimeUnit.MINUTES);
    }
    pool.shutdown();
    assertTrue(total > 0, "traffic ran during the swaps");
  }

  @Test
  void rollbackToTheDefaultProjectorNeedsNoReload() {
    ConcurrencyTest.Case counting = cases.stream().filter(c -> c.options().adapter().isPresent()).findFirst().orElseThrow();
    int[] withAdapter = run(counting);
    int[] base = model.generate(counting.messages(), GenerationConfig.greedy(counting.maxNew()), RequestOptions.DEFAULT,
        TokenStreamer.none()).tokenIds();
    assertArrayEquals(withAdapter, run(counting), "switching back and forth is stable");
    assertTrue(base.length > 0);
  }

  @Test
  void wrongAdaptersAreTypedErrorsAndTheModelStaysUsable() throws Exception {
    ModelLoadException width = assertThrows(ModelLoadException.class,
        () -> model.registerAdapter("w", BAD.resolve("wrong_width.onnx"), ""));
    assertEquals(ModelLoadException.Reason.GRAPH_MISMATCH, width.reason());
    assertTrue(width.getMessage().contains("96") && width.getMessage().contains("128")
        && width.getMessage().contains("wrong_width.onnx") && width.getMessage().contains("another language model"),
        width.getMessage());
    ModelLoadException input = assertThrows(ModelLoadException.class,
        () -> model.registerAdapter("i", BAD.resolve("wrong_input.onnx"), ""));
    assertEquals(ModelLoadException.Reason.GRAPH_MISMATCH, input.reason());
    assertTrue(input.getMessage().contains("does not accept the vision encoder's output"), input.getMessage());
    ModelLoadException missing = assertThrows(ModelLoadException.class,
        () -> model.registerAdapter("m", BAD.resolve("nope.onnx"), ""));
    assertEquals(ModelLoadException.Reason.MISSING_FILE, missing.reason());
    VlmInputException unknown = assertThrows(VlmInputException.class, () -> model.generate(
        List.of(Message.user(ImageInput.of(Fixtures.model(MODEL).resolve("goldens/scene_shapes_0.png")), "How many?")),
        GenerationConfig.greedy(2), RequestOptions.DEFAULT.withAdapter("countnig"), TokenStreamer.none()));
    assertEquals(VlmInputException.Reason.UNKNOWN_ADAPTER, unknown.reason());
    assertTrue(unknown.getMessage().contains("[counting, inspection]"), unknown.getMessage());
    assertEquals(List.of("counting", "inspection"), model.adapterNames());
    assertTrue(run(cases.get(0)).length > 0, "still usable");
  }

  @Test
  void aSessionCanSwitchAdaptersBetweenRequests() {
    try (GenerationSession s = model.newSession()) {
      for (ConcurrencyTest.Case c : cases) {
        assertArrayEquals(run(c), s.generate(c.messages(), GenerationConfig.greedy(c.maxNew()), c.options(),
            TokenStreamer.none()).tokenIds(), c.name());
      }
    }
  }
}
