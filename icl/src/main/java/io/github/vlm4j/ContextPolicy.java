package io.github.vlm4j;

import io.github.vlm4j.core.VlmInputException;

/**
 * What a chat request does when its conversation does not fit the context window: refuse it (the
 * default), or leave out its oldest parts — whole turns, or images replaced by a text marker — until
 * the prompt leaves room for the reply. Immutable; set it with {@link
 * RequestOptions#withContextPolicy(ContextPolicy)}.
 *
 * <p><b>What is never dropped:</b> every system message and the last user turn (the last user
 * message and anything after it) stay whole; nothing is ever cut inside a message. The droppable
 * part is made of <i>turns</i>: each user message before the last one, together with the assistant
 * messages that follow it (assistant messages before the first user message form a turn of their
 * own). Images are droppable when they are in such a turn.
 *
 * <p><b>Budget:</b> parts are left out, oldest first, until the prompt plus the request's {@code
 * maxNewTokens} fits the context window ({@code max_position_embeddings}), or nothing droppable is
 * left. The request then runs if its prompt fits the window at all, exactly as under {@link
 * Mode#REFUSE} (generation stops at the end of the window), and is refused with {@code
 * PROMPT_TOO_LONG} naming what was dropped and what is left otherwise. A policy never refuses a
 * prompt that {@link Mode#REFUSE} accepts. {@link RequestOptions#withMaxImageTokens(int)} is checked
 * on the prompt the policy keeps.
 *
 * <p><b>Image markers:</b> an image left out by an image-dropping mode is replaced by a text part
 * holding {@link #imageMarker()} ({@value #DEFAULT_IMAGE_MARKER} unless set), which is caller text
 * like any other: rendered and tokenized as text, never a special token.
 *
 * <p><b>Scope:</b> policies apply to chats ({@code generate(List<Message>, ...)}, {@code
 * countTokens} and {@code tokenize} of a chat). Few-shot prompts and {@code classify} refuse any
 * policy but {@link Mode#REFUSE} with {@code INVALID_OPTION}: leaving out demos changes what the
 * model is shown to learn from — pick fewer demos instead ({@link DemoPool#nearest}).
 *
 * <p><b>Cost:</b> a conversation that fits costs nothing extra. One that does not is rendered and
 * tokenized again for each candidate: a galloping search over the number of turns (or images) left
 * out, about {@code 2 log2(d) + 2} renders for {@code d} parts dropped, each linear in the
 * conversation's length; images are decoded and preprocessed once (their token counts come from
 * preprocessing) and only the kept ones reach the vision encoder. Conversations whose text is longer
 * than the character bound of {@code PROMPT_TOO_LONG} (context window × the tokenizer's longest
 * token) are refused before any policy runs.
 *
 * @param mode what to leave out
 * @param imageMarker the text that replaces a dropped image (image-dropping modes; may be empty)
 */
public record ContextPolicy(Mode mode, String imageMarker) {
  /** The marker text that replaces a dropped image unless {@link #withImageMarker} sets another. */
  public static final String DEFAULT_IMAGE_MARKER = "[image omitted]";

  /** Refuse conversations that do not fit (the default). */
  public static final ContextPolicy REFUSE = new ContextPolicy(Mode.REFUSE, DEFAULT_IMAGE_MARKER);

  /** What a {@link ContextPolicy} leaves out. */
  public enum Mode {
    /** Leave out nothing: a prompt over the context window is refused with {@code PROMPT_TOO_LONG}. */
    REFUSE,
    /** Leave out the oldest turns (a user message and its replies), whole, until the prompt fits. */
    DROP_OLDEST_TURNS,
    /**
     * Replace the oldest images outside the last user turn by the marker text until the prompt fits;
     * no turn is left out, so a prompt still too long with all of them replaced is refused.
     */
    DROP_OLDEST_IMAGES,
    /**
     * Replace the oldest images as {@link #DROP_OLDEST_IMAGES} does; if the prompt is still too long
     * with all of them replaced, also leave out the oldest turns as {@link #DROP_OLDEST_TURNS} does.
     */
    DROP_IMAGES_THEN_TURNS
  }

  /**
   * Checks the components.
   *
   * @param mode what to leave out
   * @param imageMarker the text that replaces a dropped image (non-null, at most 1000 characters)
   * @throws VlmInputException INVALID_OPTION if {@code mode} or {@code imageMarker} is null or the
   *     marker is longer than 1000 characters
   */
  public ContextPolicy {
    if (mode == null || imageMarker == null) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION,
          "a context policy needs a mode and an image marker, got mode " + mode + " and marker "
              + (imageMarker == null ? "null" : "\"" + imageMarker + "\""));
    }
    if (imageMarker.length() > 1000) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION,
          "the image marker is " + imageMarker.length() + " characters long; at most 1000 are accepted");
    }
  }

  /**
   * Leaves out the oldest turns.
   *
   * @return the {@link Mode#DROP_OLDEST_TURNS} policy
   */
  public static ContextPolicy dropOldestTurns() {
    return new ContextPolicy(Mode.DROP_OLDEST_TURNS, DEFAULT_IMAGE_MARKER);
  }

  /**
   * Replaces the oldest images by {@value #DEFAULT_IMAGE_MARKER}, refusing if that is not enough.
   *
   * @return the {@link Mode#DROP_OLDEST_IMAGES} policy with the default marker
   */
  public static ContextPolicy dropOldestImages() {
    return new ContextPolicy(Mode.DROP_OLDEST_IMAGES, DEFAULT_IMAGE_MARKER);
  }

  /**
   * Replaces the oldest images by {@value #DEFAULT_IMAGE_MARKER}, then leaves out the oldest turns.
   *
   * @return the {@link Mode#DROP_IMAGES_THEN_TURNS} policy with the default marker
   */
  public static ContextPolicy dropImagesThenTurns() {
    return new ContextPolicy(Mode.DROP_IMAGES_THEN_TURNS, DEFAULT_IMAGE_MARKER);
  }

  /**
   * Sets the text that replaces a dropped image.
   *
   * @param marker the text (non-null, at most 1000 characters; empty leaves no trace of the image)
   * @return a copy with that marker
   * @throws VlmInputException INVALID_OPTION for a null or too long marker
   */
  public ContextPolicy withImageMarker(String marker) {
    return new ContextPolicy(mode, marker);
  }

  /**
   * Tells whether this policy leaves out whole turns.
   *
   * @return true for {@link Mode#DROP_OLDEST_TURNS} and {@link Mode#DROP_IMAGES_THEN_TURNS}
   */
  boolean dropsTurns() {
    return mode == Mode.DROP_OLDEST_TURNS || mode == Mode.DROP_IMAGES_THEN_TURNS;
  }

  /**
   * Tells whether this policy replaces images.
   *
   * @return true for {@link Mode#DROP_OLDEST_IMAGES} and {@link Mode#DROP_IMAGES_THEN_TURNS}
   */
  boolean dropsImages() {
    return mode == Mode.DROP_OLDEST_IMAGES || mode == Mode.DROP_IMAGES_THEN_TURNS;
  }

  /**
   * Parses a policy name as the command line and the server accept it.
   *
   * @param name {@code refuse}, {@code drop_oldest_turns}, {@code drop_oldest_images} or {@code
   *     drop_images_then_turns} (case-insensitive, {@code -} for {@code _} accepted)
   * @return the policy with the default marker
   * @throws VlmInputException INVALID_OPTION for any other name
   */
  public static ContextPolicy parse(String name) {
    String n = name == null ? "" : name.trim().toUpperCase(java.util.Locale.ROOT).replace('-', '_');
    for (Mode m : Mode.values()) {
      if (m.name().equals(n)) {
        return new ContextPolicy(m, DEFAULT_IMAGE_MARKER);
      }
    }
    throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "unknown context policy "
        + (name == null ? "null" : "\"" + name + "\"") + "; expected one of refuse, drop_oldest_turns,"
        + " drop_oldest_images, drop_images_then_turns");
  }

  @Override
  public String toString() {
    return mode == Mode.REFUSE || !dropsImages() ? mode.name() : mode + "(marker \"" + imageMarker + "\")";
  }
}
