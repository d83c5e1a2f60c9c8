package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.vlm4j.GenerationSession;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.onnx.OrtRuntime;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The process-wide thread pool ({@link OrtRuntime#configureGlobalThreadPool(int, boolean)} +
 * {@code globalThreadPool(true)}): goldens are reproduced, two models with three graphs each start
 * fewer native threads than with a pool per graph, and asking for the pool without configuring it
 * is a typed load error. The pool is per process, so each configuration runs in its own JVM.
 */
class GlobalThreadPoolTest {
  private static final String[] MODELS = {"vlm4j-tiny-idefics3", "vlm4j-tiny-llava"};

  /** Child JVM: loads both models (per-graph or global pool), runs each one's first golden. */
  public static void main(String[] args) throws Exception {
    boolean global = args[0].equals("global");
    if (global) {
      OrtRuntime.configureGlobalThreadPool(2, false);
    }
    int before = threads();
    List<VisionLanguageModel> models = new ArrayList<>();
    for (String m : MODELS) {
      models.add(VisionLanguageModel.builder(Fixtures.model(m)).threads(2).allowSpinning(false)
          .globalThreadPool(global).build());
    }
    int started = threads() - before;
    StringBuilder ids = new StringBuilder();
    for (int i = 0; i < MODELS.length; i++) {
      JsonNode c = Fixtures.json(Fixtures.model(MODELS[i]).resolve("goldens.json")).get("cases").get(0);
      try (GenerationSession s = models.get(i).newSession()) {
        GenerationResult r = s.generate(GoldenParityTest.messages(MODELS[i], c),
            GenerationConfig.greedy(c.get("max_new_tokens").asInt()), GoldenParityTest.options(c), TokenStreamer.none());
        ids.append(i == 0 ? "" : ",").append(new ObjectMapper().writeValueAsString(r.tokenIds()));
      }
    }
    models.forEach(VisionLanguageModel::close);
    System.out.println("{\"threadsStarted\":" + started + ",\"ids\":[" + ids + "]}");
  }

  private static int threads() throws IOException {
    try (var s = Files.list(Path.of("/proc/self/task"))) {
      return (int) s.count();
    }
  }

  private static JsonNode child(String mode) throws Exception {
    List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), GlobalThreadPoolTest.class.getName(), mode);
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().putAll(Map.of("ORT_DISABLE_TELEMETRY", "1", "OPT_OUT_TRACKING", "true"));
    Process p = pb.start();
    byte[] err = p.getErrorStream().readAllBytes();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), "child JVM failed: " + out + new String(err, StandardCharsets.UTF_8));
    String json = out.lines().filter(l -> l.startsWith("{\"threadsStarted\"")).findFirst().orElseThrow();
    return new ObjectMapper().readTree(json);
  }

  @Test
  void sharedPoolReproducesGoldensWithFewerThreads() throws Exception {
    JsonNode perGraph = child("per-graph");
    JsonNode global = child("global");
    for (int i = 0; i < MODELS.length; i++) {
      int[] expected = Fixtures.ints(Fixtures.json(Fixtures.model(MODELS[i]).resolve("goldens.json")).get("cases")
          .get(0).get("generated_ids"));
      assertArrayEquals(expected, Fixtures.ints(global.get("ids").get(i)), MODELS[i] + " on the global pool");
      assertArrayEquals(expected, Fixtures.ints(perGraph.get("ids").get(i)), MODELS[i] + " with per-graph pools");
    }
    int a = perGraph.get("threadsStarted").asInt();
    int b = global.get("threadsStarted").asInt();
    assertTrue(b < a, "loading 2 models x 3 graphs started " + b + " threads on the global pool, " + a
        + " with per-graph pools");
  }

  @Test
  void globalPoolWithoutConfigurationIsALoadError() {
    assertFalse(OrtRuntime.hasGlobalThreadPool(), "no test configures the pool in this JVM");
    ModelLoadException e = assertThrows(ModelLoadException.class, () -> VisionLanguageModel.builder(
        Fixtures.model("vlm4j-tiny-idefics3")).globalThreadPool(true).build());
    assertEquals(ModelLoadException.Reason.RUNTIME, e.reason());
    assertTrue(e.getMessage().contains("OrtRuntime.configureGlobalThreadPool"), e.getMessage());
  }
}
