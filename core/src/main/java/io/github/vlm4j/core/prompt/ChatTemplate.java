package io.github.vlm4j.core.prompt;

import com.fasterxml.jackson.databind.JsonNode;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.model.ModelFolder;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A model's own Jinja chat template ({@code tokenizer_config.json["chat_template"]}), rendered with
 * jinjava configured like HuggingFace transformers ({@code trim_blocks}, {@code lstrip_blocks}).
 *
 * <p>{@link #render} marks where the caller's text ended up in the output, so the prompt builder
 * can tokenize user text as text and only template text may produce special tokens. Images are
 * passed to the template as {@code {"type": "image"}} parts, text as {@code {"type": "text",
 * "text": ...}}; every message's {@code content} is a list, as VLM templates expect.
 *
 * <p>Immutable and thread-safe.
 */
public final class ChatTemplate {
  /** The file that holds the template in HuggingFace layouts. */
  public static final String TOKENIZER_CONFIG = "tokenizer_config.json";

  private static final SecureRandom NONCES = new SecureRandom();

  private final String template;
  private final Map<String, Object> specialTokens;
  private final Jinjava jinjava;

  /**
   * @param template the Jinja source
   * @param specialTokens variables such as {@code bos_token}, {@code eos_token} passed to the template
   */
  public ChatTemplate(String template, Map<String, String> specialTokens) {
    this.template = Objects.requireNonNull(template, "template");
    this.specialTokens = Map.copyOf(specialTokens);
    JinjavaConfig config = JinjavaConfig.newBuilder()
        .withTrimBlocks(true)
        .withLstripBlocks(true)
        .withFailOnUnknownTokens(false)
        .withLegacyOverrides(LegacyOverrides.newBuilder()
            .withUseNaturalOperatorPrecedence(true)
            .withParseWhitespaceControlStrictly(true)
            .withHandleBackslashInQuotesOnly(true)
            .withKeepNullableLoopValues(true)
            .build())
        .build();
    this.jinjava = new Jinjava(config);
    try {
      jinjava.registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class,
          "raiseException", String.class));
    } catch (RuntimeException e) {
      throw new IllegalStateException("cannot register raise_exception", e);
    }
  }

  /**
   * Reads the template of a HuggingFace folder from {@code tokenizer_config.json}: a string, or a
   * list of {@code {name, template}} of which {@code default} is used.
   *
   * @param folder the model folder
   * @return the template
   * @throws ModelLoadException MISSING_FILE or MALFORMED_CONFIG
   */
  public static ChatTemplate fromTokenizerConfig(ModelFolder folder) throws ModelLoadException {
    if (!folder.exists(TOKENIZER_CONFIG)) {
      throw new ModelLoadException(ModelLoadException.Reason.MISSING_FILE,
          "missing " + folder.describe(TOKENIZER_CONFIG) + "; it holds the chat template (\"chat_template\")");
    }
    JsonNode cfg = folder.readJson(TOKENIZER_CONFIG);
    JsonNode t = cfg.get("chat_template");
    String source = null;
    if (t != null && t.isTextual()) {
      source = t.asText();
    } else if (t != null && t.isArray()) {
      for (JsonNode entry : t) {
        if ("default".equals(entry.path("name").asText())) {
          source = entry.path("template").asText(null);
        }
      }
    }
    if (source == null || source.isBlank()) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
          folder.describe(TOKENIZER_CONFIG) + " has no \"chat_template\" string (or no template named \"default\")");
    }
    Map<String, String> special = new HashMap<>();
    for (String key : List.of("bos_token", "eos_token", "pad_token", "unk_token", "sep_token", "cls_token", "mask_token")) {
      JsonNode v = cfg.get(key);
      if (v != null && v.isTextual()) {
        special.put(key, v.asText());
      } else if (v != null && v.isObject() && v.path("content").isTextual()) {
        special.put(key, v.path("content").asText());
      }
    }
    return new ChatTemplate(source, special);
  }

  /** @return the Jinja source */
  public String source() {
    return template;
  }

  /**
   * Text of the rendered prompt with every piece marked as coming from the template or from a
   * caller's text part.
   *
   * @param segments the output in order
   * @param imageParts number of image parts passed to the template
   */
  public record Rendered(List<Segment> segments, int imageParts) {
    /** Copies the list. */
    public Rendered {
      segments = List.copyOf(segments);
    }

    /** @return the whole rendered string */
    public String text() {
      StringBuilder sb = new StringBuilder();
      segments.forEach(s -> sb.append(s.text()));
      return sb.toString();
    }
  }

  /**
   * A run of rendered text.
   *
   * @param text the text
   * @param fromCaller whether it is (part of) a caller's text part, which must stay text
   */
  public record Segment(String text, boolean fromCaller) {}

  /**
   * Renders messages.
   *
   * @param messages the conversation
   * @param addGenerationPrompt append the cue for the assistant's reply
   * @return the rendered prompt with caller text marked
   * @throws VlmInputException INVALID_PROMPT if there are no messages or the template rejects them
   */
  public Rendered render(List<Message> messages, boolean addGenerationPrompt) {
    if (messages.isEmpty()) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT, "a prompt needs at least one message");
    }
    String nonce;
    String open;
    String close;
    do {
      nonce = Long.toUnsignedString(NONCES.nextLong(), 36);
      open = "\uE000" + nonce + "\uE001";
      close = "\uE002" + nonce + "\uE003";
    } while (containsAny(messages, nonce));
    List<String> texts = new ArrayList<>();
    String marked = renderRaw(messages, addGenerationPrompt, texts, open, close);
    String plain = renderRaw(messages, addGenerationPrompt, null, null, null);
    int images = (int) messages.stream().flatMap(m -> m.content().stream()).filter(ImagePart.class::isInstance).count();
    List<Segment> segments = splitMarked(marked, open, close);
    if (segments != null && joined(segments).equals(plain)) {
      return new Rendered(merge(segments), images);
    }
    // The template transformed caller text (e.g. "| trim"): locate each text in the plain output.
    return new Rendered(merge(locate(plain, texts)), images);
  }

  /**
   * @param messages the conversation
   * @param addGenerationPrompt append the cue for the assistant's reply
   * @return the rendered prompt as a plain string (for display and debugging)
   */
  public String renderText(List<Message> messages, boolean addGenerationPrompt) {
    return render(messages, addGenerationPrompt).text();
  }

  private String renderRaw(List<Message> messages, boolean addGenerationPrompt, List<String> texts,
      String open, String close) {
    List<Map<String, Object>> msgs = new ArrayList<>();
    for (Message m : messages) {
      List<Map<String, Object>> content = new ArrayList<>();
      for (ContentPart p : m.content()) {
        Map<String, Object> part = new LinkedHashMap<>();
        if (p instanceof TextPart t) {
          part.put("type", "text");
          part.put("text", open == null ? t.text() : open + t.text() + close);
          if (texts != null) {
            texts.add(t.text());
          }
        } else {
          part.put("type", "image");
        }
        content.add(part);
      }
      Map<String, Object> msg = new LinkedHashMap<>();
      msg.put("role", m.role().templateName());
      msg.put("content", content);
      msgs.add(msg);
    }
    Map<String, Object> ctx = new HashMap<>(specialTokens);
    ctx.put("messages", msgs);
    ctx.put("add_generation_prompt", addGenerationPrompt);
    RenderResult r;
    try {
      r = jinjava.renderForResult(template, ctx);
    } catch (TemplateRaised e) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT,
          "the chat template rejected the messages: " + e.getMessage(), e);
    }
    for (TemplateError e : r.getErrors()) {
      Throwable cause = e.getException();
      while (cause != null && !(cause instanceof TemplateRaised)) {
        cause = cause.getCause();
      }
      if (cause != null) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT,
            "the chat template rejected the messages: " + cause.getMessage(), cause);
      }
      if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT,
            "the chat template failed at line " + e.getLineno() + ": " + e.getMessage());
      }
    }
    return r.getOutput();
  }

  private static boolean containsAny(List<Message> messages, String nonce) {
    return messages.stream().flatMap(m -> m.content().stream())
        .anyMatch(p -> p instanceof TextPart t && t.text().contains(nonce));
  }

  private static List<Segment> splitMarked(String s, String open, String close) {
    List<Segment> out = new ArrayList<>();
    int i = 0;
    while (i < s.length()) {
      int o = s.indexOf(open, i);
      int c = s.indexOf(close, i);
      if (o < 0) {
        if (c >= 0) {
          return null;
        }
        out.add(new Segment(s.substring(i), false));
        break;
      }
      if (c >= 0 && c < o) {
        return null;
      }
      out.add(new Segment(s.substring(i, o), false));
      int end = s.indexOf(close, o + open.length());
      if (end < 0) {
        return null;
      }
      String inner = s.substring(o + open.length(), end);
      if (inner.contains(open)) {
        return null;
      }
      out.add(new Segment(inner, true));
      i = end + close.length();
    }
    return out;
  }

  private static List<Segment> locate(String plain, List<String> texts) {
    List<Segment> out = new ArrayList<>();
    int cursor = 0;
    for (String t : texts) {
      for (String candidate : new String[] {t, t.strip()}) {
        if (candidate.isEmpty()) {
          break;
        }
        int at = plain.indexOf(candidate, cursor);
        if (at >= 0) {
          out.add(new Segment(plain.substring(cursor, at), false));
          out.add(new Segment(candidate, true));
          cursor = at + candidate.length();
          break;
        }
      }
    }
    out.add(new Segment(plain.substring(cursor), false));
    return out;
  }

  private static String joined(List<Segment> segments) {
    StringBuilder sb = new StringBuilder();
    segments.forEach(s -> sb.append(s.text()));
    return sb.toString();
  }

  private static List<Segment> merge(List<Segment> in) {
    List<Segment> out = new ArrayList<>();
    for (Segment s : in) {
      if (s.text().isEmpty()) {
        continue;
      }
      if (!out.isEmpty() && out.get(out.size() - 1).fromCaller() == s.fromCaller()) {
        Segment last = out.remove(out.size() - 1);
        out.add(new Segment(last.text() + s.text(), s.fromCaller()));
      } else {
        out.add(s);
      }
    }
    return out;
  }

  /**
   * The {@code raise_exception(message)} function HuggingFace templates call to reject input.
   *
   * @param message the template's message
   * @return never returns
   */
  public static String raiseException(String message) {
    throw new TemplateRaised(message);
  }

  /** Thrown by {@code raise_exception} inside a template. */
  static final class TemplateRaised extends RuntimeException {
    private static final long serialVersionUID = 1L;

    TemplateRaised(String message) {
      super(message);
    }
  }
}
