package io.github.vlm4j.decoder.generation;

/** Whether a generation's output is complete under its {@link GenerationConfig#constraint()}. */
public enum ConstraintStatus {
  /** The request had no constraint. */
  NONE,
  /** The output is a complete match: it ended at an end-of-sequence token in an accepting state. */
  COMPLETE,
  /**
   * The output is only a prefix of a match: generation stopped (token limit, cancellation) before
   * the constraint allowed it to end. Never silently passed off as complete.
   */
  INCOMPLETE
}
