package io.github.vlm4j.florence;

import java.util.List;
import java.util.Objects;

/**
 * The typed result of post-processing one Florence-2 generation ({@link FlorencePostProcessor#parse}):
 * {@link Text} for pure-text tasks, {@link Boxes} for detection and grounding tasks, {@link Quads}
 * for {@code <OCR_WITH_REGION>}. Every implementation is an immutable record (lists are copied in and
 * unmodifiable) and thread-safe.
 */
public sealed interface FlorenceResult permits FlorenceResult.Text, FlorenceResult.Boxes, FlorenceResult.Quads {

  /**
   * Returns the task the generation was parsed for.
   *
   * @return the task
   */
  FlorenceTask task();

  /**
   * A pure-text answer: the generation with every {@code <s>} and then every {@code </s>} removed,
   * otherwise untouched (not trimmed; other special tokens such as {@code <pad>} stay, as in
   * transformers.js).
   *
   * @param task the task
   * @param text the answer text
   */
  record Text(FlorenceTask task, String text) implements FlorenceResult {
    /**
     * Checks the fields.
     *
     * @param task the task (not null)
     * @param text the answer text (not null)
     */
    public Text {
      Objects.requireNonNull(task, "task");
      Objects.requireNonNull(text, "text");
    }
  }

  /**
   * Labeled boxes, in the order they appear in the generation.
   *
   * @param task the task
   * @param boxes the boxes
   */
  record Boxes(FlorenceTask task, List<FlorenceBox> boxes) implements FlorenceResult {
    /**
     * Copies the list.
     *
     * @param task the task (not null)
     * @param boxes the boxes (copied; no null elements)
     */
    public Boxes {
      Objects.requireNonNull(task, "task");
      boxes = List.copyOf(boxes);
    }
  }

  /**
   * Labeled quadrilaterals ({@code <OCR_WITH_REGION>}), in the order they appear in the generation.
   *
   * @param task the task
   * @param quads the quadrilaterals
   */
  record Quads(FlorenceTask task, List<FlorenceQuad> quads) implements FlorenceResult {
    /**
     * Copies the list.
     *
     * @param task the task (not null)
     * @param quads the quadrilaterals (copied; no null elements)
     */
    public Quads {
      Objects.requireNonNull(task, "task");
      quads = List.copyOf(quads);
    }
  }
}
