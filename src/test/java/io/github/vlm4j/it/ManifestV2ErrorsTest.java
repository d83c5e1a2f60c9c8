package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.ModelLoadException.Reason;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Malformed version-2 manifests (issue 17) fail at load with {@code ModelLoadException}: the
 * reason, and a message naming the manifest key (or graph file) with what was expected and found.
 * Each case mutates the valid {@code modular-v2} manifest on a copy of {@code vlm4j-tiny-modular}.
 */
class ManifestV2ErrorsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path dir;

  @BeforeAll
  static void copy() throws IOException {
    EncoderLayoutsGoldenTest.copyTree(Fixtures.model("vlm4j-tiny-modular"), dir);
  }

  static ObjectNode valid() {
    return (ObjectNode) Fixtures.json(Fixtures.model("vlm4j-tiny-cnn-variants").resolve("modular-v2/vlm4j.json"));
  }

  static ObjectNode encoder(ObjectNode m) {
    return (ObjectNode) m.get("encoders").get(0);
  }

  static Stream<Arguments> cases() {
    return Stream.of(
        Arguments.of("unknown encoder output", Reason.GRAPH_MISMATCH,
            (Consumer<ObjectNode>) m -> ((ObjectNode) encoder(m).get("outputs").get(0)).put("name", "conv99"),
            new String[] {"onnx/vision_encoder.onnx", "'conv99'", "encoders[0].outputs[0].name", "image_features"}),
        Arguments.of("unknown combine mode", Reason.MALFORMED_CONFIG,
            (Consumer<ObjectNode>) m -> ((ObjectNode) m.get("combine")).put("mode", "sum"),
            new String[] {"\"combine.mode\"", "[channels, tokens]", "\"sum\""}),
        Arguments.of("encoder grid differs from the combined grid", Reason.MALFORMED_CONFIG,
            (Consumer<ObjectNode>) m -> encoder(m).putArray("grid").add(4).add(4),
            new String[] {"\"encoders[0].grid\"", "[4, 4]", "[8, 8]"}),
        Arguments.of("combined width does not fit the projector", Reason.GRAPH_MISMATCH,
            (Consumer<ObjectNode>) m -> ((ArrayNode) m.get("encoders")).add(encoder(m).deepCopy()),
            new String[] {"onnx/projector.onnx", "128"}),
        Arguments.of("unknown pixel layout", Reason.MALFORMED_CONFIG,
            (Consumer<ObjectNode>) m -> ((ObjectNode) encoder(m).get("input")).put("layout", "NWHC"),
            new String[] {"\"encoders[0].input.layout\"", "[NCHW, NHWC]", "NWHC"}),
        Arguments.of("pixel layout does not fit the graph", Reason.GRAPH_MISMATCH,
            (Consumer<ObjectNode>) m -> ((ObjectNode) encoder(m).get("input")).put("layout", "NHWC"),
            new String[] {"onnx/vision_encoder.onnx", "layout NHWC"}),
        Arguments.of("unknown output layout", Reason.MALFORMED_CONFIG,
            (Consumer<ObjectNode>) m -> ((ObjectNode) encoder(m).get("outputs").get(0)).put("layout", "grid"),
            new String[] {"\"encoders[0].outputs[0].layout\"", "tokens", "grid"}),
        Arguments.of("output layout of the wrong rank", Reason.GRAPH_MISMATCH,
            (Consumer<ObjectNode>) m -> ((ObjectNode) encoder(m).get("outputs").get(0)).put("layout", "NCHW"),
            new String[] {"onnx/vision_encoder.onnx", "rank 4", "encoders[0].outputs[0].layout"}),
        Arguments.of("no encoders", Reason.MALFORMED_CONFIG,
            (Consumer<ObjectNode>) m -> m.putArray("encoders"),
            new String[] {"\"encoders\"", "1 to 8 objects"}),
        Arguments.of("bad view size", Reason.MALFORMED_CONFIG,
            (Consumer<ObjectNode>) m -> ((ObjectNode) encoder(m).get("preprocess")).putArray("size").add(64),
            new String[] {"\"encoders[0].preprocess.size\"", "[height, width]", "[64]"}),
        Arguments.of("unknown resize filter", Reason.MALFORMED_CONFIG,
            (Consumer<ObjectNode>) m -> ((ObjectNode) encoder(m).get("preprocess")).put("resample", "cubic"),
            new String[] {"\"encoders[0].preprocess.resample\"", "bicubic", "\"cubic\""}),
        Arguments.of("views too large for one image", Reason.MALFORMED_CONFIG,
            (Consumer<ObjectNode>) m -> {
              ArrayNode scales = encoder(m).putArray("scales");
              for (int i = 0; i < 4; i++) {
                scales.addArray().add(2048).add(2048);
              }
            },
            new String[] {"\"encoders\"", "4 views of up to 2048x2048", "33554432"}),
        Arguments.of("version 1 key in a version 2 manifest", Reason.MALFORMED_CONFIG,
            (Consumer<ObjectNode>) m -> m.putObject("vision_encoder").put("file", "onnx/vision_encoder.onnx"),
            new String[] {"\"vision_encoder\"", "\"encoders\""}),
        Arguments.of("future format version", Reason.MALFORMED_CONFIG,
            (Consumer<ObjectNode>) m -> m.put("format_version", 3),
            new String[] {"format_version 3", "versions 1 to 2"}),
        Arguments.of("unknown layer combination", Reason.MALFORMED_CONFIG,
            (Consumer<ObjectNode>) m -> encoder(m).put("layers", "stack"),
            new String[] {"\"encoders[0].layers\"", "[channels, tokens]", "\"stack\""}));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void refusedAtLoadNamingTheKey(String what, Reason reason, Consumer<ObjectNode> mutation, String[] mentions)
      throws IOException {
    ObjectNode m = valid();
    mutation.accept(m);
    Files.write(dir.resolve("vlm4j.json"), JSON.writeValueAsBytes(m));
    ModelLoadException e = assertThrows(ModelLoadException.class, () -> VisionLanguageModel.load(dir).close(), what);
    assertEquals(reason, e.reason(), e.getMessage());
    for (String s : mentions) {
      assertTrue(e.getMessage().contains(s), "message lacks " + s + ": " + e.getMessage());
    }
  }

  /** Token combination: the ViT twice, each pooled to 4×8, gives the 64 tokens the projector takes. */
  @Test
  void tokenCombinationLoadsAndAnswers() throws Exception {
    ObjectNode m = valid();
    encoder(m).putArray("grid").add(4).add(8);
    ((ArrayNode) m.get("encoders")).add(encoder(m).deepCopy());
    ((ObjectNode) m.get("combine")).put("mode", "tokens").remove("grid");
    Files.write(dir.resolve("vlm4j.json"), JSON.writeValueAsBytes(m));
    try (VisionLanguageModel model = VisionLanguageModel.load(dir)) {
      var r = model.generate(java.util.List.of(io.github.vlm4j.core.prompt.Message.user(
              io.github.vlm4j.core.prompt.ImageInput.of(Fixtures.model("vlm4j-tiny-modular")
                  .resolve("goldens/scene_count_0.png")), "How many shapes are there?")),
          io.github.vlm4j.decoder.generation.GenerationConfig.greedy(4));
      assertEquals(16, r.usage().imageTokens());
    }
  }

  @Test
  void theUnmutatedManifestLoads() throws Exception {
    Files.write(dir.resolve("vlm4j.json"), JSON.writeValueAsBytes(valid()));
    try (VisionLanguageModel m = VisionLanguageModel.load(dir)) {
      assertEquals("vlm4j-modular", m.modelType());
    }
  }
}
