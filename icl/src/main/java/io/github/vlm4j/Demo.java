package io.github.vlm4j;

import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ImageInput;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One few-shot demonstration: one or more images, an optional question (the prompt's default
 * question when empty) and the expected answer, e.g. a part photo and {@code "defective"}.
 *
 * <p>Immutable and thread-safe.
 *
 * @param images the demo's images, at least one
 * @param question the question asked about them; empty = {@link FewShotPrompt#question()}
 * @param answer the answer the model should learn from context (non-blank)
 */
public record Demo(List<ImageInput> images, Optional<String> question, String answer) {
  /**
   * Validates the demo.
   *
   * @param images the demo's images, at least one (copied)
   * @param question the question asked about them; empty = {@link FewShotPrompt#question()}
   * @param answer the answer the model should learn from context (non-blank)
   * @throws VlmInputException ({@link VlmInputException.Reason#INVALID_DEMO}) for a demo without
   *     images or with a blank answer
   */
  public Demo {
    Objects.requireNonNull(images, "images");
    Objects.requireNonNull(question, "question");
    if (images.isEmpty()) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_DEMO,
          "a few-shot demo needs at least one image, got none (answer " + quote(answer) + ")");
    }
    if (answer == null || answer.isBlank()) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_DEMO,
          "a few-shot demo needs a non-blank answer, got " + quote(answer));
    }
    images = List.copyOf(images);
  }

  /**
   * Creates a one-image demo.
   *
   * @param image the demo image
   * @param answer its label
   * @return a demo asking the prompt's default question
   */
  public static Demo of(ImageInput image, String answer) {
    return new Demo(List.of(image), Optional.empty(), answer);
  }

  /**
   * Creates a demo with its own question.
   *
   * @param images the demo images
   * @param question the question about them
   * @param answer the expected answer
   * @return the demo
   */
  public static Demo of(List<ImageInput> images, String question, String answer) {
    return new Demo(images, Optional.of(question), answer);
  }

  static String quote(String s) {
    return s == null ? "null" : "\"" + s + "\"";
  }
}
