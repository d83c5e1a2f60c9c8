package io.github.vlm4j.core.prompt;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One chat turn: a role and an ordered list of text and image parts.
 *
 * <pre>{@code
 * Message.user(ImageInput.of(Path.of("part.png")), "Is this part ok or defective?")
 * }</pre>
 *
 * @param role who speaks
 * @param content text and image parts in order
 */
public record Message(Role role, List<ContentPart> content) {
  /**
   * Copies the list; rejects nulls.
   *
   * @param role who speaks
   * @param content text and image parts in order (copied)
   */
  public Message {
    Objects.requireNonNull(role, "role");
    content = List.copyOf(content);
  }

  /**
   * A user turn from mixed parts: {@link ContentPart}s, {@link ImageInput}s and {@link String}s, in
   * order.
   *
   * @param parts the parts
   * @return the message
   */
  public static Message user(Object... parts) {
    return of(Role.USER, parts);
  }

  /**
   * @param text the assistant's reply
   * @return the message
   */
  public static Message assistant(String text) {
    return new Message(Role.ASSISTANT, List.of(new TextPart(text)));
  }

  /**
   * @param text system instructions
   * @return the message
   */
  public static Message system(String text) {
    return new Message(Role.SYSTEM, List.of(new TextPart(text)));
  }

  /**
   * @param role who speaks
   * @param parts {@link ContentPart}s, {@link ImageInput}s and {@link String}s, in order
   * @return the message
   */
  public static Message of(Role role, Object... parts) {
    List<ContentPart> out = new ArrayList<>();
    for (Object p : parts) {
      if (p instanceof ContentPart c) {
        out.add(c);
      } else if (p instanceof ImageInput i) {
        out.add(new ImagePart(i));
      } else if (p instanceof String s) {
        out.add(new TextPart(s));
      } else {
        throw new IllegalArgumentException("message parts must be ContentPart, ImageInput or String, got "
            + (p == null ? "null" : p.getClass().getName()));
      }
    }
    return new Message(role, out);
  }

  /** @return the images of this message, in order */
  public List<ImageInput> images() {
    return content.stream().filter(ImagePart.class::isInstance).map(p -> ((ImagePart) p).image()).toList();
  }

  /** @return the text parts concatenated */
  public String text() {
    StringBuilder sb = new StringBuilder();
    content.stream().filter(TextPart.class::isInstance).forEach(p -> sb.append(((TextPart) p).text()));
    return sb.toString();
  }
}
