package io.github.vlm4j.decoder.generation;

import io.github.vlm4j.core.Usage;
import java.util.Arrays;

/**
 * The outcome of one generation.
 *
 * @param text generated text (special tokens and any stop string removed)
 * @param tokenIds generated token ids, the stopping token included
 * @param finishReason why generation stopped
 * @param usage token counts and stage timings
 * @param constraint whether the text is complete under the request's output constraint ({@link
 *     ConstraintStatus#NONE} without one)
 */
public record GenerationResult(String text, int[] tokenIds, FinishReason finishReason, Usage usage,
    ConstraintStatus constraint) {
  /**
   * Copies the array.
   *
   * @param text generated text (special tokens and any stop string removed)
   * @param tokenIds generated token ids, the stopping token included (copied)
   * @param finishReason why generation stopped
   * @param usage token counts and stage timings
   * @param constraint whether the text is complete under the output constraint
   */
  public GenerationResult {
    tokenIds = tokenIds.clone();
    java.util.Objects.requireNonNull(constraint, "constraint");
  }

  /**
   * A result of a request without an output constraint.
   *
   * @param text generated text
   * @param tokenIds generated token ids (copied)
   * @param finishReason why generation stopped
   * @param usage token counts and stage timings
   */
  public GenerationResult(String text, int[] tokenIds, FinishReason finishReason, Usage usage) {
    this(text, tokenIds, finishReason, usage, ConstraintStatus.NONE);
  }

  /**
   * Returns the generated token ids.
   *
   * @return a copy of the generated token ids, the stopping token included
   */
  @Override
  public int[] tokenIds() {
    return tokenIds.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof GenerationResult r && text.equals(r.text) && Arrays.equals(tokenIds, r.tokenIds)
        && finishReason == r.finishReason && constraint == r.constraint;
  }

  @Override
  public int hashCode() {
    return text.hashCode() * 31 + Arrays.hashCode(tokenIds);
  }

  @Override
  public String toString() {
    return "GenerationResult[" + finishReason + ", " + tokenIds.length + " tokens: " + text + "]";
  }
}
