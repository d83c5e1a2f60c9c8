package io.github.vlm4j.decoder.generation;

/**
 * Receives generation output as it is produced, on the generating thread. Text arrives only in
 * complete characters, never split inside a UTF-8 sequence, and never includes text that a stop
 * string will remove; the concatenated text equals {@link GenerationResult#text()}.
 */
public interface TokenStreamer {
  /** @param delta newly final text (non-empty) */
  void onText(String delta);

  /** @param tokenId a generated token id (called before any text it completes) */
  default void onToken(int tokenId) {}

  /** @param reason why generation ended */
  default void onEnd(FinishReason reason) {}

  /** @return a streamer that ignores everything */
  static TokenStreamer none() {
    return delta -> {};
  }
}
