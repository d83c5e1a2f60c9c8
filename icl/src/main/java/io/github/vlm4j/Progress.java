package io.github.vlm4j;

/**
 * One step of a long-running task, as reported to a {@link ProgressListener}.
 *
 * @param task what is progressing
 * @param item what the step is about: a graph file such as {@code onnx/vision_encoder.onnx} while
 *     loading, an image name while encoding a pool or evaluating; empty for the final event
 * @param done steps finished so far, in [0, total] when {@code total} is known
 * @param total steps in all, or 0 when not known yet (the final event of a task has
 *     {@code done == total})
 */
public record Progress(Task task, String item, long done, long total) {
  /** What is progressing. */
  public enum Task {
    /** Loading a model: one step per file opened, the tokenizer then each graph (the total is known at the final event). */
    LOAD_MODEL,
    /** Encoding the images of a {@link DemoPool}: one step per image. */
    ENCODE_POOL,
    /** Evaluating a labelled query set (tools such as the CLI's {@code fewshot-eval}): one step per query. */
    EVALUATE
  }

  /**
   * Checks the fields.
   *
   * @param task what is progressing
   * @param item what the step is about (empty for the final event)
   * @param done steps finished so far
   * @param total steps in all, or 0 when not known yet
   * @throws IllegalArgumentException if {@code task} or {@code item} is null, or the counts are
   *     negative or {@code done} exceeds a known {@code total}
   */
  public Progress {
    if (task == null || item == null) {
      throw new IllegalArgumentException("task and item must not be null");
    }
    if (done < 0 || total < 0 || (total > 0 && done > total)) {
      throw new IllegalArgumentException("expected 0 <= done <= total, got done " + done + " of " + total);
    }
  }

  /**
   * Tells whether the task has finished.
   *
   * @return whether this is the last event of its task ({@code done == total}, total known)
   */
  public boolean finished() {
    return total > 0 && done == total;
  }
}
