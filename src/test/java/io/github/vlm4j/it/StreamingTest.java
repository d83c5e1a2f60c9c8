package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.decoder.generation.FinishReason;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Streamed text equals the result text; stop strings cut the text and never leak into the stream. */
class StreamingTest {
  static final String MODEL = "vlm4j-tiny-idefics3";

  static final class Collect implements TokenStreamer {
    final StringBuilder text = new StringBuilder();
    int deltas;
    FinishReason end;

    @Override
    public void onText(String delta) {
      assertFalse(delta.isEmpty());
      assertFalse(delta.contains("\uFFFD"), "no broken characters in the stream");
      text.append(delta);
      deltas++;
    }

    @Override
    public void onEnd(FinishReason reason) {
      end = reason;
    }
  }

  @Test
  void streamedTextEqualsTheResult() throws Exception {
    try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(MODEL))) {
      for (JsonNode c : Fixtures.json(Fixtures.model(MODEL).resolve("goldens.json")).get("cases")) {
        Collect s = new Collect();
        GenerationResult r = model.generate(GoldenParityTest.messages(MODEL, c),
            GenerationConfig.greedy(c.get("max_new_tokens").asInt()), GoldenParityTest.options(c), s);
        assertEquals(r.text(), s.text.toString(), c.get("name").asText());
        assertEquals(r.finishReason(), s.end);
      }
    }
  }

  @Test
  void stopStringEndsGenerationAndIsExcluded() throws Exception {
    try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(MODEL))) {
      for (JsonNode c : Fixtures.json(Fixtures.model(MODEL).resolve("goldens.json")).get("cases")) {
        String full = c.get("text").asText();
        if (full.strip().length() < 4) {
          continue;
        }
        String stop = full.substring(full.length() / 2, full.length() / 2 + 2);
        int at = full.indexOf(stop);
        Collect s = new Collect();
        GenerationResult r = model.generate(GoldenParityTest.messages(MODEL, c),
            GenerationConfig.builder().maxNewTokens(c.get("max_new_tokens").asInt()).stopStrings(List.of(stop)).build(),
            GoldenParityTest.options(c), s);
        assertEquals(FinishReason.STOP_STRING, r.finishReason(), c.get("name").asText());
        assertEquals(full.substring(0, at), r.text());
        assertEquals(r.text(), s.text.toString(), "the stream holds back text that becomes a stop string");
        assertTrue(r.tokenIds().length <= c.get("generated_ids").size());
      }
    }
  }

  @Test
  void lengthLimitIsReported() throws Exception {
    try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(MODEL))) {
      JsonNode c = Fixtures.json(Fixtures.model(MODEL).resolve("goldens.json")).get("cases").get(0);
      GenerationResult r = model.generate(GoldenParityTest.messages(MODEL, c),
          GenerationConfig.builder().maxNewTokens(1).eosTokenIds(List.of(Integer.MAX_VALUE)).build(),
          RequestOptions.DEFAULT, TokenStreamer.none());
      assertEquals(FinishReason.LENGTH, r.finishReason());
      assertEquals(1, r.tokenIds().length);
      assertEquals(1, r.usage().generatedTokens());
      assertTrue(r.usage().timings().timeToFirstTokenMs() > 0);
    }
  }
}
