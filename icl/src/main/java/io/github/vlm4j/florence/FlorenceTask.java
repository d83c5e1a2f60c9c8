package io.github.vlm4j.florence;

import io.github.vlm4j.core.VlmInputException;
import java.util.Objects;
import java.util.Optional;

/**
 * A Florence-2 task: its task token, the prompt the model is given for it, and how its generated
 * text is post-processed. The set, the prompts and the post-processing kinds are those of the
 * Florence-2 processor configuration ({@code preprocessor_config.json}'s
 * {@code task_prompts_without_inputs}, {@code task_prompts_with_input} and
 * {@code tasks_answer_post_processing_type}) that transformers.js 4.3.1's {@code Florence2Processor}
 * reads. Immutable and thread-safe.
 *
 * <p><b>User text is data.</b> Tasks that {@linkplain #takesInput() take a text input} insert it
 * verbatim where the template says {@code {input}}; nothing is escaped, removed or rejected. The
 * fixed prompt text contains no special token, and the caller (the model family) must encode the
 * whole prompt as plain text, without special-token parsing: a {@code <loc_12>}, {@code </s>} or
 * task token such as {@code <OD>} inside the input then reaches the model as the ordinary text
 * pieces {@code <}, {@code loc}, {@code _12}, ... and never as a location or control token. Task
 * tokens are not vocabulary entries at all; they only select the prompt.
 *
 * <p>Consequence for the three {@code REGION_TO_*} tasks: Florence-2 expects their region as four
 * location tokens (HuggingFace Python and transformers.js get them by letting the tokenizer split
 * {@code <loc_N>} out of the prompt text). Under the plain-text rule a region typed into
 * {@link #prompt(String)} stays text; {@link FlorenceModel#run(FlorenceTask, io.github.vlm4j.core.prompt.ImageInput,
 * FlorenceRegion)} takes the region as a typed box and inserts the location token ids itself.
 */
public enum FlorenceTask {
  /** {@code <OCR>}: the text in the image, as plain text. */
  OCR("<OCR>", "What is the text in the image?", AnswerKind.PURE_TEXT),
  /** {@code <OCR_WITH_REGION>}: each text line with its quadrilateral. */
  OCR_WITH_REGION("<OCR_WITH_REGION>", "What is the text in the image, with regions?", AnswerKind.OCR),
  /** {@code <CAPTION>}: a short caption. */
  CAPTION("<CAPTION>", "What does the image describe?", AnswerKind.PURE_TEXT),
  /** {@code <DETAILED_CAPTION>}: a longer caption. */
  DETAILED_CAPTION("<DETAILED_CAPTION>", "Describe in detail what is shown in the image.", AnswerKind.PURE_TEXT),
  /** {@code <MORE_DETAILED_CAPTION>}: a paragraph. */
  MORE_DETAILED_CAPTION("<MORE_DETAILED_CAPTION>", "Describe with a paragraph what is shown in the image.",
      AnswerKind.PURE_TEXT),
  /** {@code <OD>}: object detection, category names with boxes. */
  OD("<OD>", "Locate the objects with category name in the image.", AnswerKind.DESCRIPTION_WITH_BBOXES),
  /** {@code <DENSE_REGION_CAPTION>}: region descriptions with boxes. */
  DENSE_REGION_CAPTION("<DENSE_REGION_CAPTION>", "Locate the objects in the image, with their descriptions.",
      AnswerKind.DESCRIPTION_WITH_BBOXES),
  /** {@code <REGION_PROPOSAL>}: boxes, usually without labels. */
  REGION_PROPOSAL("<REGION_PROPOSAL>", "Locate the region proposals in the image.", AnswerKind.BBOXES),
  /** {@code <CAPTION_TO_PHRASE_GROUNDING>}: boxes for the phrases of a caption given as input. */
  CAPTION_TO_PHRASE_GROUNDING("<CAPTION_TO_PHRASE_GROUNDING>", "Locate the phrases in the caption: {input}",
      AnswerKind.PHRASE_GROUNDING),
  /** {@code <REFERRING_EXPRESSION_SEGMENTATION>}: a polygon mask (not post-processed, see {@link AnswerKind#POLYGONS}). */
  REFERRING_EXPRESSION_SEGMENTATION("<REFERRING_EXPRESSION_SEGMENTATION>", "Locate {input} in the image with mask",
      AnswerKind.POLYGONS),
  /** {@code <REGION_TO_SEGMENTATION>}: a region's polygon mask (not post-processed, see {@link AnswerKind#POLYGONS}). */
  REGION_TO_SEGMENTATION("<REGION_TO_SEGMENTATION>", "What is the polygon mask of region {input}",
      AnswerKind.POLYGONS),
  /**
   * {@code <OPEN_VOCABULARY_DETECTION>}: boxes or polygons for a described object (not
   * post-processed, see {@link AnswerKind#DESCRIPTION_WITH_BBOXES_OR_POLYGONS}).
   */
  OPEN_VOCABULARY_DETECTION("<OPEN_VOCABULARY_DETECTION>", "Locate {input} in the image.",
      AnswerKind.DESCRIPTION_WITH_BBOXES_OR_POLYGONS),
  /** {@code <REGION_TO_CATEGORY>}: the category of a region given as location tokens. */
  REGION_TO_CATEGORY("<REGION_TO_CATEGORY>", "What is the region {input}?", AnswerKind.PURE_TEXT),
  /** {@code <REGION_TO_DESCRIPTION>}: a description of a region given as location tokens. */
  REGION_TO_DESCRIPTION("<REGION_TO_DESCRIPTION>", "What does the region {input} describe?", AnswerKind.PURE_TEXT),
  /** {@code <REGION_TO_OCR>}: the text in a region given as location tokens. */
  REGION_TO_OCR("<REGION_TO_OCR>", "What text is in the region {input}?", AnswerKind.PURE_TEXT);

  /** The placeholder a task's template replaces with the user's input. */
  static final String INPUT_PLACEHOLDER = "{input}";

  /**
   * How a task's generated text is post-processed (the processor configuration's
   * {@code tasks_answer_post_processing_type} values).
   */
  public enum AnswerKind {
    /** The text itself, {@code <s>} and {@code </s>} removed: a {@link FlorenceResult.Text}. */
    PURE_TEXT,
    /** Labels with 4-location boxes: {@link FlorenceResult.Boxes}. */
    DESCRIPTION_WITH_BBOXES,
    /** Boxes (labels usually absent): {@link FlorenceResult.Boxes}. */
    BBOXES,
    /** Phrases with boxes: {@link FlorenceResult.Boxes} (transformers.js parses it like bboxes). */
    PHRASE_GROUNDING,
    /** Text lines with 8-location quadrilaterals: {@link FlorenceResult.Quads}. */
    OCR,
    /**
     * Polygon masks. transformers.js 4.3.1 does not implement it (it throws "not yet implemented"), so
     * {@link FlorencePostProcessor#parse} throws {@link UnsupportedOperationException} for it too.
     */
    POLYGONS,
    /** Boxes or polygons. Not implemented by transformers.js 4.3.1; unsupported here likewise. */
    DESCRIPTION_WITH_BBOXES_OR_POLYGONS;

    /**
     * Returns whether {@link FlorencePostProcessor#parse} turns this kind into a result.
     *
     * @return false for the two polygon kinds transformers.js 4.3.1 does not implement
     */
    public boolean supported() {
      return this != POLYGONS && this != DESCRIPTION_WITH_BBOXES_OR_POLYGONS;
    }
  }

  private final String token;
  private final String template;
  private final AnswerKind answerKind;

  FlorenceTask(String token, String template, AnswerKind answerKind) {
    this.token = token;
    this.template = template;
    this.answerKind = answerKind;
  }

  /**
   * Returns the task token.
   *
   * @return the task token, for example {@code <OD>}
   */
  public String token() {
    return token;
  }

  /**
   * Returns the prompt template.
   *
   * @return the prompt, with {@code {input}} where a task that takes input inserts it
   */
  public String template() {
    return template;
  }

  /**
   * Returns how the task's generation is post-processed.
   *
   * @return the answer kind
   */
  public AnswerKind answerKind() {
    return answerKind;
  }

  /**
   * Returns whether the task takes a text input (a caption, an expression, or a region written as
   * location tokens).
   *
   * @return true for the tasks of {@code task_prompts_with_input}
   */
  public boolean takesInput() {
    return template.contains(INPUT_PLACEHOLDER);
  }

  /**
   * Returns whether the task's input is a region ({@code REGION_TO_*}): four location tokens that
   * {@link FlorenceModel} inserts by id from a {@link FlorenceRegion}.
   *
   * @return true for the region tasks
   */
  public boolean takesRegion() {
    return name().startsWith("REGION_TO_");
  }

  /**
   * Returns the prompt of a task that takes no input; equal to transformers.js's
   * {@code construct_prompts(token())}.
   *
   * @return the fixed prompt
   * @throws VlmInputException ({@code INVALID_PROMPT}) if the task takes an input: call
   *     {@link #prompt(String)}
   */
  public String prompt() {
    if (takesInput()) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT,
          token + " takes a text input (its prompt is \"" + template + "\"); call prompt(String), found no input");
    }
    return template;
  }

  /**
   * Returns the prompt of a task that takes an input, the input inserted verbatim at
   * {@code {input}}. Equal to transformers.js's {@code construct_prompts(token() + input)} except in
   * two documented cases where transformers.js rewrites the user's text and this method does not:
   * transformers.js removes every occurrence of the task token from the result (so one inside the
   * input disappears), and its {@code String.replaceAll} expands {@code $&}, {@code $$},
   * {@code $`} and {@code $'} in the input. An empty input is allowed (transformers.js gives the
   * template with nothing inserted). See the class comment: the input is plain text, never special
   * tokens.
   *
   * @param input the caption, expression or region text; not null, may be empty
   * @return the prompt
   * @throws VlmInputException ({@code INVALID_PROMPT}) if the task takes no input (transformers.js
   *     would send {@code token() + input} to the model unchanged; HuggingFace Python rejects it)
   */
  public String prompt(String input) {
    Objects.requireNonNull(input, "input");
    if (!takesInput()) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT,
          token + " takes no text input (its prompt is \"" + template + "\"); found input of " + input.length()
              + " chars; call prompt()");
    }
    return template.replace(INPUT_PLACEHOLDER, input);
  }

  /**
   * Finds the task of a token.
   *
   * @param token a task token such as {@code <OD>} (exact, case-sensitive)
   * @return the task, or empty for a token this enum does not know (transformers.js post-processes
   *     unknown tasks as pure text)
   */
  public static Optional<FlorenceTask> fromToken(String token) {
    for (FlorenceTask t : values()) {
      if (t.token.equals(token)) {
        return Optional.of(t);
      }
    }
    return Optional.empty();
  }
}
