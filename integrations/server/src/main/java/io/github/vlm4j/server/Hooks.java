package io.github.vlm4j.server;

/**
 * Points where tests can observe or hold a request (package-private; the server's own default does
 * nothing). Called on the request's thread.
 */
interface Hooks {
  /** No hooks. */
  Hooks NONE = new Hooks() {};

  /** A request got its slot and is about to run on the model. */
  default void running() {}

  /** A streamed chunk was written and flushed to the client. */
  default void chunkWritten() {}

  /**
   * A running request's generation was cancelled (called once, on the cancelling thread).
   *
   * @param cause why
   */
  default void cancelled(ServerMetrics.Cancel cause) {}
}
