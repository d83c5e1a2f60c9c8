package io.github.vlm4j.langchain4j;

import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.util.List;
import java.util.Set;

/**
 * A LangChain4j {@link ChatModel} running a {@link VisionLanguageModel} in this JVM.
 *
 * <pre>{@code
 * ChatModel chat = Vlm4jChatModel.builder().model(model).maxTokens(64).build();
 * ChatResponse r = chat.chat(UserMessage.from(ImageContent.from(base64Png, "image/png"),
 *     TextContent.from("Is this part ok or defective?")));
 * }</pre>
 *
 * <p><b>Messages</b>: {@code SystemMessage}; {@code UserMessage} with {@code TextContent} and
 * {@code ImageContent} in order (base64 data with an {@code image/*} or no mime type, {@code data:}
 * URIs, and {@code file:} URIs of local files, read by this process when the request runs: pass
 * only paths you trust); {@code AiMessage} text for earlier turns. Refused with LangChain4j's
 * {@link UnsupportedFeatureException}, naming the message and what is supported: {@code http(s)}
 * image URLs (vlm4j never reaches the network), audio, video and PDF content, tool specifications,
 * tool execution requests and results, custom messages. The image detail level and user names are
 * ignored.
 *
 * <p><b>Parameters</b> (the builder's are the defaults, {@link #defaultRequestParameters()}):
 * {@code maxOutputTokens}; {@code temperature} (null or 0 decodes greedily, unlike most providers'
 * default of 1: answers are reproducible unless you ask for sampling); {@code topP} and {@code topK}
 * (applied only when sampling); {@code stopSequences}; {@code responseFormat} JSON with a schema
 * (constrained decoding: the text is valid under the schema unless the token limit comes first,
 * then the finish reason is {@code LENGTH}) or without one (one JSON object); {@code modelName}
 * must be absent or the model id; {@code frequencyPenalty} and {@code presencePenalty} with
 * OpenAI's semantics (in [-2, 2], counted over the generated tokens). Tools are refused with
 * {@link UnsupportedFeatureException}. The seed, adapter and image splitting are set
 * on the builder for every request.
 *
 * <p><b>Errors</b>: the library's {@link VlmInputException} (a corrupt image, a prompt too long, an
 * option out of range, a schema keyword outside the subset, ...) becomes LangChain4j's {@link
 * InvalidRequestException} with the library's exception, and its {@code reason()}, as the cause; a
 * closed model or a failed inference becomes a {@code LangChain4jException} with the cause.
 *
 * <p><b>Threads and ownership</b>: thread-safe; each call runs on the calling thread in its own
 * {@code GenerationSession}, and calls at the same time share decoder steps (the library's
 * continuous batching). The model is not owned unless {@link Builder#ownsModel(boolean)} says so:
 * {@link #close()} then closes it, otherwise it does nothing and the model stays yours to close.
 */
public final class Vlm4jChatModel implements ChatModel, AutoCloseable {
  private final Settings settings;

  private Vlm4jChatModel(Settings settings) {
    this.settings = settings;
  }

  /**
   * Starts a builder.
   *
   * @return a builder; {@link Builder#model(VisionLanguageModel)} is required
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Runs one request on the calling thread. {@link ChatModel#chat(ChatRequest)} calls it with the
   * request's parameters over {@link #defaultRequestParameters()}, and notifies listeners.
   *
   * @param request the request
   * @return the response, with {@link Vlm4jChatResponseMetadata}
   * @throws UnsupportedFeatureException for content or parameters vlm4j does not support
   * @throws InvalidRequestException for input the library refuses (the cause says why)
   */
  @Override
  public ChatResponse doChat(ChatRequest request) {
    try {
      RequestMapping.Mapped m = RequestMapping.map(request, settings);
      GenerationResult r = settings.model().generate(m.messages(), m.config(), settings.options(),
          TokenStreamer.none());
      return Responses.of(r, settings.modelId());
    } catch (RuntimeException e) {
      throw Responses.translate(e);
    }
  }

  /**
   * Returns the builder's settings as request parameters.
   *
   * @return model id, token limit, temperature, top-p, top-k and stop strings
   */
  @Override
  public ChatRequestParameters defaultRequestParameters() {
    return settings.defaults();
  }

  /**
   * Says what this model supports beyond text: JSON schema response formats (so LangChain4j's
   * {@code AiServices} asks for structured output by schema instead of by prompt instructions).
   *
   * @return {@link Capability#RESPONSE_FORMAT_JSON_SCHEMA}
   */
  @Override
  public Set<Capability> supportedCapabilities() {
    return Set.of(Capability.RESPONSE_FORMAT_JSON_SCHEMA);
  }

  /**
   * Returns the builder's listeners.
   *
   * @return the listeners LangChain4j notifies, on the calling thread
   */
  @Override
  public List<ChatModelListener> listeners() {
    return settings.listeners();
  }

  /**
   * Returns the id this model reports.
   *
   * @return the model id (the builder's, or the model folder's name)
   */
  public String modelId() {
    return settings.modelId();
  }

  /** Closes the model if this chat model owns it ({@link Builder#ownsModel(boolean)}); otherwise does nothing. */
  @Override
  public void close() {
    if (settings.ownsModel()) {
      settings.model().close();
    }
  }

  @Override
  public String toString() {
    return "Vlm4jChatModel[" + settings.modelId() + "]";
  }

  /** Builds a {@link Vlm4jChatModel}. Not thread-safe. */
  public static final class Builder extends BaseBuilder<Builder> {
    private Builder() {}

    /**
     * Builds the chat model.
     *
     * @return the chat model
     * @throws IllegalStateException without a model
     * @throws VlmInputException INVALID_OPTION for a setting out of range, naming it
     */
    public Vlm4jChatModel build() {
      return new Vlm4jChatModel(settings());
    }
  }
}
