package io.github.vlm4j.decoder.generation.constraint;

import java.util.List;

/**
 * What generated text must match: a regular expression, one of several strings, or a JSON Schema
 * (a documented subset). Immutable and thread-safe; validated when created.
 */
public final class OutputConstraint {
  private OutputConstraint() {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /**
   * Output matching a regular expression (whole output).
   *
   * @param regex the expression
   * @return the constraint
   * @throws io.github.vlm4j.core.VlmInputException INVALID_OPTION for a malformed expression
   */
  public static OutputConstraint regex(String regex) {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /**
   * Output equal to one of the choices.
   *
   * @param choices non-empty, distinct, non-empty strings
   * @return the constraint
   * @throws io.github.vlm4j.core.VlmInputException INVALID_OPTION for an empty list or bad entries
   */
  public static OutputConstraint choice(List<String> choices) {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /**
   * Output that is a JSON document valid under the schema.
   *
   * @param schemaJson the schema as JSON text
   * @return the constraint
   * @throws io.github.vlm4j.core.VlmInputException INVALID_OPTION for malformed JSON or a keyword
   *     outside the supported subset (naming it)
   */
  public static OutputConstraint jsonSchema(String schemaJson) {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /**
   * Returns a short human-readable description, e.g. {@code regex [a-z]+}.
   *
   * @return the description
   */
  public String describe() {
    throw new UnsupportedOperationException("not implemented yet");
  }
}
