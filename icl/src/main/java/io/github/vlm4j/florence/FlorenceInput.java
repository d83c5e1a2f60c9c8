package io.github.vlm4j.florence;

import java.util.Objects;

/**
 * The input of a Florence-2 task that takes one ({@link FlorenceTask#takesInput()}): text (a
 * caption to ground, an expression) or, for the {@code REGION_TO_*} tasks, a {@link
 * FlorenceRegion}. Immutable.
 */
public sealed interface FlorenceInput permits FlorenceInput.Text, FlorenceRegion {
  /**
   * Text inserted into the task's prompt as plain text (never parsed for special tokens).
   *
   * @param text the text, not null
   */
  record Text(String text) implements FlorenceInput {
    /**
     * Checks the text.
     *
     * @param text the text, not null
     */
    public Text {
      Objects.requireNonNull(text, "text");
    }
  }

  /**
   * Makes a text input.
   *
   * @param text the text, not null
   * @return the input
   */
  static FlorenceInput text(String text) {
    return new Text(text);
  }
}
