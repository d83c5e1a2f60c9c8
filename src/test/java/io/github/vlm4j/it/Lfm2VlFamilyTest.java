package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException.Reason;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What only LFM2-VL has, beyond its goldens ({@link GoldenParityTest}, {@link PrefillChunkTest},
 * {@link VariantsTest}, {@link PeerParityTest}) and the features every new family shares ({@link
 * FamilyFeaturesTest}): tiling can be switched per request, odd images are refused with typed
 * errors, the CLI runs it, and folders whose graphs disagree with the config (the hybrid cache
 * above all) are typed load errors naming the file and the input expected.
 */
class Lfm2VlFamilyTest {
  static final String NAME = "vlm4j-tiny-lfm2-vl";

  static JsonNode golden(String caseName) {
    return Fixtures.golden(NAME, caseName);
  }

  static byte[] png(int w, int h) throws Exception {
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        img.setRGB(x, y, ((x * 37) & 0xFF) << 16 | ((y * 91) & 0xFF) << 8 | ((x + y) & 0xFF));
      }
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(img, "png", out);
    return out.toByteArray();
  }

  @Test
  void supportedTypesIncludeLfm2Vl() {
    assertTrue(io.github.vlm4j.family.ModelFamilies.supportedTypes().contains("lfm2_vl"));
  }

  @Test
  void tilingCanBeSwitchedOffPerRequest() throws Exception {
    JsonNode tiled = golden("tiled_2x2");
    try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(NAME))) {
      assertTrue(model.supportsImageSplitting());
      List<Message> msgs = GoldenParityTest.messages(NAME, tiled);
      assertEquals(tiled.get("image_token_count").asInt(), model.countTokens(msgs, RequestOptions.DEFAULT).imageTokens());
      // four 32x32 tiles of 16 tokens and a 4x4-token thumbnail when tiled; the thumbnail's 16 alone when not
      assertEquals(80, model.countTokens(msgs, RequestOptions.DEFAULT.withImageSplitting(true)).imageTokens());
      assertEquals(16, model.countTokens(msgs, RequestOptions.DEFAULT.withImageSplitting(false)).imageTokens());
      var r = model.generate(msgs, io.github.vlm4j.decoder.generation.GenerationConfig.greedy(4),
          RequestOptions.DEFAULT.withImageSplitting(false), io.github.vlm4j.decoder.generation.TokenStreamer.none());
      assertEquals(16, r.usage().imageTokens());
    }
  }

  /**
   * A request's pixel budget replaces min/max_image_tokens (one token per 8x8 pixels here: patch 4,
   * downsample 2) and makes each image one frame. The config's own bounds as a budget reproduce the
   * untiled goldens; other budgets give the token counts worked out by hand below.
   */
  @Test
  void pixelBudgetBoundsEachImageToOneFrame() throws Exception {
    int token = 8 * 8;
    RequestOptions configBounds = RequestOptions.DEFAULT.withPixelBudget(4 * token, 16 * token);
    try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(NAME))) {
      assertTrue(model.supportsPixelBudget());
      int untiled = 0;
      for (JsonNode c : Fixtures.json(Fixtures.model(NAME).resolve("goldens.json")).get("cases")) {
        List<Message> msgs = GoldenParityTest.messages(NAME, c);
        boolean tiled = false;
        for (JsonNode grid : c.get("tile_grid_rows_cols")) {
          tiled |= grid.get(0).asInt() * grid.get(1).asInt() > 1;
        }
        if (tiled) {
          assertEquals(model.countTokens(msgs, RequestOptions.DEFAULT.withImageSplitting(false)).imageTokens(),
              model.countTokens(msgs, configBounds).imageTokens(), c.get("name").asText());
          continue;
        }
        untiled++;
        var r = model.generate(msgs, io.github.vlm4j.decoder.generation.GenerationConfig.greedy(
            c.get("max_new_tokens").asInt()), configBounds, io.github.vlm4j.decoder.generation.TokenStreamer.none());
        assertArrayEquals(Fixtures.ints(c.get("generated_ids")), r.tokenIds(), c.get("name").asText());
        assertEquals(c.get("image_token_count").asInt(), r.usage().imageTokens(), c.get("name").asText());
      }
      assertTrue(untiled >= 10, "untiled goldens: " + untiled);
      // 32x32 (16 tokens) within 256 pixels: 1024 > 256, beta = 2, floor(16 / 8) * 8 = 16 per side: 2x2 tokens
      List<Message> square = GoldenParityTest.messages(NAME, golden("square_no_resize"));
      assertEquals(4, model.countTokens(square, RequestOptions.DEFAULT.withPixelBudget(token, 4 * token)).imageTokens());
      // 16x16 (4 tokens) raised to at least 1024 pixels: beta = 2, ceil(32 / 8) * 8 = 32 per side: 4x4 tokens
      List<Message> small = GoldenParityTest.messages(NAME, golden("min_no_resize"));
      assertEquals(16, model.countTokens(small, RequestOptions.DEFAULT.withPixelBudget(16 * token, 16 * token))
          .imageTokens());
      // the 64x64 image tiled by default (80 tokens) is one frame within the budget (16 tokens: 32x32)
      List<Message> big = GoldenParityTest.messages(NAME, golden("tiled_2x2"));
      assertEquals(80, model.countTokens(big, RequestOptions.DEFAULT).imageTokens());
      assertEquals(16, model.countTokens(big, configBounds).imageTokens());
      // a 120x8 strip needs 56x8 = 448 pixels at least: refused under 256, not enlarged past the cap
      List<Message> strip = GoldenParityTest.messages(NAME, golden("strip_no_resize"));
      VlmInputException e = assertThrows(VlmInputException.class,
          () -> model.countTokens(strip, RequestOptions.DEFAULT.withPixelBudget(token, 4 * token)));
      assertEquals(VlmInputException.Reason.IMAGE_TOO_LARGE, e.reason());
      assertTrue(e.getMessage().contains("448"), e.getMessage());
      // typed refusals: with splitting forced on; below one token; beyond the graph's 64 patches of 4x4
      e = assertThrows(VlmInputException.class,
          () -> model.countTokens(big, configBounds.withImageSplitting(true)));
      assertEquals(VlmInputException.Reason.INVALID_OPTION, e.reason());
      assertTrue(e.getMessage().contains("splitting"), e.getMessage());
      e = assertThrows(VlmInputException.class,
          () -> model.countTokens(square, RequestOptions.DEFAULT.withPixelBudget(1, token - 1)));
      assertEquals(VlmInputException.Reason.INVALID_OPTION, e.reason());
      assertTrue(e.getMessage().contains("less than one image token"), e.getMessage());
      e = assertThrows(VlmInputException.class,
          () -> model.countTokens(square, RequestOptions.DEFAULT.withPixelBudget(token, 16 * token + 1)));
      assertEquals(VlmInputException.Reason.INVALID_OPTION, e.reason());
      assertTrue(e.getMessage().contains("64 patches"), e.getMessage());
    }
  }

  @Test
  void oddImagesAreTypedErrors() throws Exception {
    try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(NAME))) {
      // 201:1 is beyond smart_resize's 200:1, which transformers.js refuses too (sides below one merged
      // patch are raised to it first, so a 402x2 strip counts as 402x8 and is accepted)
      VlmInputException e = assertThrows(VlmInputException.class, () -> model.countTokens(
          List.of(Message.user("What is this?", ImageInput.of(png(1608, 8)))), RequestOptions.DEFAULT));
      assertEquals(VlmInputException.Reason.IMAGE_TOO_LARGE, e.reason());
      assertTrue(e.getMessage().contains("aspect ratio"), e.getMessage());
      // a 1x1 image is scaled up to one merged patch per side (4 tokens), not refused
      assertEquals(4, model.countTokens(List.of(Message.user("What is this?", ImageInput.of(png(1, 1)))),
          RequestOptions.DEFAULT).imageTokens());
      // 200:1 still fits, and so does the 402x2 strip
      assertTrue(model.countTokens(List.of(Message.user("What is this?", ImageInput.of(png(1600, 8)))),
          RequestOptions.DEFAULT).imageTokens() > 0);
      assertTrue(model.countTokens(List.of(Message.user("What is this?", ImageInput.of(png(402, 2)))),
          RequestOptions.DEFAULT).imageTokens() > 0);
    }
  }

  @Test
  void commandLineGeneratesTheGolden() throws Exception {
    JsonNode c = golden("tiled_2x1_resize");
    String img = Fixtures.model(NAME).resolve(c.get("images").get(0).asText()).toString();
    String prompt = c.get("messages").get(0).get("content").get(1).get("text").asText();
    CliTest.Run run = CliTest.cli("generate", "--json", "--model", Fixtures.model(NAME).toString(), "--image", img,
        "--prompt", prompt, "--max-new-tokens", c.get("max_new_tokens").asText());
    assertEquals(0, run.exit(), run.err());
    JsonNode j = new ObjectMapper().readTree(run.out());
    assertArrayEquals(Fixtures.ints(c.get("generated_ids")), Fixtures.ints(j.get("generatedTokenIds")));
    assertEquals(c.get("image_token_count").asInt(), j.get("imageTokenCount").asInt());
    CliTest.Run single = CliTest.cli("generate", "--json", "--model", Fixtures.model(NAME).toString(), "--image", img,
        "--prompt", prompt, "--max-new-tokens", "2", "--no-image-splitting");
    assertEquals(0, single.exit(), single.err());
    assertTrue(new ObjectMapper().readTree(single.out()).get("imageTokenCount").asInt() < c.get("image_token_count").asInt());
  }

  @Test
  void cacheInputsThatDisagreeWithTheConfigAreTypedLoadErrors(@TempDir Path dir) throws Exception {
    // the config says layer 1 is a convolution layer; the graph has keys and values there
    Path a = MalformedFolderTest.copy(NAME, dir.resolve("a"));
    MalformedFolderTest.edit(a, "config.json", cfg -> ((ArrayNode) cfg.get("text_config").get("layer_types"))
        .set(1, "conv"));
    MalformedFolderTest.fails(a, Reason.GRAPH_MISMATCH, "decoder_model_merged.onnx",
        "has 2 layers of past_key_values and 2 of past_conv", "1 attention and 3 convolution layers");
    // every layer an attention layer (no layer_types): the graph's past_conv.* are unexpected
    Path b = MalformedFolderTest.copy(NAME, dir.resolve("b"));
    MalformedFolderTest.edit(b, "config.json", cfg -> ((ObjectNode) cfg.get("text_config")).remove("layer_types"));
    MalformedFolderTest.fails(b, Reason.GRAPH_MISMATCH, "decoder_model_merged.onnx", "2 of past_conv",
        "no layer_types");
    // the layers are swapped: the config expects past_conv.1 where the graph has past_key_values.1.*
    Path c = MalformedFolderTest.copy(NAME, dir.resolve("c"));
    MalformedFolderTest.edit(c, "config.json", cfg -> {
      ArrayNode t = ((ObjectNode) cfg.get("text_config")).putArray("layer_types");
      t.add("full_attention").add("conv").add("full_attention").add("conv");
    });
    MalformedFolderTest.fails(c, Reason.GRAPH_MISMATCH, "decoder_model_merged.onnx",
        "has no input past_key_values.0.key [batch, 2, past, 16]", "layer_types[0] = \"full_attention\"");
    // a convolution state of another length than conv_L_cache
    Path d = MalformedFolderTest.copy(NAME, dir.resolve("d"));
    MalformedFolderTest.edit(d, "config.json", cfg -> ((ObjectNode) cfg.get("text_config")).put("conv_L_cache", 4));
    MalformedFolderTest.fails(d, Reason.GRAPH_MISMATCH, "decoder_model_merged.onnx", "past_conv.0",
        "must be past_conv.0 [batch, 64, 4]");
    // convolution layers but no conv_L_cache; layer_types of the wrong length
    Path e = MalformedFolderTest.copy(NAME, dir.resolve("e"));
    MalformedFolderTest.edit(e, "config.json", cfg -> ((ObjectNode) cfg.get("text_config")).remove("conv_L_cache"));
    MalformedFolderTest.fails(e, Reason.MALFORMED_CONFIG, "config.json", "conv_L_cache");
    Path f = MalformedFolderTest.copy(NAME, dir.resolve("f"));
    MalformedFolderTest.edit(f, "config.json", cfg -> ((ArrayNode) cfg.get("text_config").get("layer_types")).add("conv"));
    MalformedFolderTest.fails(f, Reason.MALFORMED_CONFIG, "layer_types", "one type per layer (4", "found 5 entries");
  }

  @Test
  void otherMalformedFoldersAreTypedLoadErrors(@TempDir Path dir) throws Exception {
    Path a = MalformedFolderTest.copy(NAME, dir.resolve("a"));
    Files.delete(a.resolve("onnx/vision_encoder.onnx"));
    MalformedFolderTest.fails(a, Reason.MISSING_FILE, "vision_encoder.onnx");
    // a Qwen vision graph (pixel_values + grid) in an LFM2 folder
    Path b = MalformedFolderTest.copy(NAME, dir.resolve("b"));
    Files.copy(Fixtures.model("vlm4j-tiny-qwen2-vl").resolve("onnx/vision_encoder.onnx"),
        b.resolve("onnx/vision_encoder.onnx"), StandardCopyOption.REPLACE_EXISTING);
    MalformedFolderTest.fails(b, Reason.GRAPH_MISMATCH, "vision_encoder.onnx", "pixel_attention_mask", "spatial_shapes");
    // preprocessor and config disagree on the patch size
    Path c = MalformedFolderTest.copy(NAME, dir.resolve("c"));
    MalformedFolderTest.edit(c, "config.json", cfg -> cfg.put("encoder_patch_size", 8));
    MalformedFolderTest.fails(c, Reason.MALFORMED_CONFIG, "encoder_patch_size is 8", "preprocessor_config.json");
    // a tile that is not a whole number of merged patches
    Path d = MalformedFolderTest.copy(NAME, dir.resolve("d"));
    MalformedFolderTest.edit(d, "preprocessor_config.json", cfg -> cfg.put("tile_size", 30));
    MalformedFolderTest.fails(d, Reason.MALFORMED_CONFIG, "tile_size", "multiple of encoder_patch_size");
    // the tokenizer lacks a tile-position token the tiling can need
    Path e = MalformedFolderTest.copy(NAME, dir.resolve("e"));
    MalformedFolderTest.edit(e, "preprocessor_config.json", cfg -> cfg.put("max_tiles", 9));
    MalformedFolderTest.fails(e, Reason.MALFORMED_CONFIG, "<|img_row_1_col_5|>");
  }
}
