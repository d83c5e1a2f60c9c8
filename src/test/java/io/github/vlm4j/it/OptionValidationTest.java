package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.onnx.SessionSettings;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Every load and generation option is checked where it is set: out-of-range values are a {@link
 * VlmInputException} INVALID_OPTION whose message names the option, the accepted range and the value.
 */
class OptionValidationTest {
  static final Path IDEFICS = Fixtures.model("vlm4j-tiny-idefics3");

  static VlmInputException invalid(Executable e, String... inMessage) {
    VlmInputException x = assertThrows(VlmInputException.class, e);
    assertEquals(VlmInputException.Reason.INVALID_OPTION, x.reason(), x.getMessage());
    for (String s : inMessage) {
      assertTrue(x.getMessage().contains(s), "message should mention '" + s + "': " + x.getMessage());
    }
    return x;
  }

  static VisionLanguageModel.Builder builder() {
    return VisionLanguageModel.builder(IDEFICS);
  }

  @Test
  void unknownDtypeListsTheAcceptedNames() {
    invalid(() -> builder().dtype("fp64"), "fp64", "fp32", "fp16", "q8", "int8", "uint8", "q4", "q4f16", "bnb4");
    invalid(() -> builder().dtype((String) null), "dtype");
    invalid(() -> builder().dtype((io.github.vlm4j.core.onnx.Dtype) null), "dtype");
  }

  @Test
  void threadCountsAreBounded() {
    invalid(() -> builder().threads(100_000), "threads", "[0, " + SessionSettings.MAX_THREADS + "]", "100000");
    invalid(() -> builder().threads(-1), "threads", "-1");
    invalid(() -> SessionSettings.builder().intraOpThreads(100_000), "intraOpThreads", "100000");
    builder().threads(0).threads(SessionSettings.MAX_THREADS); // the bounds themselves are accepted
  }

  @Test
  void otherLoadOptionsAreCheckedAtTheSetter() {
    invalid(() -> builder().maxImagePixels(0), "maxImagePixels", "0");
    invalid(() -> builder().maxImagePixels(Long.MAX_VALUE), "maxImagePixels", "[1, ");
    invalid(() -> builder().imageCacheBytes(-1), "imageCacheBytes", "-1");
    invalid(() -> builder().prefixCacheBytes(-5), "prefixCacheBytes", "-5");
    invalid(() -> builder().prefillChunkTokens(0), "prefillChunkTokens", "0");
    invalid(() -> builder().prefillChunkTokens(1_000_000), "prefillChunkTokens", "[1, 8192]", "1000000");
    invalid(() -> builder().sessionConfig(null, "1"), "session config");
    invalid(() -> builder().sessionConfig("session.x", null), "session config");
    invalid(() -> builder().sessionConfig(" ", "1"), "session config");
    invalid(() -> builder().cuda(-1), "cudaDeviceId", "-1");
    invalid(() -> builder().optimizationLevel(null), "optimizationLevel");
    invalid(() -> builder().sessionSettings(null), "sessionSettings");
  }

  @Test
  void generationOptionsAreRangeChecked() {
    invalid(() -> GenerationConfig.builder().temperature(1e-300), "temperature", "1.0E-6", "1.0E-300");
    invalid(() -> GenerationConfig.builder().temperature(Double.NaN), "temperature", "NaN");
    invalid(() -> GenerationConfig.builder().temperature(Double.POSITIVE_INFINITY), "temperature");
    invalid(() -> GenerationConfig.builder().temperature(-1), "temperature");
    invalid(() -> GenerationConfig.builder().topP(0).build(), "topP", "(0, 1]");
    invalid(() -> GenerationConfig.builder().topP(Double.NaN).build(), "topP");
    invalid(() -> GenerationConfig.builder().topK(-1).build(), "topK");
    invalid(() -> GenerationConfig.builder().repetitionPenalty(Double.NaN).build(), "repetitionPenalty");
    invalid(() -> GenerationConfig.builder().repetitionPenalty(Double.POSITIVE_INFINITY).build(), "repetitionPenalty");
    invalid(() -> GenerationConfig.builder().maxNewTokens(0).build(), "maxNewTokens");
    invalid(() -> GenerationConfig.builder().maxNewTokens(Integer.MAX_VALUE).build(), "maxNewTokens",
        String.valueOf(Integer.MAX_VALUE));
    invalid(() -> GenerationConfig.builder().stopStrings(Arrays.asList("a", null)).build(), "null");
    GenerationConfig.builder().seed(Long.MIN_VALUE).seed(-1).build(); // any seed
  }

  @Test
  void theSmallestTemperatureSamplesLikeGreedyWithinTheVocabulary() throws Exception {
    try (VisionLanguageModel m = VisionLanguageModel.load(IDEFICS)) {
      List<Message> msgs = List.of(Message.user(ImageInput.of(IDEFICS.resolve("goldens/scene_shapes_0.png")),
          "What is in the image?"));
      GenerationResult greedy = m.generate(msgs, GenerationConfig.greedy(12));
      GenerationResult cold = m.generate(msgs, GenerationConfig.builder().maxNewTokens(12)
          .temperature(GenerationConfig.MIN_TEMPERATURE).seed(7).build());
      assertArrayEquals(greedy.tokenIds(), cold.tokenIds(), "at the smallest temperature sampling is the argmax");
    }
  }

  @Test
  void cliRefusesBadDtypeAndThreadsAsUsageErrorsNamingTheFlag() {
    CliTest.Run dtype = CliTest.cli("generate", "--model", IDEFICS.toString(), "--dtype", "fp64", "--prompt", "hi");
    assertEquals(2, dtype.exit(), dtype.err());
    assertTrue(dtype.err().contains("--dtype") && dtype.err().contains("q4f16"), dtype.err());
    CliTest.Run threads = CliTest.cli("generate", "--model", IDEFICS.toString(), "--threads", "100000", "--prompt", "hi");
    assertEquals(2, threads.exit(), threads.err());
    assertTrue(threads.err().contains("--threads must be in [0, ") && threads.err().contains("100000"), threads.err());
  }
}
