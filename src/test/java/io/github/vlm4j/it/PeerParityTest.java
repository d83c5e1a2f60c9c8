package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Runs unmodified transformers.js (the kit's peer runner, src/test/node/peer-check.sh) and the Java
 * pipeline on the same golden cases and asserts identical prompt ids and greedy ids. Skipped, with
 * the reason printed, only if node or npm is not installed.
 */
class PeerParityTest {
  static boolean available(String... cmd) {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException | InterruptedException e) {
      return false;
    }
  }

  /** Aborts the test (with the reason printed) unless node and npm are installed. */
  static void requireNode() {
    boolean node = available("node", "--version");
    boolean npm = available("npm", "--version");
    if (!node || !npm) {
      String reason = "PeerParityTest skipped: " + (node ? "" : "node ") + (npm ? "" : "npm ") + "not installed";
      System.out.println(reason);
      Assumptions.abort(reason);
    }
  }

  /** Runs the peer check with {@code args} and returns its JSON output; aborts the test without node/npm. */
  static JsonNode peer(String label, String... args) throws Exception {
    requireNode();
    Path root = Path.of(System.getProperty("vlm4j.root", "../.."));
    Path out = Path.of(System.getProperty("java.io.tmpdir")).resolve("peer-ids-" + label + ".json");
    Path log = Path.of(System.getProperty("java.io.tmpdir")).resolve("peer-check-" + label + ".log");
    java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of("bash",
        root.resolve("src/test/node/peer-check.sh").toString()));
    cmd.addAll(java.util.List.of(args));
    cmd.addAll(java.util.List.of("--models", Fixtures.models().toAbsolutePath().toString(), "--json", out.toString()));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    assertTrue(p.waitFor(15, TimeUnit.MINUTES), "peer check timed out");
    String output = Files.readString(log);
    System.out.println(output.lines().reduce((a, b) -> b).orElse(""));
    assertEquals(0, p.exitValue(), "transformers.js disagrees with the PyTorch goldens:\n" + output);
    return Fixtures.json(out);
  }

  /**
   * Holds {@code model} to the peer's ids on the golden cases {@code include} accepts: prompt ids on
   * every one, greedy ids where {@code greedy} says both runtimes see the same pixels.
   *
   * @return {prompt comparisons, greedy comparisons}
   */
  static int[] assertSameIds(String name, JsonNode peer, VisionLanguageModel model,
      java.util.function.Predicate<JsonNode> include, java.util.function.Predicate<JsonNode> greedy) {
    int prompts = 0;
    int greedyRuns = 0;
    for (JsonNode c : Fixtures.json(Fixtures.model(name).resolve("goldens.json")).get("cases")) {
      if (!include.test(c)) {
        continue;
      }
      String id = name + " " + c.get("name").asText();
      JsonNode t = peer.get(c.get("name").asText());
      var msgs = GoldenParityTest.messages(name, c);
      var opts = GoldenParityTest.options(c);
      assertArrayEquals(Fixtures.ints(t.get("prompt_ids")), model.tokenize(msgs, opts).ids(), id + " prompt ids");
      prompts++;
      if (greedy.test(c)) {
        int[] ids = model.generate(msgs, GenerationConfig.greedy(c.get("max_new_tokens").asInt()), opts,
            TokenStreamer.none()).tokenIds();
        assertArrayEquals(Fixtures.ints(t.get("generated_ids")), ids, id + " greedy ids");
        greedyRuns++;
      }
    }
    return new int[] {prompts, greedyRuns};
  }

  /** Whether none of a golden case's images needs a resize (then sharp and Pillow give the same pixels). */
  static boolean noResize(JsonNode c) {
    for (JsonNode r : c.get("needs_resize")) {
      if (r.asBoolean()) {
        return false;
      }
    }
    return true;
  }

  @Test
  void transformersJsAndJavaProduceIdenticalIds() throws Exception {
    JsonNode tjs = peer("smolvlm-llava");
    int compared = 0;
    for (var modelEntry : (Iterable<java.util.Map.Entry<String, JsonNode>>) tjs::fields) {
      String name = modelEntry.getKey();
      JsonNode goldens = Fixtures.json(Fixtures.model(name).resolve("goldens.json"));
      try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(name))) {
        for (JsonNode c : goldens.get("cases")) {
          JsonNode t = modelEntry.getValue().get(c.get("name").asText());
          var msgs = GoldenParityTest.messages(name, c);
          var opts = GoldenParityTest.options(c);
          assertArrayEquals(Fixtures.ints(t.get("prompt_ids")), model.tokenize(msgs, opts).ids(),
              name + " " + c.get("name").asText() + " prompt ids");
          int[] ids = model.generate(msgs, GenerationConfig.greedy(c.get("max_new_tokens").asInt()), opts,
              TokenStreamer.none()).tokenIds();
          assertArrayEquals(Fixtures.ints(t.get("generated_ids")), ids, name + " " + c.get("name").asText());
          compared++;
        }
      }
    }
    assertTrue(compared >= 24, "compared " + compared + " cases");
  }

  /**
   * The Qwen2-VL / Qwen2.5-VL folders: prompt ids equal transformers.js's on every case (they depend
   * only on smart_resize's sizes); greedy ids equal wherever both runtimes see the same pixels and the
   * same positions: images needing no resize (sharp and Pillow resize differently otherwise; those
   * cases are held to the PyTorch goldens by GoldenParityTest). Text-only prompts are excluded from
   * the greedy comparison: transformers.js 4.3.1 decodes them 2S positions too far (the peer script
   * checks it reproduces the goldens' simulation of that bug; vlm4j follows HuggingFace Python).
   */
  @Test
  void transformersJsAndJavaAgreeOnQwenVl() throws Exception {
    JsonNode tjs = peer("qwen", "--qwen", "--dtypes", "fp32");
    int prompts = 0;
    int greedy = 0;
    for (String name : QwenFamilyTest.PEER_MODELS) {
      try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(name))) {
        int[] n = assertSameIds(name, tjs.get(name + "/fp32"), model, c -> true,
            c -> c.get("images").size() > 0 && noResize(c));
        prompts += n[0];
        greedy += n[1];
      }
    }
    assertTrue(prompts >= 51 && greedy >= 33, prompts + " prompt and " + greedy + " greedy comparisons");
  }


  /**
   * The LFM2-VL folder (hybrid convolution / attention cache): prompt ids and greedy ids equal
   * transformers.js's on every case, resized and tiled ones included: its Lfm2VlImageProcessor
   * resizes the normalised float tensor with ONNX Resize (linear, half-pixel), the same arithmetic
   * as vlm4j's {@code PixelOps.normalizedResizeBilinear}, so both see the same pixels.
   */
  @Test
  void transformersJsAndJavaAgreeOnLfm2Vl() throws Exception {
    String name = "vlm4j-tiny-lfm2-vl";
    JsonNode peer = peer("lfm2", "--lfm2", "--dtypes", "fp32").get(name + "/fp32");
    try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(name))) {
      assertArrayEquals(new int[] {15, 15}, assertSameIds(name, peer, model, c -> true, c -> true),
          "prompt and greedy comparisons");
    }
  }


  /**
   * The Gemma 3 folder: prompt ids equal transformers.js's on every case it can run (pan-and-scan
   * cases are PyTorch-only: transformers.js 4.3.1 has no pan-and-scan); greedy ids equal wherever both
   * runtimes see the same pixels (images needing no resize: sharp and Pillow resize differently, and
   * those cases are held to the PyTorch goldens by GoldenParityTest).
   */
  @Test
  void transformersJsAndJavaAgreeOnGemma3() throws Exception {
    String name = "vlm4j-tiny-gemma3";
    JsonNode peer = peer("gemma3", "--gemma3", "--dtypes", "fp32").get(name + "/fp32");
    try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(name))) {
      assertArrayEquals(new int[] {14, 11}, assertSameIds(name, peer, model, c -> !c.path("pan_and_scan").asBoolean(),
          PeerParityTest::noResize), "prompt and greedy comparisons");
    }
  }


  /**
   * The Florence-2 folder (encoder–decoder): transformers.js 4.3.1's prompt construction, prompt ids,
   * greedy ids and decoded text (special tokens kept) equal Java's on every case whose image needs no
   * resize (20 of 23; sharp's and Pillow's bicubic resizes differ otherwise, and those cases are held
   * to the PyTorch goldens by FlorenceGoldenTest), and the prompt ids on all 23.
   */
  @Test
  void transformersJsAndJavaAgreeOnFlorence2() throws Exception {
    String name = "vlm4j-tiny-florence2";
    JsonNode peer = peer("florence2", "--florence2", "--dtypes", "fp32").get(name + "/fp32");
    int prompts = 0;
    int greedy = 0;
    try (io.github.vlm4j.florence.FlorenceModel model = io.github.vlm4j.florence.FlorenceModel.load(
        Fixtures.model(name))) {
      for (JsonNode c : Fixtures.json(Fixtures.model(name).resolve("goldens.json")).get("cases")) {
        String id = name + " " + c.get("name").asText();
        JsonNode t = peer.get(c.get("name").asText());
        var task = io.github.vlm4j.florence.FlorenceTask.fromToken(c.get("task").asText());
        io.github.vlm4j.florence.FlorenceInput input = task.map(k -> FlorenceGoldenTest.input(c, k)).orElse(null);
        var image = io.github.vlm4j.core.prompt.ImageInput.of(Fixtures.model(name).resolve(c.get("image").asText()));
        var cfg = GenerationConfig.greedy(c.get("max_new_tokens").asInt());
        if (task.isPresent()) {
          assertArrayEquals(Fixtures.ints(t.get("prompt_ids")), model.promptIds(task.get(), input), id + " prompt ids");
          prompts++;
        }
        if (c.get("needs_resize").asBoolean()) {
          continue;
        }
        if (task.isPresent()) {
          var a = model.run(task.get(), image, input, cfg, TokenStreamer.none());
          assertArrayEquals(Fixtures.ints(t.get("generated_ids")), a.generation().tokenIds(), id + " greedy ids");
          assertEquals(t.get("text").asText(), a.rawText(), id + " text");
        } else {
          assertArrayEquals(Fixtures.ints(t.get("generated_ids")),
              model.generate(t.get("prompt").asText(), image, cfg, TokenStreamer.none()).tokenIds(), id + " greedy ids");
        }
        greedy++;
      }
    }
    assertEquals(22, prompts, "prompt comparisons (the free-text case has no task)");
    assertEquals(20, greedy, "greedy comparisons");
  }

  /**
   * Odd image sizes (1×N strips, 7×5, 200:1 and just over, huge sides, several pixel budgets):
   * transformers.js's own {@code smart_resize} gives every row of the kit's table, which vision-encoder's
   * {@code SmartResizePreprocessorTest} holds the Java preprocessor to, so both resize every row alike
   * (and refuse the same rows).
   */
  @Test
  void transformersJsSmartResizeEqualsTheTableJavaIsHeldTo() throws Exception {
    requireNode();
    Path root = Path.of(System.getProperty("vlm4j.root", "../.."));
    Path log = Path.of(System.getProperty("java.io.tmpdir")).resolve("peer-check-smart-resize.log");
    Process p = new ProcessBuilder("bash", root.resolve("src/test/node/peer-check.sh").toString(), "--smart-resize")
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    assertTrue(p.waitFor(5, TimeUnit.MINUTES), "smart_resize check timed out");
    String output = Files.readString(log);
    assertEquals(0, p.exitValue(), output);
    assertTrue(output.contains("equals the table on 350 of 350 rows"), output);
  }

  /**
   * transformers.js's own {@code Florence2Processor} (prompts and post-processing, no model) rerun on
   * the corpus gives exactly the committed answers that icl's {@code FlorencePostProcessorTest} holds
   * the Java parser to, so the fixture cannot drift from transformers.js unnoticed.
   */
  @Test
  void transformersJsFlorencePostProcessingEqualsTheCommittedFixture() throws Exception {
    requireNode();
    Path root = Path.of(System.getProperty("vlm4j.root", "../.."));
    Path out = Path.of(System.getProperty("java.io.tmpdir")).resolve("peer-florence-post.json");
    Path log = Path.of(System.getProperty("java.io.tmpdir")).resolve("peer-check-florence-post.log");
    Files.deleteIfExists(out);
    Process p = new ProcessBuilder("bash", root.resolve("src/test/node/peer-check.sh").toString(), "--florence-post",
        "--json", out.toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    assertTrue(p.waitFor(5, TimeUnit.MINUTES), "Florence-2 post-processing check timed out");
    String output = Files.readString(log);
    assertEquals(0, p.exitValue(), output);
    JsonNode committed = Fixtures.json(root.resolve("src/test/resources/fixtures/florence_post_tjs.json"));
    JsonNode rerun = Fixtures.json(out);
    assertTrue(committed.get("cases").size() >= 220, "corpus cases: " + committed.get("cases").size());
    assertEquals(committed, rerun, "transformers.js's answers differ from florence_post_tjs.json; " + output);
  }
}
