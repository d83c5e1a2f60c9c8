package io.github.vlm4j.core;

import java.util.Objects;

/**
 * A request's input is invalid: an image that cannot be decoded or is over budget, a prompt that
 * does not fit the context window, image markers that do not match the images, an unknown adapter.
 * It is a caller mistake, hence an {@link IllegalArgumentException}; the model stays usable.
 *
 * <p>The message states what was expected and what was found.
 */
public class VlmInputException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  /** Machine-readable cause of an input error. */
  public enum Reason {
    /** Bytes that are not an image of a supported format. */
    IMAGE_FORMAT_UNSUPPORTED,
    /** A truncated or corrupt image. */
    IMAGE_CORRUPT,
    /** An image whose header declares more pixels than the configured budget. */
    IMAGE_TOO_LARGE,
    /** An image with zero width or height, or empty input. */
    IMAGE_EMPTY,
    /** The number of images does not match the prompt's image markers. */
    IMAGE_COUNT_MISMATCH,
    /** The prompt (plus requested tokens) does not fit the context window or a token cap. */
    PROMPT_TOO_LONG,
    /** A message list that the chat template cannot render (empty, wrong roles, ...). */
    INVALID_PROMPT,
    /** A generation option out of range (negative temperature, top-p above 1, ...). */
    INVALID_OPTION,
    /** An adapter name that is not registered on the model. */
    UNKNOWN_ADAPTER,
    /** A few-shot demonstration that cannot be used (no image, blank answer, ...). */
    INVALID_DEMO,
    /** A candidate label set that cannot be scored (empty, duplicates, blank labels). */
    INVALID_LABELS,
    /** A labelled demo pool that cannot be read (no label folders, no images, unknown labels). */
    INVALID_DEMO_POOL,
    /**
     * An image path that names no readable regular file: missing, a directory, a FIFO, a device or
     * another special file, or unreadable.
     */
    IMAGE_NOT_FOUND,
    /**
     * A model's generated text that a post-processor will not turn into a typed result: longer than
     * its character cap, more regions than its region cap, or a location that gives no finite pixel
     * coordinate (see {@code io.github.vlm4j.florence.FlorencePostProcessor}).
     */
    INVALID_GENERATION
  }

  /** The machine-readable cause (never null); part of the serialized form. */
  private final Reason reason;

  /**
   * Creates the exception without a cause.
   *
   * @param reason machine-readable cause
   * @param message what was expected and what was found
   */
  public VlmInputException(Reason reason, String message) {
    super(message);
    this.reason = Objects.requireNonNull(reason, "reason");
  }

  /**
   * Creates the exception with the exception that caused it.
   *
   * @param reason machine-readable cause
   * @param message what was expected and what was found
   * @param cause the underlying exception
   */
  public VlmInputException(Reason reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = Objects.requireNonNull(reason, "reason");
  }

  /**
   * Returns why the input was rejected.
   *
   * @return the machine-readable cause
   */
  public Reason reason() {
    return reason;
  }
}
