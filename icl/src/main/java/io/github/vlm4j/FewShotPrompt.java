package io.github.vlm4j;

import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ContentPart;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.ImagePart;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.core.prompt.Role;
import io.github.vlm4j.core.prompt.TextPart;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A few-shot (in-context) prompt: an optional instruction, demonstrations (images → answer) and a
 * query (images + question). It renders to chat {@link Message}s, which the model's own chat
 * template and image expansion then turn into tokens, so it works with every model family.
 *
 * <pre>{@code
 * FewShotPrompt p = FewShotPrompt.builder()
 *     .question("Is this part ok or defective?")
 *     .demo(Demo.of(ImageInput.of(okPng), "ok"))
 *     .demo(Demo.of(ImageInput.of(scratchedPng), "defective"))
 *     .query(ImageInput.of(newPartPng))
 *     .build();
 * LabelScores s = session.classify(p, List.of("ok", "defective"), RequestOptions.DEFAULT);
 * }</pre>
 *
 * <p>Immutable and thread-safe; reuse one prompt's demos for many queries with {@link #withQuery}
 * — the model then reuses the demos' encoded images and KV cache (see
 * {@link VisionLanguageModel.Builder#prefixCacheBytes(long)}).
 */
public final class FewShotPrompt {
  /** How demonstrations are laid out in the chat. */
  public enum Style {
    /** One user turn (images + question) and one assistant turn (answer) per demo, then the query turn. */
    TURNS,
    /**
     * A single user turn: every demo's images followed by {@code "question answer\n"}, then the query's
     * images and question; the model answers in the assistant turn.
     */
    SINGLE_TURN
  }

  /** The question asked when a demo or the query gives none. */
  public static final String DEFAULT_QUESTION = "What is this?";

  private final String instruction;
  private final String question;
  private final List<Demo> demos;
  private final List<ImageInput> queryImages;
  private final String queryQuestion;
  private final Style style;

  private FewShotPrompt(String instruction, String question, List<Demo> demos, List<ImageInput> queryImages,
      String queryQuestion, Style style) {
    this.instruction = instruction;
    this.question = question;
    this.demos = List.copyOf(demos);
    this.queryImages = List.copyOf(queryImages);
    this.queryQuestion = queryQuestion;
    this.style = style;
  }

  /**
   * Starts building a prompt.
   *
   * @return a builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Returns the instruction.
   *
   * @return the instruction placed before the first demo ("" for none)
   */
  public String instruction() {
    return instruction;
  }

  /**
   * Returns the default question.
   *
   * @return the default question of demos and query
   */
  public String question() {
    return question;
  }

  /**
   * Returns the demonstrations.
   *
   * @return the demonstrations, in prompt order
   */
  public List<Demo> demos() {
    return demos;
  }

  /**
   * Returns the query's images.
   *
   * @return the query's images
   */
  public List<ImageInput> queryImages() {
    return queryImages;
  }

  /**
   * Returns the query's question.
   *
   * @return the query's question
   */
  public String queryQuestion() {
    return queryQuestion;
  }

  /**
   * Returns how demos and query are laid out in the chat.
   *
   * @return the layout
   */
  public Style style() {
    return style;
  }

  /**
   * Returns the number of demo images.
   *
   * @return the number of images in the demos
   */
  public int demoImageCount() {
    return demos.stream().mapToInt(d -> d.images().size()).sum();
  }

  /**
   * Returns a prompt with the same demos and another query.
   *
   * @param images the new query's images
   * @param question its question (null = the default question)
   * @return the same demos with another query
   * @throws VlmInputException ({@link VlmInputException.Reason#INVALID_PROMPT}) without a query image
   */
  public FewShotPrompt withQuery(List<ImageInput> images, String question) {
    if (images == null || images.isEmpty()) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT,
          "the few-shot query needs at least one image, got none");
    }
    return new FewShotPrompt(instruction, this.question, demos, images, question == null ? this.question : question,
        style);
  }

  /**
   * Writes the prompt as a chat.
   *
   * @return the chat: demos then the query, ending with the query's user turn
   */
  public List<Message> messages() {
    return messages(queryImages, queryQuestion);
  }

  List<Message> messages(List<ImageInput> qImages, String qText) {
    List<Message> out = new ArrayList<>();
    List<ContentPart> turn = new ArrayList<>();
    if (!instruction.isEmpty()) {
      turn.add(new TextPart(instruction + "\n"));
    }
    for (Demo d : demos) {
      d.images().forEach(i -> turn.add(new ImagePart(i)));
      String q = d.question().orElse(question);
      if (style == Style.TURNS) {
        turn.add(new TextPart(q));
        out.add(new Message(Role.USER, List.copyOf(turn)));
        out.add(Message.assistant(d.answer()));
        turn.clear();
      } else {
        turn.add(new TextPart(q + " " + d.answer() + "\n"));
      }
    }
    qImages.forEach(i -> turn.add(new ImagePart(i)));
    turn.add(new TextPart(qText));
    out.add(new Message(Role.USER, List.copyOf(turn)));
    return out;
  }

  @Override
  public String toString() {
    return "FewShotPrompt[" + demos.size() + " demos, " + style + ", query " + queryImages.size() + " images: "
        + queryQuestion + "]";
  }

  /** Builds a {@link FewShotPrompt}. Not thread-safe. */
  public static final class Builder {
    private String instruction = "";
    private String question = DEFAULT_QUESTION;
    private final List<Demo> demos = new ArrayList<>();
    private List<ImageInput> queryImages = List.of();
    private String queryQuestion;
    private Style style = Style.TURNS;

    /** Use {@link FewShotPrompt#builder()}. */
    private Builder() {}

    /**
     * Sets the instruction.
     *
     * @param text placed before the first demo
     * @return this
     */
    public Builder instruction(String text) {
      this.instruction = Objects.requireNonNull(text, "instruction");
      return this;
    }

    /**
     * Sets the default question.
     *
     * @param text default question of demos and query (default {@value #DEFAULT_QUESTION})
     * @return this
     * @throws VlmInputException INVALID_PROMPT if {@code text} is null or blank
     */
    public Builder question(String text) {
      if (text == null || text.isBlank()) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT, "the few-shot question must not be blank");
      }
      this.question = text;
      return this;
    }

    /**
     * Appends a demonstration.
     *
     * @param demo a demonstration
     * @return this
     */
    public Builder demo(Demo demo) {
      demos.add(Objects.requireNonNull(demo, "demo"));
      return this;
    }

    /**
     * Appends demonstrations.
     *
     * @param list demonstrations, appended in order
     * @return this
     */
    public Builder demos(List<Demo> list) {
      list.forEach(this::demo);
      return this;
    }

    /**
     * Sets the query, asked the default question.
     *
     * @param images the query's images, asked the default question
     * @return this
     */
    public Builder query(ImageInput... images) {
      this.queryImages = List.of(images);
      return this;
    }

    /**
     * Sets the query with its own question.
     *
     * @param images the query's images (copied)
     * @param question its question; null = the default question
     * @return this
     */
    public Builder query(List<ImageInput> images, String question) {
      this.queryImages = List.copyOf(images);
      this.queryQuestion = question;
      return this;
    }

    /**
     * Sets the layout.
     *
     * @param s the layout (default {@link Style#TURNS})
     * @return this
     */
    public Builder style(Style s) {
      this.style = Objects.requireNonNull(s, "style");
      return this;
    }

    /**
     * Builds the prompt.
     *
     * @return the prompt
     * @throws VlmInputException ({@link VlmInputException.Reason#INVALID_PROMPT}) without demos or
     *     without a query image
     */
    public FewShotPrompt build() {
      if (demos.isEmpty()) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT,
            "a few-shot prompt needs at least one demo, got none; use generate() for zero-shot questions");
      }
      if (queryImages.isEmpty()) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT,
            "the few-shot query needs at least one image, got none");
      }
      return new FewShotPrompt(instruction, question, demos, queryImages,
          queryQuestion == null ? question : queryQuestion, style);
    }
  }
}
