package io.github.vlm4j.decoder.generation;

/**
 * Receives generation output as it is produced, on the generating thread. Text arrives only in
 * complete characters, never split inside a UTF-8 sequence, and never includes text that a stop
 * string will remove; the concatenated text equals {@link GenerationResult#text()}.
 */
public interface TokenStreamer {
  /**
   * Receives text as soon as it is final.
   *
   * @param delta newly final text (non-empty)
   */
  void onText(String delta);

  /**
   * Receives each generated token; does nothing by default.
   *
   * @param tokenId a generated token id (called before any text it completes)
   */
  default void onToken(int tokenId) {}

  /**
   * Called once when generation ends; does nothing by default.
   *
   * @param reason why generation ended
   */
  default void onEnd(FinishReason reason) {}

  /**
   * Returns a streamer that does nothing.
   *
   * @return a streamer that ignores everything
   */
  static TokenStreamer none() {
    return delta -> {};
  }
}
