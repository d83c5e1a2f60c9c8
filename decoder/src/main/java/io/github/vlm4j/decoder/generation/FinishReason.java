package io.github.vlm4j.decoder.generation;

/** Why generation stopped. */
public enum FinishReason {
  /** An end-of-sequence token was generated. */
  EOS,
  /** The new-token limit (or the context window) was reached. */
  LENGTH,
  /** A stop string appeared in the text; the text ends before it. */
  STOP_STRING,
  /** The caller cancelled the request. */
  CANCELLED
}
