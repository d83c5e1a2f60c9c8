package io.github.vlm4j.core;

import java.util.Objects;

/**
 * A model folder could not be loaded: a file is missing, a config is malformed, the model type is
 * not supported, or a graph's inputs/outputs do not match its config. Checked, because a caller
 * pointing at a folder can recover (pick another folder, report the message).
 *
 * <p>The message always names the file concerned and states what was expected and what was found.
 */
public class ModelLoadException extends Exception {
  private static final long serialVersionUID = 1L;

  /** Machine-readable cause of a load failure. */
  public enum Reason {
    /** The folder or a required file does not exist. */
    MISSING_FILE,
    /** A JSON config could not be parsed or lacks a required field. */
    MALFORMED_CONFIG,
    /** {@code config.json} names a {@code model_type} no registered family handles. */
    UNSUPPORTED_MODEL_TYPE,
    /** A graph's declared inputs/outputs disagree with the config or with another graph. */
    GRAPH_MISMATCH,
    /** The requested dtype is unknown or its file is absent. */
    UNSUPPORTED_DTYPE,
    /** The tokenizer files could not be loaded. */
    TOKENIZER,
    /** ONNX Runtime refused to create a session (corrupt graph, missing operator, ...). */
    RUNTIME,
    /**
     * A file name (from a config or manifest) or a symbolic link inside the folder leads outside
     * the model folder ({@code ..}, an absolute name, a link to elsewhere); vlm4j reads only files
     * inside the folder.
     */
    FILE_OUTSIDE_FOLDER
  }

  /** The machine-readable cause (never null); part of the serialized form. */
  private final Reason reason;

  /**
   * Creates the exception without a cause.
   *
   * @param reason machine-readable cause
   * @param message what was expected and what was found, naming the file
   */
  public ModelLoadException(Reason reason, String message) {
    super(message);
    this.reason = Objects.requireNonNull(reason, "reason");
  }

  /**
   * Creates the exception with the exception that caused it.
   *
   * @param reason machine-readable cause
   * @param message what was expected and what was found, naming the file
   * @param cause the underlying exception
   */
  public ModelLoadException(Reason reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = Objects.requireNonNull(reason, "reason");
  }

  /**
   * Returns why loading failed.
   *
   * @return the machine-readable cause
   */
  public Reason reason() {
    return reason;
  }
}
