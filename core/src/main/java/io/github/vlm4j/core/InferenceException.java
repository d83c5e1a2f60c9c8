package io.github.vlm4j.core;

import ai.onnxruntime.OrtException;
import java.util.Optional;

/**
 * ONNX Runtime failed while running a graph. Unchecked: with validated inputs this indicates a
 * broken model file or a runtime fault, not a caller mistake. Keeps ONNX Runtime's error code.
 */
public class InferenceException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final transient OrtException.OrtErrorCode errorCode;

  /**
   * Wraps an ONNX Runtime failure, keeping its error code.
   *
   * @param message which graph failed and with which input shapes
   * @param cause the ONNX Runtime exception
   */
  public InferenceException(String message, OrtException cause) {
    super(message + ": " + cause.getMessage(), cause);
    this.errorCode = cause.getCode();
  }

  /**
   * Wraps another failure of a graph run (e.g. a shared step that failed for every request in it),
   * keeping ONNX Runtime's error code if the cause has one.
   *
   * @param message what went wrong
   * @param cause the failure
   */
  public InferenceException(String message, Throwable cause) {
    super(message, cause);
    this.errorCode = cause instanceof OrtException o ? o.getCode()
        : cause instanceof InferenceException i ? i.errorCode : null;
  }

  /**
   * For failures that are not ONNX Runtime exceptions (e.g. an output of an unexpected type).
   *
   * @param message what went wrong
   */
  public InferenceException(String message) {
    super(message);
    this.errorCode = null;
  }

  /**
   * Returns ONNX Runtime's error code for this failure.
   *
   * @return ONNX Runtime's error code, if the failure came from ONNX Runtime
   */
  public Optional<OrtException.OrtErrorCode> errorCode() {
    return Optional.ofNullable(errorCode);
  }
}
