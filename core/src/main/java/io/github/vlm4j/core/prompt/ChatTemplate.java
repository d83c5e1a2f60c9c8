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
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * A model's own Jinja chat template ({@code tokenizer_config.json["chat_template"]}), rendered with
 * jinjava configured like HuggingFace transformers ({@code trim_blocks}, {@code lstrip_blocks}).
 *
 * <p><b>Caller text is data, never template source.</b> jinjava's nested interpretation is off, so
 * text such as <code>{{ 7*7 }}</code> in a message stays those characters. {@link #render} finds
 * where each caller text part ended up <em>by construction</em>: the template is rendered once with a
 * unique placeholder in place of each text part, and once with the real texts; the second output
 * must equal the first with every placeholder replaced by its text (or by that text with surrounding
 * whitespace removed, for templates that {@code trim} it). Caller text is marked as such and is never
 * split at special tokens by {@link PromptAssembler}. A template that transforms caller text in any
 * other way (slices, upper-cases, or branches on its content) cannot be tracked and is refused with
 * {@link VlmInputException.Reason#INVALID_PROMPT} rather than risk treating caller text as template
 * text.
 *
 * <p><b>Bounded rendering.</b> Each render visits at most {@value #MAX_RENDER_NODES} template nodes,
 * runs at most {@value #MAX_RENDER_MILLIS} ms, writes at most {@value #MAX_OUTPUT_CHARS} characters and
 * checks the caller's cancellation signal at every node; a template longer than {@value
 * #MAX_TEMPLATE_CHARS} characters is refused at load.
 *
 * <p>Images are passed to the template as {@code {"type": "image"}} parts, text as {@code {"type":
 * "text", "text": ...}}; every message's {@code content} is a list, as VLM templates expect.
 *
 * <p>Immutable and thread-safe.
 */
public final class ChatTemplate {
  /** The file that holds the template in HuggingFace layouts. */
  public static final String TOKENIZER_CONFIG = "tokenizer_config.json";
  /** The file newer HuggingFace folders keep the chat template in, beside {@link #TOKENIZER_CONFIG}. */
  public static final String TEMPLATE_FILE = "chat_template.jinja";
  /** Longest accepted template source (real chat templates are under 50,000 characters). */
  public static final int MAX_TEMPLATE_CHARS = 1 << 20;
  /** Most template nodes one render may visit (loops count every iteration). */
  public static final int MAX_RENDER_NODES = 2_000_000;
  /** Longest one render may run, in milliseconds. */
  public static final long MAX_RENDER_MILLIS = 10_000;
  /** Longest rendered prompt, in characters. */
  public static final int MAX_OUTPUT_CHARS = 64 << 20;

  private static final SecureRandom NONCES = new SecureRandom();
  /** The budget of the render running on this thread (jinjava calls the node hook on the caller's thread). */
  private static final ThreadLocal<RenderBudget> BUDGET = new ThreadLocal<>();

  private final String template;
  private final Map<String, Object> specialTokens;
  private final Jinjava jinjava;

  /**
   * Compiles a chat template.
   *
   * @param template the Jinja source (trusted: it comes from the model folder)
   * @param specialTokens variables such as {@code bos_token}, {@code eos_token} passed to the template
   * @throws IllegalArgumentException if the template is longer than {@link #MAX_TEMPLATE_CHARS}
   */
  public ChatTemplate(String template, Map<String, String> specialTokens) {
    this.template = Objects.requireNonNull(template, "template");
    if (template.length() > MAX_TEMPLATE_CHARS) {
      throw new IllegalArgumentException("a chat template has at most " + MAX_TEMPLATE_CHARS
          + " characters, this one has " + template.length());
    }
    this.specialTokens = Map.copyOf(specialTokens);
    JinjavaConfig config = JinjavaConfig.newBuilder()
        .withTrimBlocks(true)
        .withLstripBlocks(true)
        .withFailOnUnknownTokens(false)
        .withNestedInterpretationEnabled(false)   // values are never re-parsed as templates
        .withMaxOutputSize(MAX_OUTPUT_CHARS)
        .withMaxStringLength(MAX_OUTPUT_CHARS)
        .withMaxListSize(1_000_000)
        .withMaxMapSize(1_000_000)
        .withMaxMacroRecursionDepth(64)
        .withNodePreProcessor((node, interpreter) -> {
          RenderBudget budget = BUDGET.get();
          if (budget != null) {
            budget.visit();
          }
        })
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
        if ("default".equals(entry.path("name").asText()) && entry.path("template").isTextual()) {
          source = entry.path("template").asText();
        }
      }
    }
    if (source == null || source.isBlank()) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
          folder.describe(TOKENIZER_CONFIG) + " has no \"chat_template\" string (or no template named \"default\")");
    }
    return withSpecialTokens(source, cfg, folder.describe(TOKENIZER_CONFIG));
  }

  /**
   * Reads the template of a HuggingFace folder from {@value #TEMPLATE_FILE} when the folder has one
   * (as newer exports and transformers.js processors with {@code uses_chat_template_file} store
   * it), else from {@code tokenizer_config.json} ({@link #fromTokenizerConfig}). Special tokens come
   * from {@code tokenizer_config.json} either way.
   *
   * @param folder the model folder
   * @return the template
   * @throws ModelLoadException MISSING_FILE or MALFORMED_CONFIG (a template file that is not UTF-8,
   *     is blank or longer than {@value #MAX_TEMPLATE_CHARS} characters)
   */
  public static ChatTemplate fromFolder(ModelFolder folder) throws ModelLoadException {
    if (!folder.exists(TEMPLATE_FILE)) {
      return fromTokenizerConfig(folder);
    }
    if (!folder.exists(TOKENIZER_CONFIG)) {
      throw new ModelLoadException(ModelLoadException.Reason.MISSING_FILE,
          "missing " + folder.describe(TOKENIZER_CONFIG) + "; it holds the special tokens the chat template uses");
    }
    byte[] bytes = folder.readBytes(TEMPLATE_FILE, 4L * MAX_TEMPLATE_CHARS);
    String source;
    try {
      source = java.nio.charset.StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
          .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
          .decode(java.nio.ByteBuffer.wrap(bytes)).toString();
    } catch (java.nio.charset.CharacterCodingException e) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
          folder.describe(TEMPLATE_FILE) + " is not UTF-8 text", e);
    }
    if (source.isBlank()) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, folder.describe(TEMPLATE_FILE) + " is empty");
    }
    return withSpecialTokens(source, folder.readJson(TOKENIZER_CONFIG), folder.describe(TEMPLATE_FILE));
  }

  private static ChatTemplate withSpecialTokens(String source, JsonNode cfg, String where) throws ModelLoadException {
    if (source.length() > MAX_TEMPLATE_CHARS) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
          where + " has a chat template of " + source.length()
              + " characters; at most " + MAX_TEMPLATE_CHARS + " are accepted");
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

  /**
   * Returns the template's Jinja source.
   *
   * @return the Jinja source
   */
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
    /**
     * Copies the list.
     *
     * @param segments the output in order (copied)
     * @param imageParts number of image parts passed to the template
     */
    public Rendered {
      segments = List.copyOf(segments);
    }

    /**
     * Joins the segments' text.
     *
     * @return the whole rendered string
     */
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
   * Renders messages (not cancellable; see {@link #render(List, boolean, BooleanSupplier)}).
   *
   * @param messages the conversation
   * @param addGenerationPrompt append the cue for the assistant's reply
   * @return the rendered prompt with caller text marked
   * @throws VlmInputException INVALID_PROMPT if there are no messages, the template rejects them or
   *     transforms caller text untrackably; PROMPT_TOO_LONG if the output exceeds its bound
   */
  public Rendered render(List<Message> messages, boolean addGenerationPrompt) {
    return render(messages, addGenerationPrompt, () -> false);
  }

  /**
   * Renders messages, checking {@code cancelled} at every template node.
   *
   * @param messages the conversation
   * @param addGenerationPrompt append the cue for the assistant's reply
   * @param cancelled polled during rendering; when it returns true the render stops
   * @return the rendered prompt with caller text marked
   * @throws VlmInputException INVALID_PROMPT if there are no messages, the template rejects them,
   *     exceeds its node or time budget, or transforms caller text untrackably; PROMPT_TOO_LONG if the
   *     output exceeds {@link #MAX_OUTPUT_CHARS}
   * @throws CancellationException if {@code cancelled} returned true
   */
  public Rendered render(List<Message> messages, boolean addGenerationPrompt, BooleanSupplier cancelled) {
    if (messages.isEmpty()) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT, "a prompt needs at least one message");
    }
    String nonce;
    do {
      nonce = Long.toUnsignedString(NONCES.nextLong(), 36);
    } while (containsAny(messages, nonce));
    String open = "\uE000" + nonce + ":";
    String close = "\uE001";
    List<String> texts = new ArrayList<>();
    String withPlaceholders = renderRaw(messages, addGenerationPrompt, texts, open, close, cancelled);
    String plain = renderRaw(messages, addGenerationPrompt, null, null, null, cancelled);
    int images = (int) messages.stream().flatMap(m -> m.content().stream()).filter(ImagePart.class::isInstance).count();
    List<Segment> segments = CallerTextLocator.locate(withPlaceholders, open, close, texts, plain);
    if (segments == null) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT,
          "this model's chat template changes message text in a way vlm4j cannot track (more than trimming"
              + " whitespace, or it branches on the text); refusing the prompt rather than risk reading message"
              + " text as template text");
    }
    return new Rendered(merge(segments), images);
  }

  /**
   * Renders messages to a plain string.
   *
   * @param messages the conversation
   * @param addGenerationPrompt append the cue for the assistant's reply
   * @return the rendered prompt as a plain string (for display and debugging)
   */
  public String renderText(List<Message> messages, boolean addGenerationPrompt) {
    return render(messages, addGenerationPrompt).text();
  }

  /**
   * Renders with text part k replaced by {@code open + k + close} (when {@code texts} is given, the
   * texts are collected there in order), or with the real texts.
   */
  private String renderRaw(List<Message> messages, boolean addGenerationPrompt, List<String> texts,
      String open, String close, BooleanSupplier cancelled) {
    List<Map<String, Object>> msgs = new ArrayList<>();
    for (Message m : messages) {
      List<Map<String, Object>> content = new ArrayList<>();
      for (ContentPart p : m.content()) {
        Map<String, Object> part = new LinkedHashMap<>();
        if (p instanceof TextPart t) {
          part.put("type", "text");
          if (texts != null) {
            part.put("text", open + texts.size() + close);
            texts.add(t.text());
          } else {
            part.put("text", t.text());
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
    RenderBudget budget = new RenderBudget(cancelled);
    BUDGET.set(budget);
    try {
      r = jinjava.renderForResult(template, ctx);
    } catch (TemplateRaised e) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT,
          "the chat template rejected the messages: " + e.getMessage(), e);
    } catch (RenderStopped e) {
      throw e.toPublic();
    } catch (RuntimeException | StackOverflowError e) {
      RenderStopped stop = find(e, RenderStopped.class);
      if (stop != null) {
        throw stop.toPublic();
      }
      throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT,
          "the chat template failed: " + e, e);
    } finally {
      BUDGET.remove();
    }
    for (TemplateError e : r.getErrors()) {
      RenderStopped stop = find(e.getException(), RenderStopped.class);
      if (stop != null) {
        throw stop.toPublic();
      }
      TemplateRaised raised = find(e.getException(), TemplateRaised.class);
      if (raised != null) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT,
            "the chat template rejected the messages: " + raised.getMessage(), raised);
      }
      if (e.getReason() == TemplateError.ErrorReason.OUTPUT_TOO_BIG) {
        throw new VlmInputException(VlmInputException.Reason.PROMPT_TOO_LONG,
            "the rendered prompt is longer than " + MAX_OUTPUT_CHARS + " characters");
      }
      if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT,
            "the chat template failed at line " + e.getLineno() + ": " + e.getMessage());
      }
    }
    return r.getOutput();
  }

  private static <T extends Throwable> T find(Throwable t, Class<T> type) {
    for (int depth = 0; t != null && depth < 32; depth++, t = t.getCause()) {
      if (type.isInstance(t)) {
        return type.cast(t);
      }
    }
    return null;
  }

  private static boolean containsAny(List<Message> messages, String nonce) {
    return messages.stream().flatMap(m -> m.content().stream())
        .anyMatch(p -> p instanceof TextPart t && t.text().contains(nonce));
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

  /** Node, time and cancellation budget of one render; used by one thread. */
  private static final class RenderBudget {
    private final BooleanSupplier cancelled;
    private final long deadline = System.nanoTime() + MAX_RENDER_MILLIS * 1_000_000L;
    private int nodes;

    RenderBudget(BooleanSupplier cancelled) {
      this.cancelled = cancelled;
    }

    void visit() {
      if (++nodes > MAX_RENDER_NODES) {
        throw new RenderStopped(RenderStopped.Why.NODES);
      }
      if ((nodes & 63) == 0 || nodes < 64) {
        if (cancelled.getAsBoolean()) {
          throw new RenderStopped(RenderStopped.Why.CANCELLED);
        }
        if (System.nanoTime() - deadline > 0) {
          throw new RenderStopped(RenderStopped.Why.TIME);
        }
      }
    }
  }

  /** Thrown inside jinjava by the node hook; turned into the public exception after the render. */
  private static final class RenderStopped extends RuntimeException {
    private static final long serialVersionUID = 1L;

    enum Why { NODES, TIME, CANCELLED }

    private final Why why;

    RenderStopped(Why why) {
      super(why.name(), null, false, false);
      this.why = why;
    }

    RuntimeException toPublic() {
      return switch (why) {
        case CANCELLED -> new CancellationException("rendering the chat template was cancelled");
        case NODES -> new VlmInputException(VlmInputException.Reason.INVALID_PROMPT,
            "the chat template visited more than " + MAX_RENDER_NODES + " nodes for this prompt; refused");
        case TIME -> new VlmInputException(VlmInputException.Reason.INVALID_PROMPT,
            "the chat template ran longer than " + MAX_RENDER_MILLIS + " ms for this prompt; refused");
      };
    }
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
