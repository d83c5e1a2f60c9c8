package io.github.vlm4j.core.prompt;

import io.github.vlm4j.core.VlmInputException;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * An image given by the caller, not yet decoded: a file, encoded bytes (PNG, JPEG, GIF, BMP, TIFF,
 * WebP, ...), a stream, or an already decoded {@link BufferedImage}. Decoding happens when a
 * request runs, with the model's pixel budget checked from the header first.
 *
 * <p>Immutable; the byte array passed to {@link #of(byte[])} must not be modified afterwards.
 */
public final class ImageInput {
  /** Streams longer than this are refused when read by {@link #of(InputStream)}. */
  public static final long MAX_ENCODED_BYTES = 256L << 20;

  private final Path path;
  private final byte[] bytes;
  private final BufferedImage image;
  private final String description;

  private ImageInput(Path path, byte[] bytes, BufferedImage image, String description) {
    this.path = path;
    this.bytes = bytes;
    this.image = image;
    this.description = description;
  }

  /** @param path an image file (read when the request runs) @return the input */
  public static ImageInput of(Path path) {
    Objects.requireNonNull(path, "path");
    return new ImageInput(path, null, null, path.toString());
  }

  /** @param encoded encoded image bytes (not copied) @return the input */
  public static ImageInput of(byte[] encoded) {
    Objects.requireNonNull(encoded, "encoded");
    return new ImageInput(null, encoded, null, encoded.length + " bytes");
  }

  /**
   * Reads the stream fully now (at most {@link #MAX_ENCODED_BYTES}); the caller closes it.
   *
   * @param in a stream of encoded image bytes
   * @return the input
   * @throws VlmInputException IMAGE_TOO_LARGE if the stream is longer than the limit,
   *     IMAGE_CORRUPT if it cannot be read
   */
  public static ImageInput of(InputStream in) {
    Objects.requireNonNull(in, "in");
    try {
      byte[] data = in.readNBytes((int) MAX_ENCODED_BYTES + 1);
      if (data.length > MAX_ENCODED_BYTES) {
        throw new VlmInputException(VlmInputException.Reason.IMAGE_TOO_LARGE,
            "image stream is longer than " + MAX_ENCODED_BYTES + " bytes");
      }
      return new ImageInput(null, data, null, "stream of " + data.length + " bytes");
    } catch (IOException e) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_CORRUPT, "cannot read image stream: " + e.getMessage(), e);
    }
  }

  /** @param image a decoded image (must not be modified afterwards) @return the input */
  public static ImageInput of(BufferedImage image) {
    Objects.requireNonNull(image, "image");
    return new ImageInput(null, null, image, "BufferedImage " + image.getWidth() + "x" + image.getHeight());
  }

  /** @return the file, if this input is a file */
  public Optional<Path> path() {
    return Optional.ofNullable(path);
  }

  /** @return the encoded bytes, if this input holds bytes (not copied) */
  public Optional<byte[]> encodedBytes() {
    return Optional.ofNullable(bytes);
  }

  /** @return the decoded image, if this input is one */
  public Optional<BufferedImage> bufferedImage() {
    return Optional.ofNullable(image);
  }

  /** @return a short description for messages (file name or size) */
  public String describe() {
    return description;
  }

  @Override
  public String toString() {
    return "ImageInput[" + description + "]";
  }
}
