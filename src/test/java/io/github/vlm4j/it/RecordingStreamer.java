package io.github.vlm4j.it;

import io.github.vlm4j.decoder.generation.FinishReason;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@link TokenStreamer} that records what it is given, for tests comparing a stream with the
 * generation it came from. One per request; not thread-safe (a generation calls its streamer from
 * one thread at a time).
 */
public final class RecordingStreamer implements TokenStreamer {
  private final StringBuilder text = new StringBuilder();
  private final List<Integer> ids = new ArrayList<>();
  private FinishReason finish;

  @Override
  public void onText(String delta) {
    text.append(delta);
  }

  @Override
  public void onToken(int tokenId) {
    ids.add(tokenId);
  }

  @Override
  public void onEnd(FinishReason reason) {
    finish = reason;
  }

  /**
   * Returns the text deltas joined.
   *
   * @return the streamed text so far
   */
  public String text() {
    return text.toString();
  }

  /**
   * Returns the streamed token ids.
   *
   * @return the ids so far, in order
   */
  public int[] ids() {
    return ids.stream().mapToInt(Integer::intValue).toArray();
  }

  /**
   * Returns the finish reason given to {@link #onEnd}.
   *
   * @return the reason, or null if the stream has not ended
   */
  public FinishReason finishReason() {
    return finish;
  }
}
