package io.github.vlm4j.spark;

import io.github.vlm4j.Demo;
import io.github.vlm4j.DemoPool;
import io.github.vlm4j.FewShotPrompt;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ImageInput;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Few-shot demonstrations for a whole job: encoded images and their answers, plus the question,
 * instruction and layout of the prompt. A {@link VlmTransformer} broadcasts them once per job; each
 * row's image becomes the query of a {@link FewShotPrompt} with these demos (the model's prefix cache
 * then reuses the demos' KV cache from the second row on, per executor).
 *
 * <p>Immutable (image bytes are copied in and never handed out), serializable and thread-safe.
 */
public final class FewShotDemos implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The question of every demo and of queries without their own. */
  private final String question;
  /** The instruction before the first demo ("" for none). */
  private final String instruction;
  /** How the demos are laid out in the chat. */
  private final FewShotPrompt.Style style;
  /** Each demo's encoded image, in demo order. */
  private final List<byte[]> images;
  /** Each demo's answer, in demo order. */
  private final List<String> answers;

  private FewShotDemos(Builder b) {
    question = b.question;
    instruction = b.instruction;
    style = b.style;
    images = List.copyOf(b.images);
    answers = List.copyOf(b.answers);
  }

  /**
   * Starts building a demo set.
   *
   * @return a builder with {@link FewShotPrompt#DEFAULT_QUESTION}, no instruction and {@link FewShotPrompt.Style#TURNS}
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Reads demos from a {@code <dir>/<label>/<image>} folder on the driver (the layout of
   * {@link DemoPool#readFolder(Path)}), taking the first {@code perLabel} images of each label in
   * file-name order, labels interleaved (a, b, a, b, ...).
   *
   * @param dir the folder
   * @param perLabel images per label, at least 1
   * @param question the question of every demo and of the queries
   * @return a builder holding those demos, to adjust and build
   * @throws VlmInputException INVALID_DEMO_POOL for a folder that is not such a pool, IMAGE_NOT_FOUND for an
   *     unreadable image
   * @throws IllegalArgumentException if {@code perLabel} is below 1
   */
  public static Builder fromFolder(Path dir, int perLabel, String question) {
    if (perLabel < 1) {
      throw new IllegalArgumentException("perLabel must be at least 1, got " + perLabel);
    }
    Map<String, List<DemoPool.Entry>> byLabel = new LinkedHashMap<>();
    for (DemoPool.Entry e : DemoPool.readFolder(dir)) {
      byLabel.computeIfAbsent(e.label(), k -> new ArrayList<>()).add(e);
    }
    Builder b = builder().question(question);
    for (int i = 0; i < perLabel; i++) {
      for (List<DemoPool.Entry> entries : byLabel.values()) {
        if (i < entries.size()) {
          b.demo(entries.get(i).image().readEncodedBytes(), entries.get(i).label());
        }
      }
    }
    return b;
  }

  /**
   * Returns the number of demos.
   *
   * @return the demo count, at least 1
   */
  public int size() {
    return answers.size();
  }

  /**
   * Returns the demos' answers.
   *
   * @return the answers, in demo order
   */
  public List<String> answers() {
    return answers;
  }

  /**
   * Returns the question.
   *
   * @return the question asked for every demo, and for a query without its own
   */
  public String question() {
    return question;
  }

  /**
   * Builds the library's demos (the images are wrapped, not copied: the caller must not modify them;
   * this class never does).
   *
   * @return the demos, in order
   */
  List<Demo> demos() {
    List<Demo> out = new ArrayList<>(answers.size());
    for (int i = 0; i < answers.size(); i++) {
      out.add(Demo.of(ImageInput.of(images.get(i)), answers.get(i)));
    }
    return out;
  }

  /**
   * Builds the prompt for one query.
   *
   * @param demos the result of {@link #demos()}, built once per task
   * @param query the query's images (may be empty: the library then refuses the prompt with INVALID_PROMPT)
   * @param queryQuestion the query's question, or null for {@link #question()}
   * @return the prompt
   * @throws VlmInputException INVALID_PROMPT without a query image
   */
  FewShotPrompt prompt(List<Demo> demos, List<ImageInput> query, String queryQuestion) {
    return FewShotPrompt.builder().instruction(instruction).question(question).style(style).demos(demos)
        .query(query, queryQuestion == null ? question : queryQuestion).build();
  }

  @Override
  public String toString() {
    return "FewShotDemos[" + answers.size() + " demos " + answers + ", question \"" + question + "\", " + style + "]";
  }

  /** Collects demos; not thread-safe. */
  public static final class Builder {
    private String question = FewShotPrompt.DEFAULT_QUESTION;
    private String instruction = "";
    private FewShotPrompt.Style style = FewShotPrompt.Style.TURNS;
    private final List<byte[]> images = new ArrayList<>();
    private final List<String> answers = new ArrayList<>();

    private Builder() {}

    /**
     * Sets the question.
     *
     * @param text the question of every demo and of queries without their own (non-blank)
     * @return this
     */
    public Builder question(String text) {
      this.question = Objects.requireNonNull(text, "text");
      return this;
    }

    /**
     * Sets the instruction placed before the first demo.
     *
     * @param text the instruction ("" for none)
     * @return this
     */
    public Builder instruction(String text) {
      this.instruction = Objects.requireNonNull(text, "text");
      return this;
    }

    /**
     * Sets the layout of the demos in the chat.
     *
     * @param s {@link FewShotPrompt.Style#TURNS} or {@link FewShotPrompt.Style#SINGLE_TURN}
     * @return this
     */
    public Builder style(FewShotPrompt.Style s) {
      this.style = Objects.requireNonNull(s, "s");
      return this;
    }

    /**
     * Adds a demo.
     *
     * @param encodedImage the demo's encoded image (copied)
     * @param answer its expected answer (non-blank)
     * @return this
     * @throws VlmInputException INVALID_DEMO for a blank answer
     */
    public Builder demo(byte[] encodedImage, String answer) {
      byte[] copy = encodedImage.clone();
      new Demo(List.of(ImageInput.of(copy)), Optional.empty(), answer);   // validates the answer
      images.add(copy);
      answers.add(answer);
      return this;
    }

    /**
     * Builds the demo set.
     *
     * @return the demos
     * @throws VlmInputException INVALID_DEMO without any demo, INVALID_PROMPT for a blank question
     */
    public FewShotDemos build() {
      if (answers.isEmpty()) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_DEMO, "a few-shot demo set needs at least one "
            + "demo, got none");
      }
      if (question.isBlank()) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT, "the few-shot question is blank");
      }
      return new FewShotDemos(this);
    }
  }
}
