package io.github.vlm4j.core.prompt;

import java.util.Locale;

/** Who speaks in a chat turn. Rendered to templates in lower case ({@code user}, ...). */
public enum Role {
  /** Instructions for the whole conversation (if the template supports them). */
  SYSTEM,
  /** The person asking. */
  USER,
  /** The model. */
  ASSISTANT;

  /**
   * Returns the role's name in chat templates.
   *
   * @return the name chat templates expect: {@code system}, {@code user} or {@code assistant}
   */
  public String templateName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
