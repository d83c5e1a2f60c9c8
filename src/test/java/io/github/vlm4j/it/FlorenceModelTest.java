package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.ModelLoadException.Reason;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import io.github.vlm4j.florence.FlorenceModel;
import io.github.vlm4j.florence.FlorenceRegion;
import io.github.vlm4j.florence.FlorenceResult;
import io.github.vlm4j.florence.FlorenceTask;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link FlorenceModel} beyond its goldens ({@link FlorenceGoldenTest}, {@link PeerParityTest}):
 * concurrent requests get what they get alone, streaming delivers the text, the command line's
 * {@code vlm4j florence --task OD} prints the boxes, bad input and malformed folders are typed
 * errors naming what was expected.
 */
class FlorenceModelTest {
  static final String NAME = FlorenceGoldenTest.NAME;

  static JsonNode golden(String caseName) {
    return Fixtures.golden(NAME, caseName);
  }

  static ImageInput image(JsonNode c) {
    return ImageInput.of(Fixtures.model(NAME).resolve(c.get("image").asText()));
  }

  @Test
  void concurrentRequestsAndStreamingGiveTheGoldens() throws Exception {
    List<JsonNode> cases = new ArrayList<>();
    for (String n : List.of("caption", "od", "ocr_with_region", "phrase_grounding", "region_to_category", "rgba_od")) {
      cases.add(golden(n));
    }
    try (FlorenceModel model = FlorenceModel.load(Fixtures.model(NAME))) {
      ExecutorService pool = Executors.newFixedThreadPool(4);
      try {
        List<Future<int[]>> runs = new ArrayList<>();
        for (int round = 0; round < 2; round++) {
          for (JsonNode c : cases) {
            runs.add(pool.submit(() -> {
              FlorenceTask t = FlorenceTask.fromToken(c.get("task").asText()).orElseThrow();
              return model.run(t, image(c), FlorenceGoldenTest.input(c, t),
                  GenerationConfig.greedy(c.get("max_new_tokens").asInt()), TokenStreamer.none()).generation().tokenIds();
            }));
          }
        }
        for (int i = 0; i < runs.size(); i++) {
          assertArrayEquals(Fixtures.ints(cases.get(i % cases.size()).get("generated_ids")), runs.get(i).get(),
              cases.get(i % cases.size()).get("name").asText());
        }
      } finally {
        pool.shutdownNow();
      }
      JsonNode c = golden("free_text");
      RecordingStreamer streamed = new RecordingStreamer();
      var r = model.generate(c.get("prompt").asText(), image(c), GenerationConfig.greedy(c.get("max_new_tokens").asInt()),
          streamed);
      assertArrayEquals(Fixtures.ints(c.get("generated_ids")), streamed.ids());
      assertEquals(r.text(), streamed.text());
      assertTrue(r.usage().timings().visionMs() > 0 && r.usage().timings().prefillMs() > 0, r.usage().toString());
    }
  }

  @Test
  void badInputIsTyped() throws Exception {
    try (FlorenceModel model = FlorenceModel.load(Fixtures.model(NAME))) {
      JsonNode c = golden("od");
      VlmInputException noInput = assertThrows(VlmInputException.class,
          () -> model.run(FlorenceTask.CAPTION_TO_PHRASE_GROUNDING, image(c)));
      assertEquals(VlmInputException.Reason.INVALID_PROMPT, noInput.reason());
      VlmInputException textRegion = assertThrows(VlmInputException.class,
          () -> model.run(FlorenceTask.REGION_TO_CATEGORY, image(c), "<loc_1><loc_2><loc_3><loc_4>"));
      assertTrue(textRegion.getMessage().contains("FlorenceRegion"), textRegion.getMessage());
      VlmInputException tooLong = assertThrows(VlmInputException.class,
          () -> model.run(FlorenceTask.CAPTION_TO_PHRASE_GROUNDING, image(c), "a red circle ".repeat(2000)));
      assertEquals(VlmInputException.Reason.PROMPT_TOO_LONG, tooLong.reason());
      VlmInputException notAnImage = assertThrows(VlmInputException.class,
          () -> model.run(FlorenceTask.OD, ImageInput.of(new byte[] {1, 2, 3})));
      assertTrue(notAnImage.reason().name().startsWith("IMAGE"), notAnImage.reason().name());
      assertThrows(IllegalArgumentException.class, () -> new FlorenceRegion(0, 0, 1000, 5));
      // user text that looks like location tokens stays text: the grounding caption does not become boxes input
      int[] plain = model.promptIds(FlorenceTask.CAPTION_TO_PHRASE_GROUNDING,
          io.github.vlm4j.florence.FlorenceInput.text("<loc_5>"));
      int loc5 = model.tokenizer().idOf("<loc_5>").orElseThrow();
      assertTrue(java.util.Arrays.stream(plain).noneMatch(id -> id == loc5), java.util.Arrays.toString(plain));
      assertTrue(java.util.Arrays.stream(model.promptIds(FlorenceTask.REGION_TO_CATEGORY, new FlorenceRegion(5, 5, 9, 9)))
          .anyMatch(id -> id == loc5));
    }
  }

  /**
   * Several tasks on one image encode it once (the image feature cache), with the goldens' ids; a
   * model without the cache gives the same ids; the builder bounds image sizes and refuses bad
   * options typed.
   */
  @Test
  void builderCachesImageFeaturesAndBoundsImages() throws Exception {
    JsonNode od = golden("od");
    List<FlorenceTask> tasks = List.of(FlorenceTask.OD, FlorenceTask.CAPTION, FlorenceTask.OCR,
        FlorenceTask.DETAILED_CAPTION);
    int n = od.get("max_new_tokens").asInt();
    List<int[]> uncached = new ArrayList<>();
    for (long cacheBytes : new long[] {0, 1L << 20}) {
      try (FlorenceModel model = FlorenceModel.builder(Fixtures.model(NAME)).imageCacheBytes(cacheBytes).build()) {
        for (int i = 0; i < tasks.size(); i++) {
          int[] ids = model.run(tasks.get(i), image(od), null, GenerationConfig.greedy(n), TokenStreamer.none())
              .generation().tokenIds();
          if (cacheBytes == 0) {
            uncached.add(ids);
          } else {
            assertArrayEquals(uncached.get(i), ids, tasks.get(i) + " with and without the image cache");
          }
        }
        assertArrayEquals(Fixtures.ints(od.get("generated_ids")), uncached.get(0));
        var stats = model.cacheStats();
        if (cacheBytes > 0) {
          // the image is encoded for the first task only
          assertEquals(1, stats.imageMisses(), stats.toString());
          assertEquals(tasks.size() - 1, stats.imageHits(), stats.toString());
          assertTrue(stats.imageBytes() > 0, stats.toString());
          model.clearCaches();
          assertEquals(0, model.cacheStats().imageBytes());
        } else {
          assertEquals(0, stats.imageHits() + stats.imageMisses() + stats.imageBytes(), stats.toString());
        }
      }
    }
    try (FlorenceModel small = FlorenceModel.builder(Fixtures.model(NAME)).maxImagePixels(16).build()) {
      VlmInputException e = assertThrows(VlmInputException.class, () -> small.run(FlorenceTask.OD, image(od)));
      assertEquals(VlmInputException.Reason.IMAGE_TOO_LARGE, e.reason());
    }
    for (Runnable bad : List.<Runnable>of(() -> FlorenceModel.builder(Fixtures.model(NAME)).maxImagePixels(0),
        () -> FlorenceModel.builder(Fixtures.model(NAME)).imageCacheBytes(-1),
        () -> FlorenceModel.builder(Fixtures.model(NAME)).dtype(null),
        () -> FlorenceModel.builder(Fixtures.model(NAME)).sessionSettings(null))) {
      assertEquals(VlmInputException.Reason.INVALID_OPTION, assertThrows(VlmInputException.class, bad::run).reason());
    }
  }

  /**
   * Label scores equal the PyTorch reference's teacher-forced log-probabilities
   * (refmodels/florence2_scores.py, label_scores.json): per token within 1e-4, and the label
   * probabilities; labels are text, checked and bounded.
   */
  @Test
  void classifyScoresLabelsAsThePyTorchReference() throws Exception {
    JsonNode doc = Fixtures.json(Fixtures.model(NAME).resolve("label_scores.json"));
    try (FlorenceModel model = FlorenceModel.load(Fixtures.model(NAME))) {
      int cases = 0;
      for (JsonNode c : doc.get("cases")) {
        JsonNode g = golden(c.get("case").asText());
        FlorenceTask t = FlorenceTask.fromToken(g.get("task").asText()).orElseThrow();
        List<String> labels = new ArrayList<>();
        c.get("labels").forEach(l -> labels.add(l.get("label").asText()));
        var scores = model.classify(t, image(g), FlorenceGoldenTest.input(g, t), labels);
        assertEquals(labels, scores.labels());
        for (int i = 0; i < labels.size(); i++) {
          JsonNode want = c.get("labels").get(i);
          var got = scores.scores().get(i);
          String what = c.get("case").asText() + " / " + labels.get(i);
          assertArrayEquals(Fixtures.ints(want.get("ids")), got.tokenIds(), what);
          double[] lp = got.tokenLogProbs();
          for (int j = 0; j < lp.length; j++) {
            assertEquals(want.get("token_log_probs").get(j).asDouble(), lp[j], 1e-4, what + " token " + j);
          }
          assertEquals(want.get("total").asDouble(), got.logProb(), 1e-3, what);
          assertEquals(want.get("probability").asDouble(), got.probability(), 1e-4, what);
        }
        assertEquals(scores.usage().promptTokens(), g.get("encoder_sequence_length").asInt());
        cases++;
      }
      assertTrue(cases >= 5, "cases: " + cases);
      JsonNode od = golden("od");
      // labels are text: "<loc_5>" typed by a user scores those characters, not the location token
      int loc5 = model.tokenizer().idOf("<loc_5>").orElseThrow();
      var text = model.classify(FlorenceTask.OD, image(od), null, List.of("<loc_5>", "circle"));
      assertTrue(java.util.Arrays.stream(text.scores().get(0).tokenIds()).noneMatch(id -> id == loc5));
      for (List<String> bad : List.of(List.<String>of(), List.of("a", "a"), List.of(" "),
          List.of("x".repeat(2_000_000)))) {
        VlmInputException e = assertThrows(VlmInputException.class,
            () -> model.classify(FlorenceTask.OD, image(od), null, bad));
        assertEquals(VlmInputException.Reason.INVALID_LABELS, e.reason(), e.getMessage());
      }
      assertEquals(VlmInputException.Reason.INVALID_PROMPT, assertThrows(VlmInputException.class,
          () -> model.classify(FlorenceTask.REGION_TO_CATEGORY, image(od), null, List.of("a"))).reason());
    }
  }

  /**
   * One task on several images in shared decoder steps: each image's answer equals its golden, also
   * when the images take more than one batch and when sequences end at different steps.
   */
  @Test
  void runAllDecodesImagesInSharedStepsWithTheGoldensIds() throws Exception {
    Map<String, List<JsonNode>> byTask = new java.util.TreeMap<>();
    for (JsonNode c : Fixtures.json(Fixtures.model(NAME).resolve("goldens.json")).get("cases")) {
      FlorenceTask t = FlorenceTask.fromToken(c.get("task").asText()).orElse(null);
      if (t != null && !t.takesInput() && !t.takesRegion()) {
        byTask.computeIfAbsent(t.name(), k -> new ArrayList<>()).add(c);
      }
    }
    int batched = 0;
    boolean differentLengths = false;
    for (int maxBatch : new int[] {8, 2}) {
      try (FlorenceModel model = FlorenceModel.builder(Fixtures.model(NAME)).maxBatch(maxBatch).build()) {
        for (Map.Entry<String, List<JsonNode>> e : byTask.entrySet()) {
          List<JsonNode> cases = e.getValue();
          if (cases.size() < 2) {
            continue;
          }
          int n = cases.get(0).get("max_new_tokens").asInt();
          List<ImageInput> images = new ArrayList<>();
          for (JsonNode c : cases) {
            assertEquals(n, c.get("max_new_tokens").asInt());
            images.add(image(c));
          }
          var answers = model.runAll(FlorenceTask.valueOf(e.getKey()), images, null, GenerationConfig.greedy(n));
          assertEquals(cases.size(), answers.size());
          java.util.Set<Integer> lengths = new java.util.HashSet<>();
          for (int i = 0; i < cases.size(); i++) {
            assertArrayEquals(Fixtures.ints(cases.get(i).get("generated_ids")), answers.get(i).generation().tokenIds(),
                e.getKey() + " " + cases.get(i).get("name").asText() + " in batches of " + maxBatch);
            assertEquals(cases.get(i).get("generated_text").asText(), answers.get(i).rawText());
            lengths.add(answers.get(i).generation().tokenIds().length);
          }
          differentLengths |= lengths.size() > 1;
          batched += cases.size();
        }
      }
    }
    assertTrue(batched >= 10, "images run in batches: " + batched);
    assertTrue(differentLengths, "no batch had sequences ending at different steps");
    try (FlorenceModel model = FlorenceModel.load(Fixtures.model(NAME))) {
      assertEquals(VlmInputException.Reason.INVALID_PROMPT, assertThrows(VlmInputException.class,
          () -> model.runAll(FlorenceTask.OD, List.of(), null, GenerationConfig.greedy(4))).reason());
      JsonNode od = golden("od");
      VlmInputException bad = assertThrows(VlmInputException.class, () -> model.runAll(FlorenceTask.OD,
          List.of(image(od), ImageInput.of(new byte[] {1, 2, 3})), null, GenerationConfig.greedy(4)));
      assertTrue(bad.reason().name().startsWith("IMAGE"), bad.reason().name());
    }
    assertEquals(VlmInputException.Reason.INVALID_OPTION, assertThrows(VlmInputException.class,
        () -> FlorenceModel.builder(Fixtures.model(NAME)).maxBatch(0)).reason());
  }

  @Test
  void commandLineRunsATask() throws Exception {
    JsonNode c = golden("od");
    String img = Fixtures.model(NAME).resolve(c.get("image").asText()).toString();
    CliTest.Run run = CliTest.cli("florence", "--model", Fixtures.model(NAME).toString(), "--task", "OD",
        "--image", img, "--max-new-tokens", c.get("max_new_tokens").asText(), "--json");
    assertEquals(0, run.exit(), run.err());
    JsonNode j = new ObjectMapper().readTree(run.out());
    assertArrayEquals(Fixtures.ints(c.get("generated_ids")), Fixtures.ints(j.get("generatedTokenIds")));
    JsonNode want = c.get("tjs_post_processed").get("<OD>");
    assertEquals(want.get("bboxes").size(), j.get("result").get("boxes").size());
    for (int i = 0; i < want.get("bboxes").size(); i++) {
      assertArrayEquals(FlorenceGoldenTest.doubles(want.get("bboxes").get(i)),
          FlorenceGoldenTest.doubles(j.get("result").get("boxes").get(i).get("box")));
    }
    CliTest.Run text = CliTest.cli("florence", "--model", Fixtures.model(NAME).toString(), "--task", "<OD>",
        "--image", img, "--max-new-tokens", c.get("max_new_tokens").asText());
    assertEquals(0, text.exit(), text.err());
    assertEquals(want.get("bboxes").size(), text.out().strip().lines().count(), text.out());
    CliTest.Run region = CliTest.cli("florence", "--model", Fixtures.model(NAME).toString(), "--task",
        "REGION_TO_CATEGORY", "--image", img, "--region", "100,150,600,700", "--max-new-tokens", "4");
    assertEquals(0, region.exit(), region.err());
    CliTest.Run unknown = CliTest.cli("florence", "--model", Fixtures.model(NAME).toString(), "--task", "DANCE",
        "--image", img);
    assertEquals(2, unknown.exit(), unknown.err());
    assertTrue(unknown.err().contains("unknown --task"), unknown.err());
    CliTest.Run missingRegion = CliTest.cli("florence", "--model", Fixtures.model(NAME).toString(), "--task",
        "REGION_TO_OCR", "--image", img);
    assertEquals(2, missingRegion.exit(), missingRegion.err());
    // --labels scores candidate answers: the probabilities of label_scores.json's OD case
    JsonNode scores = null;
    for (JsonNode sc : Fixtures.json(Fixtures.model(NAME).resolve("label_scores.json")).get("cases")) {
      if (sc.get("case").asText().equals("od")) {
        scores = sc.get("labels");
      }
    }
    List<String> labels = new ArrayList<>();
    scores.forEach(l -> labels.add(l.get("label").asText()));
    CliTest.Run scored = CliTest.cli("florence", "--model", Fixtures.model(NAME).toString(), "--task", "OD",
        "--image", img, "--labels", String.join(",", labels), "--json");
    assertEquals(0, scored.exit(), scored.err());
    JsonNode out = new ObjectMapper().readTree(scored.out());
    for (int i = 0; i < labels.size(); i++) {
      assertEquals(labels.get(i), out.get("scores").get(i).get("label").asText());
      assertEquals(scores.get(i).get("probability").asDouble(), out.get("scores").get(i).get("probability").asDouble(),
          1e-4, labels.get(i));
    }
    CliTest.Run repeated = CliTest.cli("florence", "--model", Fixtures.model(NAME).toString(), "--task", "OD",
        "--image", img, "--labels", "a,a");
    assertEquals(1, repeated.exit(), repeated.err());   // a typed input error, as for every command
    assertTrue(repeated.err().contains("distinct"), repeated.err());
  }

  @Test
  void malformedFoldersAreTypedLoadErrors(@TempDir Path dir) throws Exception {
    // no encoder
    Path a = MalformedFolderTest.copy(NAME, dir.resolve("a"));
    Files.delete(a.resolve("onnx/encoder_model.onnx"));
    ModelLoadException e = assertThrows(ModelLoadException.class, () -> FlorenceModel.load(a));
    assertEquals(Reason.MISSING_FILE, e.reason());
    assertTrue(e.getMessage().contains("encoder_model.onnx"), e.getMessage());
    // the config has more decoder layers than the graph's cache inputs
    Path b = MalformedFolderTest.copy(NAME, dir.resolve("b"));
    MalformedFolderTest.edit(b, "config.json", cfg -> ((ObjectNode) cfg.get("text_config")).put("decoder_layers", 3));
    e = assertThrows(ModelLoadException.class, () -> FlorenceModel.load(b));
    assertEquals(Reason.GRAPH_MISMATCH, e.reason());
    assertTrue(e.getMessage().contains("decoder_model_merged.onnx") && e.getMessage().contains(
        "past_key_values.2.decoder.key"), e.getMessage());
    // heads that do not match the cache's
    Path c = MalformedFolderTest.copy(NAME, dir.resolve("c"));
    MalformedFolderTest.edit(c, "config.json", cfg -> ((ObjectNode) cfg.get("text_config"))
        .put("decoder_attention_heads", 6));
    e = assertThrows(ModelLoadException.class, () -> FlorenceModel.load(c));
    assertEquals(Reason.GRAPH_MISMATCH, e.reason());
    assertTrue(e.getMessage().contains("past_key_values.0.decoder.key"), e.getMessage());
    // the encoder and decoder swapped
    Path d = MalformedFolderTest.copy(NAME, dir.resolve("d"));
    Files.copy(Fixtures.model(NAME).resolve("onnx/decoder_model_merged.onnx"), d.resolve("onnx/encoder_model.onnx"),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    e = assertThrows(ModelLoadException.class, () -> FlorenceModel.load(d));
    assertEquals(Reason.GRAPH_MISMATCH, e.reason());
    assertTrue(e.getMessage().contains("encoder_model.onnx"), e.getMessage());
    // no decoder_start_token_id anywhere
    Path f = MalformedFolderTest.copy(NAME, dir.resolve("f"));
    MalformedFolderTest.edit(f, "generation_config.json", cfg -> cfg.remove("decoder_start_token_id"));
    MalformedFolderTest.edit(f, "config.json", cfg -> ((ObjectNode) cfg.get("text_config")).remove("decoder_start_token_id"));
    e = assertThrows(ModelLoadException.class, () -> FlorenceModel.load(f));
    assertEquals(Reason.MALFORMED_CONFIG, e.reason());
    assertTrue(e.getMessage().contains("decoder_start_token_id"), e.getMessage());
    // the chat entry point says where Florence-2 loads
    e = assertThrows(ModelLoadException.class, () -> VisionLanguageModel.load(Fixtures.model(NAME)));
    assertEquals(Reason.UNSUPPORTED_MODEL_TYPE, e.reason());
    assertTrue(e.getMessage().contains("FlorenceModel"), e.getMessage());
    // and FlorenceModel refuses other types
    e = assertThrows(ModelLoadException.class, () -> FlorenceModel.load(Fixtures.model("vlm4j-tiny-llava")));
    assertEquals(Reason.UNSUPPORTED_MODEL_TYPE, e.reason());
  }

  @Test
  void parsedBoxesAreInImagePixels() throws Exception {
    try (FlorenceModel model = FlorenceModel.load(Fixtures.model(NAME))) {
      JsonNode c = golden("wide_resize_od");
      var a = model.run(FlorenceTask.OD, image(c), null, GenerationConfig.greedy(c.get("max_new_tokens").asInt()),
          TokenStreamer.none());
      FlorenceResult.Boxes boxes = (FlorenceResult.Boxes) a.result().orElseThrow();
      for (var b : boxes.boxes()) {
        for (int i = 0; i < 4; i++) {   // a 96x48 image: x in [0, 96], y in [0, 48] (bins below 1000)
          double side = i % 2 == 0 ? 96 : 48;
          assertTrue(b.coordinates()[i] > 0 && b.coordinates()[i] < side, b.toString());
        }
      }
    }
  }
}
