package io.github.vlm4j.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.github.vlm4j.core.VlmInputException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Out-of-range decoder options are typed INVALID_OPTION errors, not plain IllegalArgumentExceptions. */
class DecoderOptionsTest {
  static void invalid(org.junit.jupiter.api.function.Executable e) {
    assertEquals(VlmInputException.Reason.INVALID_OPTION, assertThrows(VlmInputException.class, e).reason());
  }

  @Test
  void everyBoundIsChecked() {
    invalid(() -> new ImageDecoder(0));
    invalid(() -> ImageDecoder.builder().maxJpegScans(0));
    invalid(() -> ImageDecoder.builder().maxDecodeTime(Duration.ZERO));
    invalid(() -> ImageDecoder.builder().maxBudgetWait(Duration.ofSeconds(-1)));
    invalid(() -> new DecodeBudget(0));
    invalid(() -> new ImageFeatureCache(-1));
  }
}
