package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.ModelLoadException.Reason;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Malformed model folders (wrong-typed, out-of-range, truncated JSON, names and links leaving the
 * folder) end in a {@link ModelLoadException} naming the file and the field, never in a runtime
 * exception, an {@code Error}, or a silently wrapped value.
 */
class MalformedFolderTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String IDEFICS = "vlm4j-tiny-idefics3";
  static final String LLAVA = "vlm4j-tiny-llava";
  static final String MODULAR = "vlm4j-tiny-modular";
  /** 2^32 + 128: Jackson's asInt() wraps it to 128, a plausible value. */
  static final BigInteger WRAPS_TO_128 = BigInteger.ONE.shiftLeft(32).add(BigInteger.valueOf(128));

  static Path copy(String name, Path dir) throws IOException {
    return Fixtures.copyModel(name, dir.resolve(name));
  }

  static void edit(Path model, String file, Consumer<ObjectNode> change) throws IOException {
    ObjectNode cfg = (ObjectNode) JSON.readTree(model.resolve(file).toFile());
    change.accept(cfg);
    JSON.writeValue(model.resolve(file).toFile(), cfg);
  }

  static ModelLoadException fails(Path model, Reason reason, String... inMessage) {
    ModelLoadException e = assertThrows(ModelLoadException.class, () -> VisionLanguageModel.load(model).close());
    assertEquals(reason, e.reason(), e.getMessage());
    for (String s : inMessage) {
      assertTrue(e.getMessage().contains(s), "message should mention '" + s + "': " + e.getMessage());
    }
    return e;
  }

  static ObjectNode obj(JsonNode n) {
    return (ObjectNode) n;
  }

  // --- item 1: names and links leaving the folder ---

  @Test
  void symlinkPointingOutsideTheFolderIsATypedLoadError(@TempDir Path dir) throws IOException {
    Path model = copy(IDEFICS, dir);
    Path outside = dir.resolve("elsewhere.json");
    Files.copy(model.resolve("tokenizer_config.json"), outside);
    Files.delete(model.resolve("tokenizer_config.json"));
    try {
      Files.createSymbolicLink(model.resolve("tokenizer_config.json"), outside);
    } catch (UnsupportedOperationException | IOException e) {
      assumeTrue(false, "symbolic links unsupported here: " + e);
    }
    fails(model, Reason.FILE_OUTSIDE_FOLDER, "tokenizer_config.json", outside.toRealPath().toString());
    CliTest.Run r = CliTest.cli("generate", "--model", model.toString(), "--prompt", "hi");
    assertEquals(3, r.exit(), "exit code 3 = model cannot be loaded: " + r.err());
    assertTrue(r.err().contains("FILE_OUTSIDE_FOLDER"), r.err());
  }

  @Test
  void symlinkedGraphOutsideTheFolderIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(IDEFICS, dir);
    Path outside = dir.resolve("decoder.onnx");
    Files.move(model.resolve("onnx/decoder_model_merged.onnx"), outside);
    try {
      Files.createSymbolicLink(model.resolve("onnx/decoder_model_merged.onnx"), outside);
    } catch (UnsupportedOperationException | IOException e) {
      assumeTrue(false, "symbolic links unsupported here: " + e);
    }
    fails(model, Reason.FILE_OUTSIDE_FOLDER, "decoder_model_merged.onnx", outside.toRealPath().toString());
  }

  @Test
  void manifestGraphNameWithDotDotIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(MODULAR, dir);
    Files.copy(model.resolve("onnx/projector.onnx"), dir.resolve("projector.onnx"));
    edit(model, "vlm4j.json", m -> obj(m.get("projector")).put("file", "../projector.onnx"));
    fails(model, Reason.FILE_OUTSIDE_FOLDER, "vlm4j.json", "projector.file", "../projector.onnx");
  }

  @Test
  void manifestAdapterNameWithDotDotIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(MODULAR, dir);
    edit(model, "vlm4j.json", m -> obj(m.get("adapters").get("counting")).put("file", "onnx/../../x.onnx"));
    fails(model, Reason.FILE_OUTSIDE_FOLDER, "vlm4j.json", "adapters.counting.file", "onnx/../../x.onnx");
  }

  @Test
  void manifestAbsoluteFileNameIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(MODULAR, dir);
    edit(model, "vlm4j.json", m -> m.put("preprocessor_config", "/etc/passwd"));
    fails(model, Reason.FILE_OUTSIDE_FOLDER, "preprocessor_config", "/etc/passwd");
  }

  // --- item 2: tokenizer.json ---

  @Test
  void hugeVocabIdIsATypedTokenizerError(@TempDir Path dir) throws IOException {
    Path model = copy(IDEFICS, dir);
    edit(model, "tokenizer.json", t -> {
      ObjectNode vocab = obj(t.get("model").get("vocab"));
      vocab.put(vocab.fieldNames().next(), 1_500_000_000);
    });
    fails(model, Reason.TOKENIZER, "tokenizer.json", "model.vocab", "1500000000", "[0, 768)");
  }

  @Test
  void addedTokenIdOutOfRangeIsATypedTokenizerError(@TempDir Path dir) throws IOException {
    Path model = copy(IDEFICS, dir);
    edit(model, "tokenizer.json", t -> obj(t.get("added_tokens").get(0)).put("id", 1_500_000_000));
    fails(model, Reason.TOKENIZER, "tokenizer.json", "added_tokens[0]", "id", "1500000000");
  }

  @Test
  void addedTokenWithoutContentIsATypedTokenizerError(@TempDir Path dir) throws IOException {
    Path model = copy(IDEFICS, dir);
    edit(model, "tokenizer.json", t -> obj(t.get("added_tokens").get(1)).remove("content"));
    fails(model, Reason.TOKENIZER, "tokenizer.json", "added_tokens[1]", "content");
  }

  @Test
  void addedTokenWithStringIdIsATypedTokenizerError(@TempDir Path dir) throws IOException {
    Path model = copy(IDEFICS, dir);
    edit(model, "tokenizer.json", t -> obj(t.get("added_tokens").get(0)).put("id", "3"));
    fails(model, Reason.TOKENIZER, "tokenizer.json", "added_tokens[0]", "id");
  }

  @Test
  void truncatedTokenizerIsATypedError(@TempDir Path dir) throws IOException {
    Path model = copy(IDEFICS, dir);
    byte[] b = Files.readAllBytes(model.resolve("tokenizer.json"));
    Files.write(model.resolve("tokenizer.json"), java.util.Arrays.copyOf(b, b.length / 2));
    fails(model, Reason.TOKENIZER, "tokenizer.json");
  }

  // --- item 3: preprocessor_config.json and friends ---

  @Test
  void longestEdgeBeyondTheRangeIsRefusedAtLoad(@TempDir Path dir) throws IOException {
    Path model = copy(IDEFICS, dir);
    edit(model, "preprocessor_config.json", p -> obj(p.get("size")).put("longest_edge", 100000));
    fails(model, Reason.MALFORMED_CONFIG, "preprocessor_config.json", "size.longest_edge", "[1, 8192]", "100000");
  }

  @Test
  void tilingBeyondTheRowColumnTokensIsRefusedAtLoad(@TempDir Path dir) throws IOException {
    Path model = copy(IDEFICS, dir);
    edit(model, "preprocessor_config.json", p -> obj(p.get("size")).put("longest_edge", 8192));
    fails(model, Reason.MALFORMED_CONFIG, "preprocessor_config.json", "longest_edge", "tiles");
  }

  @Test
  void zeroImageStdIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(LLAVA, dir);
    edit(model, "preprocessor_config.json", p -> p.putArray("image_std").add(0.5).add(0).add(0.5));
    fails(model, Reason.MALFORMED_CONFIG, "preprocessor_config.json", "image_std[1]", "0");
  }

  @Test
  void intOver32BitsIsRefusedNotWrapped(@TempDir Path dir) throws IOException {
    Path model = copy(LLAVA, dir);
    edit(model, "preprocessor_config.json", p -> obj(p.get("size")).put("height", WRAPS_TO_128.add(BigInteger.valueOf(-64))));
    fails(model, Reason.MALFORMED_CONFIG, "preprocessor_config.json", "size.height", "4294967360");
  }

  @Test
  void fractionalEdgeIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(LLAVA, dir);
    edit(model, "preprocessor_config.json", p -> obj(p.get("size")).put("width", 64.5));
    fails(model, Reason.MALFORMED_CONFIG, "preprocessor_config.json", "size.width", "64.5");
  }

  @Test
  void stringFlagIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(IDEFICS, dir);
    edit(model, "preprocessor_config.json", p -> p.put("do_image_splitting", "yes"));
    fails(model, Reason.MALFORMED_CONFIG, "preprocessor_config.json", "do_image_splitting", "true or false");
  }

  @Test
  void imageSeqLenOver32BitsIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(IDEFICS, dir);
    edit(model, "processor_config.json", p -> p.put("image_seq_len", WRAPS_TO_128.add(BigInteger.valueOf(-112))));
    fails(model, Reason.MALFORMED_CONFIG, "processor_config.json", "image_seq_len", "4294967312");
  }

  @Test
  void llavaPatchSizeOfWrongTypeIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(LLAVA, dir);
    edit(model, "processor_config.json", p -> p.put("patch_size", "16"));
    fails(model, Reason.MALFORMED_CONFIG, "processor_config.json", "patch_size", "\"16\"");
  }

  @Test
  void processorConfigThatIsNotAnObjectIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(LLAVA, dir);
    Files.writeString(model.resolve("processor_config.json"), "[1, 2, 3]");
    fails(model, Reason.MALFORMED_CONFIG, "processor_config.json", "object");
  }

  // --- config.json / generation_config.json ---

  @Test
  void hiddenSizeOver32BitsIsRefusedNotWrapped(@TempDir Path dir) throws IOException {
    Path model = copy(IDEFICS, dir);
    edit(model, "config.json", c -> obj(c.get("text_config")).put("hidden_size", WRAPS_TO_128));
    fails(model, Reason.MALFORMED_CONFIG, "config.json", "text_config.hidden_size", "4294967424");
  }

  @Test
  void fractionalVocabSizeIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(IDEFICS, dir);
    edit(model, "config.json", c -> obj(c.get("text_config")).put("vocab_size", 768.5));
    fails(model, Reason.MALFORMED_CONFIG, "config.json", "text_config.vocab_size", "768.5");
  }

  @Test
  void imageTokenIdOver32BitsIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(IDEFICS, dir);
    edit(model, "config.json", c -> c.put("image_token_id", BigInteger.ONE.shiftLeft(32).add(BigInteger.valueOf(766))));
    fails(model, Reason.MALFORMED_CONFIG, "config.json", "image_token_id", "4294968062");
  }

  @Test
  void eosIdOver32BitsIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(LLAVA, dir);
    edit(model, "generation_config.json", g -> ((ArrayNode) g.get("eos_token_id")).add(BigInteger.ONE.shiftLeft(40)));
    fails(model, Reason.MALFORMED_CONFIG, "generation_config.json", "eos_token_id[2]");
  }

  @Test
  void stringTemperatureDefaultIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(IDEFICS, dir);
    edit(model, "generation_config.json", g -> g.put("temperature", "hot"));
    fails(model, Reason.MALFORMED_CONFIG, "generation_config.json", "temperature");
  }

  @Test
  void truncatedGenerationConfigIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(IDEFICS, dir);
    Files.writeString(model.resolve("generation_config.json"), "{\"eos_token_id\": [767,");
    fails(model, Reason.MALFORMED_CONFIG, "generation_config.json", "not valid JSON");
  }

  @Test
  void deeplyNestedJsonIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(IDEFICS, dir);
    Files.writeString(model.resolve("generation_config.json"),
        "{\"x\": " + "[".repeat(5000) + "]".repeat(5000) + "}", StandardCharsets.UTF_8);
    fails(model, Reason.MALFORMED_CONFIG, "generation_config.json");
  }

  // --- the modular manifest ---

  @Test
  void manifestTokensPerImageOver32BitsIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(MODULAR, dir);
    edit(model, "vlm4j.json", m -> m.put("tokens_per_image", WRAPS_TO_128.add(BigInteger.valueOf(-112))));
    fails(model, Reason.MALFORMED_CONFIG, "vlm4j.json", "tokens_per_image", "4294967312");
  }

  @Test
  void manifestWithStringVersionIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(MODULAR, dir);
    edit(model, "vlm4j.json", m -> m.put("format_version", "1"));
    fails(model, Reason.MALFORMED_CONFIG, "vlm4j.json", "format_version");
  }

  @Test
  void manifestWithAnAdapterThatIsNotAnObjectIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(MODULAR, dir);
    edit(model, "vlm4j.json", m -> obj(m.get("adapters")).put("counting", 7));
    fails(model, Reason.MALFORMED_CONFIG, "vlm4j.json", "adapters.counting", "object");
  }

  @Test
  void manifestWithDeclaredInputsThatAreNotAListIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(MODULAR, dir);
    edit(model, "vlm4j.json", m -> obj(m.get("projector")).put("inputs", "image_features"));
    fails(model, Reason.MALFORMED_CONFIG, "vlm4j.json", "inputs");
  }

  @Test
  void manifestPrefixOfWrongTypeIsRefused(@TempDir Path dir) throws IOException {
    Path model = copy(MODULAR, dir);
    edit(model, "vlm4j.json", m -> m.putObject("image_prefix"));
    fails(model, Reason.MALFORMED_CONFIG, "vlm4j.json", "image_prefix", "a string");
  }
}
