package io.github.vlm4j.vision.multi;

import java.util.Arrays;
import java.util.Optional;

/** How feature grids are put together: side by side on channels, or one after another as tokens. */
public enum CombineMode {
  /** Grids of one size concatenated on channels (COMM-style encoders, several layers, S2 scales). */
  CHANNELS,
  /** Each grid's tokens after the previous grid's; all grids have the same channels. */
  TOKENS;

  /**
   * Parses a manifest value.
   *
   * @param text {@code "channels"} or {@code "tokens"} (any case)
   * @return the mode, or empty if unknown
   */
  public static Optional<CombineMode> parse(String text) {
    return Arrays.stream(values()).filter(m -> m.name().equalsIgnoreCase(text)).findFirst();
  }

  /**
   * Returns the name the manifest uses.
   *
   * @return {@code channels} or {@code tokens}
   */
  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
