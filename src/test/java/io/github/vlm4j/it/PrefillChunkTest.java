package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.GenerationSession;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A prompt prefilled in chunks of 7 positions (every golden prompt is longer, image rows are split
 * across chunks) reproduces every PyTorch golden exactly as the single-run prefill does: same greedy
 * ids and text, first-step logits within 1e-4.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PrefillChunkTest {
  private final Map<String, VisionLanguageModel> loaded = new HashMap<>();

  @BeforeAll
  void load() throws ModelLoadException {
    for (String m : GoldenParityTest.MODELS) {
      loaded.put(m, VisionLanguageModel.builder(Fixtures.model(m)).prefillChunkTokens(7).build());
    }
  }

  @AfterAll
  void close() {
    loaded.values().forEach(VisionLanguageModel::close);
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> cases() {
    return GoldenParityTest.cases();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void chunkedPrefillReproducesGolden(String modelName, String caseName, JsonNode c) {
    var msgs = GoldenParityTest.messages(modelName, c);
    var opts = GoldenParityTest.options(c);
    int promptLength = Fixtures.ints(c.get("prompt_ids")).length;
    assertTrue(promptLength > 7, "the prompt must span several chunks, has " + promptLength);
    GoldenParityTest.FirstLogits probe = new GoldenParityTest.FirstLogits();
    GenerationConfig cfg = GenerationConfig.builder().maxNewTokens(c.get("max_new_tokens").asInt())
        .addProcessor(probe).build();
    GenerationResult r;
    try (GenerationSession s = loaded.get(modelName).newSession()) {
      r = s.generate(msgs, cfg, opts, TokenStreamer.none());
    }
    assertArrayEquals(Fixtures.ints(c.get("generated_ids")), r.tokenIds(), "generated ids; text was '" + r.text() + "'");
    assertEquals(c.get("text").asText(), r.text());
    for (JsonNode t : c.get("first_step_top5")) {
      int id = t.get(0).asInt();
      assertTrue(Math.abs(probe.first[id] - t.get(1).asDouble()) <= 1e-4,
          "logit of token " + id + ": expected " + t.get(1).asDouble() + ", got " + probe.first[id]);
    }
  }

  @Test
  void refusesNonPositiveChunk() {
    var b = VisionLanguageModel.builder(Fixtures.model("vlm4j-tiny-idefics3"));
    VlmInputException e = assertThrows(VlmInputException.class, () -> b.prefillChunkTokens(0));
    assertEquals(VlmInputException.Reason.INVALID_OPTION, e.reason());
    assertTrue(e.getMessage().contains("prefillChunkTokens must be in [1, 8192], got 0"), e.getMessage());
  }
}
