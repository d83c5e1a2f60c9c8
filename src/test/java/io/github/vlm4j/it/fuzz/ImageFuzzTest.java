package io.github.vlm4j.it.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.it.Fixtures;
import io.github.vlm4j.vision.FixedSizePreprocessor;
import io.github.vlm4j.vision.Idefics3Preprocessor;
import io.github.vlm4j.vision.ImageDecoder;
import io.github.vlm4j.vision.ImagePreprocessor;
import io.github.vlm4j.vision.PreprocessedImage;
import io.github.vlm4j.vision.PreprocessorConfig;
import io.github.vlm4j.vision.RgbImage;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Image bytes → {@link ImageDecoder#decode(byte[], String)} (default pixel budget, as a model
 * builds it) → the Idefics3 preprocessor (split or not) or the fixed-size preprocessor with the
 * committed tiny models' configs (one of the three, chosen by the input's hash). Property: only {@code VlmInputException} escapes, and a
 * decoded image always preprocesses to frames of the configured size.
 *
 * <p>Seeds: one tiny image per supported format made in code ({@link SeedImages}) plus the
 * committed corpus {@code ImageFuzzTestInputs/decodeAndPreprocess}. Plain {@code mvn verify}
 * replays them; {@code JAZZER_FUZZ=1} fuzzes (see the {@code fuzz} profile of src/test/pom.xml).
 */
class ImageFuzzTest {
  private static final FuzzRun RUN = new FuzzRun("images", 20);

  /** Built lazily inside the first input, after Jazzer installed its agent. */
  private static final class Stages {
    static final ImageDecoder DECODER = new ImageDecoder();
    static final List<ImagePreprocessor> PREPROCESSORS = load();

    private static List<ImagePreprocessor> load() {
      try {
        return List.of(
            new Idefics3Preprocessor(PreprocessorConfig.read(ModelFolder.of(Fixtures.model("vlm4j-tiny-idefics3")))),
            new FixedSizePreprocessor(PreprocessorConfig.read(ModelFolder.of(Fixtures.model("vlm4j-tiny-llava")))));
      } catch (ModelLoadException e) {
        throw new IllegalStateException("committed tiny models must load", e);
      }
    }
  }

  static Stream<byte[]> seeds() {
    return SeedImages.all().stream();
  }

  @MethodSource("seeds")
  @FuzzTest(maxDuration = "60s")
  void decodeAndPreprocess(byte[] bytes) {
    Stages.PREPROCESSORS.size(); // one-time setup outside the per-input watchdog
    RUN.run(() -> {
      RgbImage rgb = Stages.DECODER.decode(bytes, "fuzz");
      // One preprocessing variant per input, chosen by the input's hash (all three cost ~6x more per
      // decoded image and add little coverage): Idefics3 split, Idefics3 not split, fixed size.
      int variant = Math.floorMod(Arrays.hashCode(bytes), 3);
      ImagePreprocessor p = Stages.PREPROCESSORS.get(variant == 2 ? 1 : 0);
      Boolean split = variant == 0 ? Boolean.TRUE : variant == 1 ? Boolean.FALSE : null;
      PreprocessedImage out = p.preprocess(rgb, split);
      if (out.frames() < 1 || out.height() < 1 || out.width() < 1
          || (long) out.frames() * 3 * out.height() * out.width() != out.pixels().length) {
        throw new AssertionError(p.getClass().getSimpleName() + " produced " + out.frames() + " frames of "
            + out.width() + "x" + out.height() + " with " + out.pixels().length + " floats for a "
            + rgb.width() + "x" + rgb.height() + " image");
      }
    });
  }

  @AfterAll
  static void summary() {
    RUN.writeSummary();
    System.out.println(RUN.line());
  }
}
