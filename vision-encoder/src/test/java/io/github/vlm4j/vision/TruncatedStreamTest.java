package io.github.vlm4j.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.github.vlm4j.core.VlmInputException;
import java.time.Duration;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** Fuzz finding F7: a reader that keeps reading past the end of a truncated image is stopped at once. */
class TruncatedStreamTest {
  /** 35 bytes: a 1×1 lossless WebP with 4 bytes mutated; its bit reader swallowed every EOF (> 20 s before). */
  static final byte[] WEBP_VP8L_EOF = HexFormat.of().parseHex(
      "524946461a00000057454250" + "5650384c0d0000002f000000" + "100760010000c488fe0700");

  @Test
  void losslessWebpReadingPastTheEndIsCorruptNotSlow() {
    VlmInputException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
        () -> assertThrows(VlmInputException.class, () -> new ImageDecoder().decode(WEBP_VP8L_EOF, "f7")));
    assertEquals(VlmInputException.Reason.IMAGE_CORRUPT, e.reason(), e.getMessage());
  }
}
