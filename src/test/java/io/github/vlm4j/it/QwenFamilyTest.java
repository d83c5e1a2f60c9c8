package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.Demo;
import io.github.vlm4j.FewShotPrompt;
import io.github.vlm4j.LabelScores;
import io.github.vlm4j.PromptStats;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.onnx.Dtype;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What only the Qwen-VL families have, beyond the goldens ({@link GoldenParityTest}, {@link
 * PrefillChunkTest}, {@code QwenPositionsTest}, {@link VariantsTest}) and the features every new
 * family shares ({@link FamilyFeaturesTest}): a per-request pixel budget changes the image tokens as
 * smart_resize says and its cap is honoured; DeepStack graphs must pair.
 */
class QwenFamilyTest {
  static final String[] MODELS = {"vlm4j-tiny-qwen2-vl", "vlm4j-tiny-qwen2_5-vl", "vlm4j-tiny-qwen3-vl",
      "vlm4j-tiny-qwen3-vl-deepstack"};
  /** The folders transformers.js 4.3.1 runs (the DeepStack one has inputs it does not feed). */
  static final String[] PEER_MODELS = {"vlm4j-tiny-qwen2-vl", "vlm4j-tiny-qwen2_5-vl", "vlm4j-tiny-qwen3-vl"};

  @Test
  void pixelBudgetBoundsImageTokensAndIsHonoured() throws Exception {
    String name = MODELS[0];
    JsonNode large = null;
    for (JsonNode c : Fixtures.json(Fixtures.model(name).resolve("goldens.json")).get("cases")) {
      if (c.get("name").asText().equals("large_no_resize")) {
        large = c;
      }
    }
    List<Message> msgs = GoldenParityTest.messages(name, large);
    try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(name))) {
      assertTrue(model.supportsPixelBudget());
      // 224x196 at the model's budget: 8x7 merged tokens
      assertEquals(56, model.countTokens(msgs, RequestOptions.DEFAULT).imageTokens());
      // at most 16 merged tokens (28x28 pixels each): smart_resize scales it to 112x84 = 4x3 tokens
      RequestOptions small = RequestOptions.DEFAULT.withPixelBudget(28 * 28, 28 * 28 * 16);
      PromptStats s = model.countTokens(msgs, small);
      assertEquals(12, s.imageTokens());
      GenerationResult r = model.generate(msgs, GenerationConfig.greedy(4), small, TokenStreamer.none());
      assertEquals(12, r.usage().imageTokens());
      // the budget is part of the image cache key: the default budget still gives 56 tokens after it
      assertEquals(56, model.generate(msgs, GenerationConfig.greedy(4), RequestOptions.DEFAULT,
          TokenStreamer.none()).usage().imageTokens());
      // a 1x200-ish strip cannot fit 4 tokens' worth of pixels: refused, not enlarged past the cap
      Path strip = Fixtures.model(name).resolve("goldens/strip_up_0.png");
      List<Message> stripMsgs = List.of(Message.user(ImageInput.of(strip), "What is this?"));
      VlmInputException e = assertThrows(VlmInputException.class,
          () -> model.countTokens(stripMsgs, RequestOptions.DEFAULT.withPixelBudget(28 * 28, 28 * 28 * 4)));
      assertTrue(e.getMessage().contains("pixels"), e.getMessage());
      // out-of-range bounds are typed errors, and so is a budget below one merged patch (28x28 = 784
      // pixels), which the request path used to let escape as an IllegalArgumentException
      assertEquals(VlmInputException.Reason.INVALID_OPTION, assertThrows(VlmInputException.class,
          () -> RequestOptions.DEFAULT.withPixelBudget(100, 10)).reason());
      VlmInputException belowPatch = assertThrows(VlmInputException.class,
          () -> model.countTokens(msgs, RequestOptions.DEFAULT.withPixelBudget(1, 783)));
      assertEquals(VlmInputException.Reason.INVALID_OPTION, belowPatch.reason());
      assertTrue(belowPatch.getMessage().contains("merged patch"), belowPatch.getMessage());
    }
    try (VisionLanguageModel fixed = VisionLanguageModel.load(Fixtures.model("vlm4j-tiny-llava"))) {
      VlmInputException e = assertThrows(VlmInputException.class, () -> fixed.countTokens(
          List.of(Message.user("hi")), RequestOptions.DEFAULT.withPixelBudget(784, 3136)));
      assertEquals(VlmInputException.Reason.INVALID_OPTION, e.reason());
      assertTrue(!fixed.supportsPixelBudget());
    }
  }

  @Test
  void supportedTypesIncludeQwen() {
    List<String> types = new ArrayList<>(io.github.vlm4j.family.ModelFamilies.supportedTypes());
    assertTrue(types.containsAll(List.of("qwen2_vl", "qwen2_5_vl", "qwen3_vl")), types.toString());
  }

  @Test
  void deepStackGraphsThatDoNotPairAreTypedLoadErrors(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Path plain = Fixtures.model("vlm4j-tiny-qwen3-vl");
    // vision graph with deepstack_features, decoder without deepstack_embeds
    Path a = MalformedFolderTest.copy("vlm4j-tiny-qwen3-vl-deepstack", dir.resolve("a"));
    java.nio.file.Files.copy(plain.resolve("onnx/decoder_model_merged.onnx"), a.resolve("onnx/decoder_model_merged.onnx"),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    MalformedFolderTest.fails(a, io.github.vlm4j.core.ModelLoadException.Reason.GRAPH_MISMATCH, "vision_encoder.onnx",
        "outputs deepstack_features for 2 layers", "decoder_model_merged.onnx has no deepstack_embeds input");
    // decoder with deepstack_embeds, vision graph without deepstack_features
    Path b = MalformedFolderTest.copy("vlm4j-tiny-qwen3-vl-deepstack", dir.resolve("b"));
    java.nio.file.Files.copy(plain.resolve("onnx/vision_encoder.onnx"), b.resolve("onnx/vision_encoder.onnx"),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    MalformedFolderTest.fails(b, io.github.vlm4j.core.ModelLoadException.Reason.GRAPH_MISMATCH,
        "decoder_model_merged.onnx", "takes deepstack_embeds for 2 layers", "has no deepstack_features output");
    // the config's DeepStack layers disagree with the graphs
    Path c = MalformedFolderTest.copy("vlm4j-tiny-qwen3-vl-deepstack", dir.resolve("c"));
    MalformedFolderTest.edit(c, "config.json", cfg -> ((com.fasterxml.jackson.databind.node.ObjectNode) cfg.get(
        "vision_config")).putArray("deepstack_visual_indexes").add(0).add(1).add(2));
    MalformedFolderTest.fails(c, io.github.vlm4j.core.ModelLoadException.Reason.MALFORMED_CONFIG,
        "deepstack_visual_indexes lists 3 layers but the graphs carry 2");
  }

  @Test
  void commandLineGeneratesWithAPixelBudget() throws Exception {
    String name = "vlm4j-tiny-qwen2-vl";
    JsonNode large = null;
    for (JsonNode c : Fixtures.json(Fixtures.model(name).resolve("goldens.json")).get("cases")) {
      if (c.get("name").asText().equals("large_no_resize")) {
        large = c;
      }
    }
    String img = Fixtures.model(name).resolve(large.get("images").get(0).asText()).toString();
    String prompt = large.get("messages").get(0).get("content").get(1).get("text").asText();
    CliTest.Run plain = CliTest.cli("generate", "--json", "--model", Fixtures.model(name).toString(), "--image", img,
        "--prompt", prompt, "--max-new-tokens", large.get("max_new_tokens").asText());
    assertEquals(0, plain.exit(), plain.err());
    JsonNode j = new com.fasterxml.jackson.databind.ObjectMapper().readTree(plain.out());
    assertArrayEquals(Fixtures.ints(large.get("generated_ids")), Fixtures.ints(j.get("generatedTokenIds")));
    assertEquals(56, j.get("imageTokenCount").asInt());
    CliTest.Run small = CliTest.cli("generate", "--json", "--model", Fixtures.model(name).toString(), "--image", img,
        "--prompt", prompt, "--max-new-tokens", "4", "--min-pixels", "784", "--max-pixels", "12544");
    assertEquals(0, small.exit(), small.err());
    assertEquals(12, new com.fasterxml.jackson.databind.ObjectMapper().readTree(small.out()).get("imageTokenCount").asInt());
    CliTest.Run half = CliTest.cli("generate", "--model", Fixtures.model(name).toString(), "--image", img,
        "--prompt", prompt, "--max-pixels", "12544");
    assertEquals(2, half.exit(), half.out() + half.err());
    assertTrue(half.err().contains("--min-pixels and --max-pixels go together"), half.err());
    CliTest.Run fixed = CliTest.cli("generate", "--model", Fixtures.model("vlm4j-tiny-llava").toString(), "--prompt",
        "hi", "--min-pixels", "784", "--max-pixels", "12544");
    assertEquals(2, fixed.exit(), fixed.out() + fixed.err());
    assertTrue(fixed.err().contains("pixel budget is not an option"), fixed.err());
  }
}
