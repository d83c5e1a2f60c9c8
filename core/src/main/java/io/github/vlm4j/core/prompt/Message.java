package io.github.vlm4j.core.prompt;

import io.github.vlm4j.core.VlmInputException;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
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
   * A user turn from mixed parts, in order: {@link String}s are text; {@link ImageInput}s, {@link
   * Path}s (image files), {@code byte[]}s (encoded images) and {@link BufferedImage}s are images;
   * {@link ContentPart}s are taken as they are.
   *
   * @param parts the parts
   * @return the message
   * @throws VlmInputException INVALID_PROMPT for a null or any other kind of part, naming its type
   */
  public static Message user(Object... parts) {
    return of(Role.USER, parts);
  }

  /**
   * Creates an assistant message holding text.
   *
   * @param text the assistant's reply
   * @return the message
   */
  public static Message assistant(String text) {
    return new Message(Role.ASSISTANT, List.of(new TextPart(text)));
  }

  /**
   * Creates a system message holding text.
   *
   * @param text system instructions
   * @return the message
   */
  public static Message system(String text) {
    return new Message(Role.SYSTEM, List.of(new TextPart(text)));
  }

  /**
   * A turn from mixed parts, converted as {@link #user(Object...)} converts them.
   *
   * @param role who speaks
   * @param parts text and image parts, in order
   * @return the message
   * @throws VlmInputException INVALID_PROMPT for a null or any other kind of part, naming its type
   */
  public static Message of(Role role, Object... parts) {
    if (parts == null) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT, "message parts must not be null");
    }
    List<ContentPart> out = new ArrayList<>();
    for (int i = 0; i < parts.length; i++) {
      out.add(part(parts[i], i));
    }
    return new Message(role, out);
  }

  private static ContentPart part(Object p, int index) {
    if (p instanceof ContentPart c) {
      return c;
    } else if (p instanceof String s) {
      return new TextPart(s);
    } else if (p instanceof ImageInput i) {
      return new ImagePart(i);
    } else if (p instanceof Path path) {
      return new ImagePart(ImageInput.of(path));
    } else if (p instanceof byte[] bytes) {
      return new ImagePart(ImageInput.of(bytes));
    } else if (p instanceof BufferedImage image) {
      return new ImagePart(ImageInput.of(image));
    }
    throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT, "message part " + index
        + " must be text (String) or an image (ImageInput, Path, byte[] or BufferedImage), found "
        + (p == null ? "null" : p.getClass().getName()));
  }

  /**
   * Returns the image parts of this message.
   *
   * @return the images of this message, in order
   */
  public List<ImageInput> images() {
    return content.stream().filter(ImagePart.class::isInstance).map(p -> ((ImagePart) p).image()).toList();
  }

  /**
   * Returns the text of this message.
   *
   * @return the text parts concatenated
   */
  public String text() {
    StringBuilder sb = new StringBuilder();
    content.stream().filter(TextPart.class::isInstance).forEach(p -> sb.append(((TextPart) p).text()));
    return sb.toString();
  }
}
