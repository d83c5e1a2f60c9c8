package io.github.vlm4j.core;

/**
 * What a request's context-window policy left out of the prompt so that the conversation fits.
 * All zero ({@link #NONE}) when nothing was left out, which is always the case under the default
 * policy (refuse prompts that do not fit).
 *
 * @param tokens how many fewer tokens the prompt has than the whole conversation would have (the
 *     tokens of dropped turns and images, minus those of the text markers put in place of images)
 * @param turns user turns (each with the assistant replies after it) left out, oldest first
 * @param images images left out: replaced by a text marker, or inside a dropped turn
 */
public record DroppedContext(int tokens, int turns, int images) {
  /** Nothing was left out. */
  public static final DroppedContext NONE = new DroppedContext(0, 0, 0);

  /**
   * Checks that no count is negative.
   *
   * @param tokens how many fewer tokens the prompt has than the whole conversation would have
   * @param turns user turns left out
   * @param images images left out
   * @throws IllegalArgumentException if a count is negative
   */
  public DroppedContext {
    if (tokens < 0 || turns < 0 || images < 0) {
      throw new IllegalArgumentException("dropped counts must be >= 0, got tokens " + tokens + ", turns " + turns
          + ", images " + images);
    }
  }

  /**
   * Tells whether anything was left out.
   *
   * @return true if a turn or an image was left out
   */
  public boolean any() {
    return turns > 0 || images > 0;
  }
}
