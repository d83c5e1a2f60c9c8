package io.github.vlm4j.spark;

/**
 * The model could not be loaded on an executor (missing or malformed folder, unsupported dtype,
 * ...). Unlike a bad row, this fails the task: Spark retries it up to {@code spark.task.maxFailures}
 * times and then fails the job with this message. The cause is the library's
 * {@link io.github.vlm4j.core.ModelLoadException}, whose {@code reason()} says why.
 */
public class ModelUnavailableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message which source failed, on which host, and why
   * @param cause the load failure
   */
  public ModelUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
