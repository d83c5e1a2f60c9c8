package io.github.vlm4j.vision.multi;

import java.util.Arrays;
import java.util.Optional;

/** How a graph lays out an image tensor (pixels in, or features out), batch first. */
public enum FeatureLayout {
  /** {@code [batch, channels, height, width]} (PyTorch convolutions, ONNX). */
  NCHW,
  /** {@code [batch, height, width, channels]} (TensorFlow convolutions). */
  NHWC,
  /** {@code [batch, tokens, channels]}, the tokens a square grid in row-major order (ViTs); outputs only. */
  TOKENS;

  /**
   * Parses a manifest value.
   *
   * @param text {@code "NCHW"}, {@code "NHWC"} or {@code "tokens"} (any case)
   * @return the layout, or empty if unknown
   */
  public static Optional<FeatureLayout> parse(String text) {
    return Arrays.stream(values()).filter(l -> l.name().equalsIgnoreCase(text)).findFirst();
  }

  /**
   * Returns the name the manifest uses.
   *
   * @return {@code NCHW}, {@code NHWC} or {@code tokens}
   */
  public String label() {
    return this == TOKENS ? "tokens" : name();
  }

  /**
   * Returns the rank of a tensor in this layout.
   *
   * @return 4 for NCHW and NHWC, 3 for tokens
   */
  public int rank() {
    return this == TOKENS ? 3 : 4;
  }

  /**
   * Returns where the channels are.
   *
   * @return the index of the channel dimension
   */
  public int channelAxis() {
    return this == NCHW ? 1 : rank() - 1;
  }

  /**
   * Lists the manifest names.
   *
   * @param pixels whether for a pixel input (which cannot be tokens)
   * @return the accepted names, for messages
   */
  public static String accepted(boolean pixels) {
    return pixels ? "[NCHW, NHWC]" : "[NCHW, NHWC, tokens]";
  }
}
