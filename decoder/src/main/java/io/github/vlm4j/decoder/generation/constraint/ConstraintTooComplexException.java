package io.github.vlm4j.decoder.generation.constraint;

/**
 * A constraint exceeds a compile limit (size, repetition, nesting, automaton states or time); the
 * message names the limit and what was found. Mapped to {@code VlmInputException(INVALID_OPTION)}
 * by {@link OutputConstraint}.
 */
final class ConstraintTooComplexException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  ConstraintTooComplexException(String message) {
    super(message);
  }
}
