package io.github.vlm4j.it.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.it.Fixtures;
import io.github.vlm4j.vision.FixedSizePreprocessor;
import io.github.vlm4j.vision.Idefics3Preprocessor;
import io.github.vlm4j.vision.ImageDecoder;
import io.github.vlm4j.vision.ImageLayout;
import io.github.vlm4j.vision.ImagePreprocessor;
import io.github.vlm4j.vision.Lfm2VlPreprocessor;
import io.github.vlm4j.vision.PanAndScanPreprocessor;
import io.github.vlm4j.vision.PreprocessedImage;
import io.github.vlm4j.vision.PreprocessorConfig;
import io.github.vlm4j.vision.RgbImage;
import io.github.vlm4j.vision.SmartResizePreprocessor;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Image bytes → {@link ImageDecoder#decode(byte[], String)} (default pixel budget, as a model
 * builds it) → one preprocessor with a committed tiny model's config, chosen by the input's hash:
 * Idefics3 (split or not), fixed size (LLaVA), Qwen2-VL's smart resize, LFM2-VL's tiles and
 * thumbnail (split or not), Gemma 3's pan-and-scan. Property: only {@code VlmInputException}
 * escapes, and a decoded image always preprocesses to at least one frame whose sizes account for
 * every float.
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
            new FixedSizePreprocessor(PreprocessorConfig.read(ModelFolder.of(Fixtures.model("vlm4j-tiny-llava")))),
            new SmartResizePreprocessor(PreprocessorConfig.read(ModelFolder.of(Fixtures.model("vlm4j-tiny-qwen2-vl")))),
            Lfm2VlPreprocessor.read(ModelFolder.of(Fixtures.model("vlm4j-tiny-lfm2-vl"))),
            PanAndScanPreprocessor.read(ModelFolder.of(Fixtures.model("vlm4j-tiny-gemma3"))));
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
      // One preprocessing variant per input, chosen by the input's hash (all of them cost several
      // times more per decoded image and add little coverage): Idefics3 split / not split, fixed
      // size, smart resize, LFM2-VL tiled / not, Gemma 3 with pan-and-scan.
      int variant = Math.floorMod(Arrays.hashCode(bytes), 7);
      int[] preprocessor = {0, 0, 1, 2, 3, 3, 4};
      Boolean[] split = {Boolean.TRUE, Boolean.FALSE, null, null, Boolean.TRUE, Boolean.FALSE, Boolean.TRUE};
      ImagePreprocessor p = Stages.PREPROCESSORS.get(preprocessor[variant]);
      PreprocessedImage out = p.preprocess(rgb, split[variant]);
      ImageLayout layout = out.layout();
      long floats = 0;
      for (int f = 0; f < out.frames(); f++) {
        if (layout.frameHeight(f) < 1 || layout.frameWidth(f) < 1) {
          throw new AssertionError(p + " produced an empty frame " + f + " for a " + rgb.width() + "x" + rgb.height()
              + " image: " + layout);
        }
        floats += 3L * layout.frameHeight(f) * layout.frameWidth(f);
      }
      if (out.frames() < 1 || floats != out.pixels().length) {
        throw new AssertionError(p.getClass().getSimpleName() + " produced " + layout + " with " + out.pixels().length
            + " floats for a " + rgb.width() + "x" + rgb.height() + " image");
      }
    });
  }

  @AfterAll
  static void summary() {
    RUN.writeSummary();
    System.out.println(RUN.line());
  }
}
