package io.github.vlm4j.core;

/**
 * The model (or session) was closed: before this call, or while this call was running, in which
 * case the call was stopped cleanly at the next step boundary.
 */
public class ModelClosedException extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what was closed and what was attempted
   */
  public ModelClosedException(String message) {
    super(message);
  }
}
