package io.github.vlm4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.decoder.DecoderState;
import io.github.vlm4j.it.Fixtures;
import io.github.vlm4j.vision.ImageDecoder;
import io.github.vlm4j.vision.PreprocessedImage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@link DecoderState#releasingRunOptions()}, which the vision encoder runs with by default: same
 * features as plain runs, and it shares the state's termination whether {@code terminate()} comes
 * before or after the options are first used (a cancelled request must stop in its vision run too).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReleasingRunOptionsTest {
  private VisionLanguageModel model;
  private PreprocessedImage pixels;

  @BeforeAll
  void load() throws ModelLoadException {
    model = VisionLanguageModel.builder(Fixtures.model("vlm4j-tiny-idefics3")).build();
    var rgb = new ImageDecoder().decode(ImageInput.of(
        Fixtures.model("vlm4j-tiny-idefics3").resolve("goldens/scene_shapes_0.png")));
    pixels = model.parts().preprocessor().preprocess(rgb, true);
  }

  @AfterAll
  void close() {
    model.close();
  }

  @Test
  void sameFeaturesAsPlainRuns() {
    try (DecoderState st = model.parts().decoder().newState(256)) {
      var releasing = st.releasingRunOptions();
      assertSame(releasing, st.releasingRunOptions());
      var plain = model.parts().vision().encode(pixels, null);
      for (int i = 0; i < 2; i++) {   // the second run re-grows the released arena
        var released = model.parts().vision().encode(pixels, releasing);
        assertArrayEquals(plain.shape(), released.shape());
        assertArrayEquals(plain.data(), released.data());
      }
    }
  }

  @Test
  void terminateAfterFirstUseStopsTheRun() {
    try (DecoderState st = model.parts().decoder().newState(256)) {
      var releasing = st.releasingRunOptions();
      st.terminate();
      var e = assertThrows(InferenceException.class, () -> model.parts().vision().encode(pixels, releasing));
      assertTrue(String.valueOf(e.getCause()).contains("terminate"), String.valueOf(e.getCause()));
    }
  }

  @Test
  void terminateBeforeFirstUseStopsTheRun() {
    try (DecoderState st = model.parts().decoder().newState(256)) {
      st.terminate();
      var releasing = st.releasingRunOptions();
      var e = assertThrows(InferenceException.class, () -> model.parts().vision().encode(pixels, releasing));
      assertTrue(String.valueOf(e.getCause()).contains("terminate"), String.valueOf(e.getCause()));
    }
  }
}
