package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.GenerationSession;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every golden case of the reference models: the Java pipeline reproduces the PyTorch reference's
 * prompt ids and greedy ids exactly, and its first-step logits within 1e-4.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GoldenParityTest {
  static final String[] MODELS = {"vlm4j-tiny-idefics3", "vlm4j-tiny-llava", "vlm4j-tiny-modular",
      "vlm4j-tiny-qwen2-vl", "vlm4j-tiny-qwen2_5-vl", "vlm4j-tiny-qwen3-vl", "vlm4j-tiny-qwen3-vl-deepstack",
      "vlm4j-tiny-lfm2-vl", "vlm4j-tiny-gemma3"};
  private final java.util.Map<String, VisionLanguageModel> loaded = new java.util.HashMap<>();

  @BeforeAll
  void load() throws ModelLoadException {
    for (String m : MODELS) {
      loaded.put(m, VisionLanguageModel.load(Fixtures.model(m)));
    }
  }

  @AfterAll
  void close() {
    loaded.values().forEach(VisionLanguageModel::close);
  }

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (String m : MODELS) {
      JsonNode g = Fixtures.json(Fixtures.model(m).resolve("goldens.json"));
      for (JsonNode c : g.get("cases")) {
        out.add(Arguments.of(m, c.get("name").asText(), c));
      }
    }
    return out.stream();
  }

  static List<Message> messages(String model, JsonNode c) {
    return messages(Fixtures.model(model), c);
  }

  /** @param folder the model folder the case's images are relative to @param c a golden case @return its messages */
  static List<Message> messages(Path folder, JsonNode c) {
    List<Path> images = new ArrayList<>();
    c.get("images").forEach(i -> images.add(folder.resolve(i.asText())));
    return Fixtures.messages(c.get("messages"), images);
  }

  static RequestOptions options(JsonNode c) {
    RequestOptions o = RequestOptions.DEFAULT;
    if (c.has("pan_and_scan")) {   // Gemma 3: pan-and-scan is the model's image splitting
      o = o.withImageSplitting(c.get("pan_and_scan").asBoolean());
    }
    if (c.path("options").has("do_image_splitting")) {
      o = o.withImageSplitting(c.path("options").path("do_image_splitting").asBoolean());
    }
    if (!c.path("adapter").isNull() && c.has("adapter")) {
      o = o.withAdapter(c.get("adapter").asText());
    }
    return o;
  }

  /** Records the logits the sampler saw at the first step (greedy, no other processors). */
  static final class FirstLogits implements io.github.vlm4j.decoder.generation.LogitsProcessor {
    float[] first;

    @Override
    public void process(int[] sequence, int length, float[] logits) {
      if (first == null) {
        first = logits.clone();
      }
    }
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void reproducesPyTorchGolden(String modelName, String caseName, JsonNode c) {
    assertGolden(loaded.get(modelName), Fixtures.model(modelName), c);
  }

  /**
   * Asserts that a model reproduces one golden case: prompt ids, greedy ids, text, image-token count
   * and first-step logits within 1e-4.
   *
   * @param model the loaded model
   * @param folder the folder the case's images are relative to
   * @param c the golden case
   */
  static void assertGolden(VisionLanguageModel model, Path folder, JsonNode c) {
    List<Message> msgs = messages(folder, c);
    RequestOptions opts = options(c);
    assertArrayEquals(Fixtures.ints(c.get("prompt_ids")), model.tokenize(msgs, opts).ids(), "prompt ids");
    FirstLogits probe = new FirstLogits();
    GenerationConfig cfg = GenerationConfig.builder().maxNewTokens(c.get("max_new_tokens").asInt())
        .addProcessor(probe).build();
    GenerationResult r;
    try (GenerationSession s = model.newSession()) {
      r = s.generate(msgs, cfg, opts, TokenStreamer.none());
    }
    assertArrayEquals(Fixtures.ints(c.get("generated_ids")), r.tokenIds(), "generated ids; text was '" + r.text() + "'");
    assertEquals(c.get("text").asText(), r.text());
    assertEquals(c.get("image_token_count").asInt(), r.usage().imageTokens());
    for (JsonNode t : c.get("first_step_top5")) {
      int id = t.get(0).asInt();
      double expected = t.get(1).asDouble();
      assertTrue(Math.abs(probe.first[id] - expected) <= 1e-4,
          "logit of token " + id + ": expected " + expected + ", got " + probe.first[id]);
    }
  }
}
