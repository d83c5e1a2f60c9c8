package io.github.vlm4j.core.prompt;

import io.github.vlm4j.core.VlmInputException;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
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
  /** Streams and files longer than this are refused when read ({@link #of(InputStream)}, {@link #readEncodedBytes()}). */
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

  /**
   * Creates an input from an image file.
   *
   * @param path an image file, read when the request runs by {@link #readEncodedBytes()}: only a
   *     regular file (a symbolic link to one is fine) is read
   * @return the input
   */
  public static ImageInput of(Path path) {
    Objects.requireNonNull(path, "path");
    return new ImageInput(path, null, null, path.toString());
  }

  /**
   * Creates an input from encoded image bytes.
   *
   * @param encoded encoded image bytes (not copied)
   * @return the input
   */
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

  /**
   * Creates an input from a decoded image.
   *
   * @param image a decoded image (must not be modified afterwards)
   * @return the input
   */
  public static ImageInput of(BufferedImage image) {
    Objects.requireNonNull(image, "image");
    return new ImageInput(null, null, image, "BufferedImage " + image.getWidth() + "x" + image.getHeight());
  }

  /**
   * Returns the file of this input.
   *
   * @return the file, if this input is a file
   */
  public Optional<Path> path() {
    return Optional.ofNullable(path);
  }

  /**
   * Returns the encoded bytes of this input.
   *
   * @return the encoded bytes, if this input holds bytes (not copied)
   */
  public Optional<byte[]> encodedBytes() {
    return Optional.ofNullable(bytes);
  }

  /**
   * The encoded bytes: those given to {@link #of(byte[])} or {@link #of(InputStream)}, or the file
   * of {@link #of(Path)} read now. Only a regular file is opened (its type is checked after
   * following links and before opening, so a FIFO cannot block the open and a device cannot be
   * read); at most {@link #MAX_ENCODED_BYTES} + 1 bytes are read whatever size the file claims.
   * A file replaced by a special file between the check and the open is not detected.
   *
   * @return the encoded bytes (not copied for byte inputs)
   * @throws VlmInputException IMAGE_NOT_FOUND if the path is missing, unreadable or not a regular
   *     file; IMAGE_TOO_LARGE if it is longer than {@link #MAX_ENCODED_BYTES}
   * @throws IllegalStateException if this input is a decoded {@link BufferedImage}
   */
  public byte[] readEncodedBytes() {
    if (bytes != null) {
      return bytes;
    }
    if (path == null) {
      throw new IllegalStateException("a BufferedImage input has no encoded bytes");
    }
    BasicFileAttributes attrs;
    try {
      attrs = Files.readAttributes(path, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_NOT_FOUND, "image file " + path + " does not exist", e);
    } catch (IOException | SecurityException e) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_NOT_FOUND,
          "cannot read the attributes of image file " + path + ": " + e, e);
    }
    if (!attrs.isRegularFile()) {
      String kind = attrs.isDirectory() ? "a directory" : "a special file (FIFO, device or socket)";
      throw new VlmInputException(VlmInputException.Reason.IMAGE_NOT_FOUND,
          "image path " + path + " is " + kind + ", not a regular file");
    }
    if (attrs.size() > MAX_ENCODED_BYTES) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_TOO_LARGE,
          "image file " + path + " has " + attrs.size() + " bytes; at most " + MAX_ENCODED_BYTES + " are accepted");
    }
    byte[] data;
    try (InputStream in = Files.newInputStream(path)) {
      data = in.readNBytes((int) MAX_ENCODED_BYTES + 1);
    } catch (NoSuchFileException e) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_NOT_FOUND, "image file " + path + " does not exist", e);
    } catch (AccessDeniedException e) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_NOT_FOUND, "image file " + path + " is not readable", e);
    } catch (IOException | SecurityException e) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_NOT_FOUND, "cannot read image file " + path + ": " + e, e);
    }
    if (data.length > MAX_ENCODED_BYTES) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_TOO_LARGE,
          "image file " + path + " is longer than " + MAX_ENCODED_BYTES + " bytes");
    }
    return data;
  }

  /**
   * Returns the decoded image of this input.
   *
   * @return the decoded image, if this input is one
   */
  public Optional<BufferedImage> bufferedImage() {
    return Optional.ofNullable(image);
  }

  /**
   * Describes this input for messages.
   *
   * @return a short description for messages (file name or size)
   */
  public String describe() {
    return description;
  }

  @Override
  public String toString() {
    return "ImageInput[" + description + "]";
  }
}
