package io.github.vlm4j.langchain4j;

import dev.langchain4j.data.image.Image;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.core.prompt.Role;
import java.net.URI;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * LangChain4j messages to vlm4j messages: system, user (text and images) and AI (text) turns in
 * order. Everything else is refused with {@link UnsupportedFeatureException} naming it and its
 * position; malformed image data with {@link InvalidRequestException}. Stateless.
 */
final class Messages {
  static final String SUPPORTED_CONTENT = "vlm4j's models take text (TextContent) and images (ImageContent:"
      + " base64 data, data: URIs or file: URIs of local files) only";

  private static final Pattern WHITESPACE = Pattern.compile("\\s+");

  private Messages() {}

  /**
   * Converts a conversation.
   *
   * @param in the request's messages
   * @return the same turns as vlm4j messages
   * @throws UnsupportedFeatureException for tool messages, tool calls, custom messages and content
   *     other than text and images
   * @throws InvalidRequestException for an image that cannot be read as given
   */
  static List<Message> map(List<ChatMessage> in) {
    List<Message> out = new ArrayList<>(in.size());
    for (int i = 0; i < in.size(); i++) {
      out.add(message(in.get(i), "messages[" + i + "]"));
    }
    return out;
  }

  private static Message message(ChatMessage m, String where) {
    if (m instanceof SystemMessage s) {
      return Message.system(s.text());
    } else if (m instanceof UserMessage u) {
      List<Object> parts = new ArrayList<>();
      List<Content> contents = u.contents();
      for (int j = 0; j < contents.size(); j++) {
        parts.add(part(contents.get(j), where + ".contents[" + j + "]"));
      }
      return Message.of(Role.USER, parts.toArray());
    } else if (m instanceof AiMessage a) {
      if (a.hasToolExecutionRequests()) {
        throw new UnsupportedFeatureException(where + ": an AiMessage with tool execution requests is not supported:"
            + " vlm4j's chat models have no tools (function calling); send AI turns as text only");
      }
      return Message.assistant(a.text() == null ? "" : a.text());
    } else if (m instanceof ToolExecutionResultMessage) {
      throw new UnsupportedFeatureException(where + ": ToolExecutionResultMessage is not supported: vlm4j's chat"
          + " models have no tools (function calling)");
    }
    throw new UnsupportedFeatureException(where + ": " + (m == null ? "null" : m.getClass().getSimpleName())
        + " is not supported: expected SystemMessage, UserMessage or AiMessage (text)");
  }

  private static Object part(Content c, String where) {
    if (c instanceof TextContent t) {
      return t.text();
    } else if (c instanceof ImageContent i) {
      return image(i.image(), where);
    }
    throw new UnsupportedFeatureException(where + ": " + (c == null ? "null" : c.getClass().getSimpleName())
        + " is not supported: " + SUPPORTED_CONTENT);
  }

  private static ImageInput image(Image image, String where) {
    if (image.base64Data() != null) {
      return ImageInput.of(base64(image.base64Data(), image.mimeType(), where));
    }
    URI url = image.url();
    if (url == null) {
      throw new InvalidRequestException(where + ": expected an image with base64 data or a URL, found neither");
    }
    String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
    switch (scheme) {
      case "file" -> {
        try {
          return ImageInput.of(Path.of(url));
        } catch (IllegalArgumentException | FileSystemNotFoundException e) {
          throw new InvalidRequestException(where + ": expected a file: URI of a local file (file:///path), found "
              + printable(url.toString()) + ": " + e.getMessage(), e);
        }
      }
      case "data" -> {
        return dataUri(url.toString(), where);
      }
      case "http", "https" -> throw new UnsupportedFeatureException(where + ": image URL " + printable(url.toString())
          + " is not supported: vlm4j does not fetch remote images; fetch it yourself and pass"
          + " ImageContent.from(base64Data, mimeType), or a file: URI of a local copy");
      default -> throw new UnsupportedFeatureException(where + ": image URL scheme \"" + printable(scheme)
          + "\" is not supported: expected base64 data, a data: URI or a file: URI");
    }
  }

  private static ImageInput dataUri(String uri, String where) {
    int comma = uri.indexOf(',');
    String header = comma < 0 ? "" : uri.substring("data:".length(), comma);
    if (comma < 0 || !header.endsWith(";base64")) {
      throw new InvalidRequestException(where + ": expected a data URI of the form data:image/...;base64,...,"
          + " found " + printable(uri));
    }
    return ImageInput.of(base64(uri.substring(comma + 1), header.substring(0, header.length() - ";base64".length()),
        where));
  }

  private static byte[] base64(String data, String mimeType, String where) {
    if (mimeType != null && !mimeType.isEmpty() && !mimeType.toLowerCase(Locale.ROOT).startsWith("image/")) {
      throw new UnsupportedFeatureException(where + ": media type \"" + printable(mimeType) + "\" is not supported:"
          + " expected an image/* type (JPEG, PNG, GIF, BMP, TIFF, WebP, ICO or PNM)");
    }
    try {
      return Base64.getDecoder().decode(WHITESPACE.matcher(data).replaceAll(""));
    } catch (IllegalArgumentException e) {
      throw new InvalidRequestException(where + ": expected base64 image data, found data that does not decode: "
          + e.getMessage(), e);
    }
  }

  /** @return at most 80 chars of {@code s}, for messages */
  static String printable(String s) {
    String t = s.replaceAll("\\p{Cntrl}", "?");
    return t.length() > 80 ? t.substring(0, 77) + "..." : t;
  }
}
