package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.onnx.SessionSettings;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The vision-memory settings change no answer: every PyTorch golden is reproduced with {@code
 * releaseVisionMemory(false)} (vision runs keep their arena) and with the CPU arena off (where the
 * release is skipped: ONNX Runtime rejects shrinking an arena a session does not have). The default
 * (release on) is what {@link GoldenParityTest} runs.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class VisionMemoryTest {
  private final Map<String, VisionLanguageModel> keeping = new HashMap<>();
  private final Map<String, VisionLanguageModel> noArena = new HashMap<>();

  @BeforeAll
  void load() throws ModelLoadException {
    for (String m : GoldenParityTest.MODELS) {
      keeping.put(m, VisionLanguageModel.builder(Fixtures.model(m)).releaseVisionMemory(false).build());
      noArena.put(m, VisionLanguageModel.builder(Fixtures.model(m))
          .sessionSettings(SessionSettings.builder().cpuMemoryArena(false).build()).build());
    }
  }

  @AfterAll
  void close() {
    keeping.values().forEach(VisionLanguageModel::close);
    noArena.values().forEach(VisionLanguageModel::close);
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> cases() {
    return GoldenParityTest.cases();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void keepingTheArenaReproducesGolden(String modelName, String caseName, JsonNode c) {
    check(keeping.get(modelName), modelName, c);
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void noArenaReproducesGolden(String modelName, String caseName, JsonNode c) {
    check(noArena.get(modelName), modelName, c);
  }

  private static void check(VisionLanguageModel model, String modelName, JsonNode c) {
    GenerationResult r = model.generate(GoldenParityTest.messages(modelName, c),
        GenerationConfig.greedy(c.get("max_new_tokens").asInt()), GoldenParityTest.options(c), TokenStreamer.none());
    assertArrayEquals(Fixtures.ints(c.get("generated_ids")), r.tokenIds(), "generated ids; text was '" + r.text() + "'");
    assertEquals(c.get("text").asText(), r.text());
  }
}
