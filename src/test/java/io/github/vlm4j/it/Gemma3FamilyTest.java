package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException.Reason;
import io.github.vlm4j.core.prompt.Message;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What only Gemma 3 has, beyond its goldens ({@link GoldenParityTest}, {@link PrefillChunkTest},
 * {@link VariantsTest}, {@link PeerParityTest}) and the features every new family shares ({@link
 * FamilyFeaturesTest}): pan-and-scan follows the config and the per-request split override, the
 * chat template comes from {@code chat_template.jinja}, the CLI runs it, and malformed folders
 * (the bidirectional-attention extension among them) are typed load errors.
 */
class Gemma3FamilyTest {
  static final String NAME = "vlm4j-tiny-gemma3";

  static JsonNode golden(String caseName) {
    return Fixtures.golden(NAME, caseName);
  }

  @Test
  void panAndScanFollowsTheConfigAndTheRequest(@TempDir Path dir) throws Exception {
    JsonNode wide = golden("pas_wide_3_crops");
    List<Message> msgs = GoldenParityTest.messages(NAME, wide);
    try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(NAME))) {
      assertTrue(model.supportsImageSplitting());
      // do_pan_and_scan is false: one frame of 16 tokens unless the request turns it on (original + 3 crops)
      assertEquals(16, model.countTokens(msgs, RequestOptions.DEFAULT).imageTokens());
      assertEquals(64, model.countTokens(msgs, RequestOptions.DEFAULT.withImageSplitting(true)).imageTokens());
      assertEquals(16, model.countTokens(msgs, RequestOptions.DEFAULT.withImageSplitting(false)).imageTokens());
      // a square image is not cropped even when asked
      assertEquals(16, model.countTokens(GoldenParityTest.messages(NAME, golden("square_no_resize")),
          RequestOptions.DEFAULT.withImageSplitting(true)).imageTokens());
    }
    // do_pan_and_scan true in the config: on by default, off per request
    Path on = MalformedFolderTest.copy(NAME, dir.resolve("on"));
    MalformedFolderTest.edit(on, "preprocessor_config.json", cfg -> cfg.put("do_pan_and_scan", true));
    try (VisionLanguageModel model = VisionLanguageModel.load(on)) {
      List<Message> there = GoldenParityTest.messages(on, wide);
      assertEquals(64, model.countTokens(there, RequestOptions.DEFAULT).imageTokens());
      assertEquals(16, model.countTokens(there, RequestOptions.DEFAULT.withImageSplitting(false)).imageTokens());
      var r = model.generate(there, io.github.vlm4j.decoder.generation.GenerationConfig.greedy(
          wide.get("max_new_tokens").asInt()), RequestOptions.DEFAULT, io.github.vlm4j.decoder.generation.TokenStreamer.none());
      assertArrayEquals(Fixtures.ints(wide.get("generated_ids")), r.tokenIds(), "the pan-and-scan golden by config");
    }
  }

  @Test
  void commandLineGeneratesTheGolden() throws Exception {
    JsonNode c = golden("square_no_resize");
    String img = Fixtures.model(NAME).resolve(c.get("images").get(0).asText()).toString();
    String prompt = c.get("messages").get(0).get("content").get(1).get("text").asText();
    CliTest.Run run = CliTest.cli("generate", "--json", "--model", Fixtures.model(NAME).toString(), "--image", img,
        "--prompt", prompt, "--max-new-tokens", c.get("max_new_tokens").asText());
    assertEquals(0, run.exit(), run.err());
    JsonNode j = new ObjectMapper().readTree(run.out());
    assertArrayEquals(Fixtures.ints(c.get("generated_ids")), Fixtures.ints(j.get("generatedTokenIds")));
    assertArrayEquals(Fixtures.ints(c.get("prompt_ids")), Fixtures.ints(j.get("promptTokenIds")));
  }

  @Test
  void malformedFoldersAreTypedLoadErrors(@TempDir Path dir) throws Exception {
    // the bidirectional-image extension folder: its decoder takes token_type_ids, which vlm4j does not feed yet
    MalformedFolderTest.fails(Fixtures.model("vlm4j-tiny-gemma3-bidi"), Reason.GRAPH_MISMATCH,
        "decoder_model_merged.onnx", "token_type_ids");
    // image tokens per image: processor and config disagree; the vision graph disagrees with both
    Path a = MalformedFolderTest.copy(NAME, dir.resolve("a"));
    MalformedFolderTest.edit(a, "config.json", cfg -> cfg.put("mm_tokens_per_image", 9));
    MalformedFolderTest.fails(a, Reason.MALFORMED_CONFIG, "mm_tokens_per_image is 9", "image_seq_length is 16");
    Path b = MalformedFolderTest.copy(NAME, dir.resolve("b"));
    MalformedFolderTest.edit(b, "processor_config.json", cfg -> cfg.put("image_seq_length", 9));
    MalformedFolderTest.edit(b, "config.json", cfg -> cfg.put("mm_tokens_per_image", 9));
    MalformedFolderTest.fails(b, Reason.GRAPH_MISMATCH, "vision_encoder.onnx", "16 tokens per image", "expands each image to 9");
    // the config's special-token ids disagree with the tokenizer's
    Path c = MalformedFolderTest.copy(NAME, dir.resolve("c"));
    MalformedFolderTest.edit(c, "config.json", cfg -> cfg.put("boi_token_index", 3));
    MalformedFolderTest.fails(c, Reason.MALFORMED_CONFIG, "boi_token_index is 3");
    // a chat template file that is empty
    Path d = MalformedFolderTest.copy(NAME, dir.resolve("d"));
    Files.writeString(d.resolve("chat_template.jinja"), "  \n");
    MalformedFolderTest.fails(d, Reason.MALFORMED_CONFIG, "chat_template.jinja is empty");
    // a missing vision graph
    Path e = MalformedFolderTest.copy(NAME, dir.resolve("e"));
    Files.delete(e.resolve("onnx/vision_encoder.onnx"));
    MalformedFolderTest.fails(e, Reason.MISSING_FILE, "vision_encoder.onnx");
  }

  @Test
  void withoutATemplateFileTheTokenizerConfigsTemplateIsUsed(@TempDir Path dir) throws Exception {
    Path a = MalformedFolderTest.copy(NAME, dir.resolve("a"));
    Files.delete(a.resolve("chat_template.jinja"));
    JsonNode c = golden("multi_turn");
    // the kit writes the same template into tokenizer_config.json, so the prompt is unchanged
    try (VisionLanguageModel model = VisionLanguageModel.load(a)) {
      assertArrayEquals(Fixtures.ints(c.get("prompt_ids")),
          model.tokenize(GoldenParityTest.messages(a, c), RequestOptions.DEFAULT).ids());
    }
  }
}
