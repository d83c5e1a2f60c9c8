package io.github.vlm4j.core;

import java.util.Objects;

/**
 * Token counts and stage timings of one request.
 *
 * @param promptTokens tokens of the prompt, image tokens included
 * @param imageTokens image tokens in the prompt
 * @param generatedTokens tokens generated (the stopping token included)
 * @param timings per-stage wall-clock times
 * @param dropped what the request's context-window policy left out of the conversation ({@link
 *     DroppedContext#NONE} when nothing)
 */
public record Usage(int promptTokens, int imageTokens, int generatedTokens, StageTimings timings,
    DroppedContext dropped) {
  /**
   * Rejects a null {@code dropped}.
   *
   * @param promptTokens tokens of the prompt, image tokens included
   * @param imageTokens image tokens in the prompt
   * @param generatedTokens tokens generated (the stopping token included)
   * @param timings per-stage wall-clock times
   * @param dropped what the context-window policy left out
   */
  public Usage {
    Objects.requireNonNull(dropped, "dropped");
  }

  /**
   * Usage of a request whose prompt holds the whole conversation.
   *
   * @param promptTokens tokens of the prompt, image tokens included
   * @param imageTokens image tokens in the prompt
   * @param generatedTokens tokens generated (the stopping token included)
   * @param timings per-stage wall-clock times
   */
  public Usage(int promptTokens, int imageTokens, int generatedTokens, StageTimings timings) {
    this(promptTokens, imageTokens, generatedTokens, timings, DroppedContext.NONE);
  }
}
