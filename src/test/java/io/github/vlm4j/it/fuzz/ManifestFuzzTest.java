package io.github.vlm4j.it.fuzz;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.family.ModularFamily;
import io.github.vlm4j.it.Fixtures;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The modular manifest ({@code vlm4j.json}, docs/model-format.md) replaced by the fuzzer's bytes in
 * an in-memory copy of the committed tiny modular folder (graphs included), then {@code
 * VisionLanguageModel.builder(folder).build()} — the only public way to parse a manifest (its reader
 * is part of {@link ModularFamily#load}). Property: the load succeeds or fails with {@code
 * ModelLoadException}; what loads is closed again.
 *
 * <p>Most mutations are refused before any graph is opened; those that reach graph loading cost
 * ONNX Runtime sessions, so this harness runs fewer inputs per second than the others.
 */
class ManifestFuzzTest {
  private static final FuzzRun RUN = new FuzzRun("manifest", 30);

  /** The committed modular folder in memory, read lazily inside the first input. */
  private static final class Base {
    static final MemoryFolder FOLDER = MemoryFolder.copyOf(Fixtures.model("vlm4j-tiny-modular"), true);
  }

  /** The committed manifest (version 1) and the same model as a version-2 manifest (issue 17). */
  static Stream<byte[]> seeds() throws java.io.IOException {
    return Stream.of(Base.FOLDER.get(ModularFamily.MANIFEST), java.nio.file.Files.readAllBytes(
        Fixtures.model("vlm4j-tiny-cnn-variants").resolve("modular-v2").resolve(ModularFamily.MANIFEST)));
  }

  @MethodSource("seeds")
  @DictionaryEntries({"\"format\"", "\"vlm4j-modular\"", "\"format_version\"", "\"config\"", "\"generation_config\"",
      "\"preprocessor_config\"", "\"tokenizer\"", "\"tokenizer_config\"", "\"image_token\"", "\"image_prefix\"",
      "\"image_suffix\"", "\"tokens_per_image\"", "\"vision_encoder\"", "\"projector\"", "\"adapters\"",
      "\"embed_tokens\"", "\"decoder\"", "\"file\"", "\"inputs\"", "\"outputs\"", "\"name\"", "\"shape\"",
      "\"kind\"", "\"gated\"", "\"query\"", "\"last_user_text\"", "\"description\"", "\"onnx/projector.onnx\"",
      "\"../config.json\"", "\"/etc/passwd\"", "\"onnx\"", "\"num_images\"", "<image>", "<end_of_utterance>",
      "-1", "0", "2147483648", "1e300", "null", "[]", "{}", "\"encoders\"", "\"combine\"", "\"mode\"",
      "\"grid\"", "\"channels\"", "\"tokens\"", "\"layers\"", "\"scales\"", "\"preprocess\"", "\"size\"",
      "\"resample\"", "\"mean\"", "\"std\"", "\"input\"", "\"layout\"", "\"NCHW\"", "\"NHWC\""})
  @FuzzTest(maxDuration = "60s")
  void loadManifest(byte[] bytes) {
    Base.FOLDER.getClass(); // one-time setup outside the per-input watchdog
    RUN.run(() -> {
      try (VisionLanguageModel m = VisionLanguageModel.builder(Base.FOLDER.with(ModularFamily.MANIFEST, bytes).folder())
          .threads(1).build()) {
        m.modelType();
      }
    });
  }

  @AfterAll
  static void summary() {
    RUN.writeSummary();
    System.out.println(RUN.line());
  }
}
