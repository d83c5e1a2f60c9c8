package io.github.vlm4j.langchain4j;

import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.ToolChoice;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.constraint.OutputConstraint;
import java.util.List;

/**
 * A LangChain4j chat request as the vlm4j messages and generation settings of one request.
 *
 * <p>Parameters: {@code maxOutputTokens} (default: the builder's), {@code temperature} (null or 0 =
 * greedy, above 0 samples), {@code topP} and {@code topK} (only when sampling), {@code
 * stopSequences}, {@code responseFormat} (JSON with a schema: {@link OutputConstraint#jsonSchema};
 * JSON without one: {@link OutputConstraint#jsonObject()}), {@code frequencyPenalty} and {@code
 * presencePenalty} (OpenAI's semantics, in [-2, 2], greedy decoding too). Refused with {@link
 * UnsupportedFeatureException}: tool specifications, {@code toolChoice} REQUIRED, and a
 * {@code modelName} other than the model id.
 */
final class RequestMapping {
  private RequestMapping() {}

  /**
   * The mapped request.
   *
   * @param messages the conversation
   * @param config the generation settings
   */
  record Mapped(List<Message> messages, GenerationConfig config) {}

  /**
   * Maps a request, its parameters defaulted by the builder's.
   *
   * @param request a LangChain4j request
   * @param s the chat model's settings
   * @return messages and settings
   * @throws UnsupportedFeatureException for a parameter or content vlm4j does not support
   * @throws VlmInputException INVALID_OPTION for a value out of range
   */
  static Mapped map(ChatRequest request, Settings s) {
    ChatRequestParameters p = s.defaults().overrideWith(request.parameters());
    if (p.modelName() != null && !p.modelName().equals(s.modelId())) {
      throw new UnsupportedFeatureException("modelName \"" + Messages.printable(p.modelName()) + "\" is not"
          + " supported: this chat model runs \"" + s.modelId() + "\" only");
    }
    if (p.toolSpecifications() != null && !p.toolSpecifications().isEmpty()) {
      throw new UnsupportedFeatureException("toolSpecifications are not supported: vlm4j's chat models have no"
          + " tools (function calling); found " + p.toolSpecifications().size() + " tool(s)");
    }
    if (p.toolChoice() == ToolChoice.REQUIRED) {
      throw new UnsupportedFeatureException("toolChoice REQUIRED is not supported: vlm4j's chat models have no tools");
    }
    List<Message> messages = Messages.map(request.messages());
    int maxTokens = p.maxOutputTokens() == null ? s.maxTokens() : p.maxOutputTokens();
    GenerationConfig config = config(s, maxTokens, p.temperature(), p.topP(), p.topK(), p.stopSequences(),
        constraint(p.responseFormat(), s.strictJsonSchema()));
    if (p.frequencyPenalty() != null || p.presencePenalty() != null) {
      GenerationConfig.Builder b = config.toBuilder();
      if (p.frequencyPenalty() != null) {
        b.frequencyPenalty(p.frequencyPenalty());
      }
      if (p.presencePenalty() != null) {
        b.presencePenalty(p.presencePenalty());
      }
      config = b.build();
    }
    return new Mapped(messages, config);
  }

  /**
   * Maps a response format to a constraint.
   *
   * @param f the format, or null
   * @param strict require every declared property (see {@link JsonSchemas})
   * @return the constraint, or null for text
   */
  static OutputConstraint constraint(ResponseFormat f, boolean strict) {
    if (f == null || f.type() != ResponseFormatType.JSON) {
      return null;
    }
    if (f.jsonSchema() == null || f.jsonSchema().rootElement() == null) {
      return OutputConstraint.jsonObject();
    }
    return OutputConstraint.jsonSchema(JsonSchemas.toJson(f.jsonSchema().rootElement(), strict));
  }

  /**
   * Builds the generation settings; every value is checked by {@link GenerationConfig}.
   *
   * @param s the chat model's settings (seed)
   * @param maxTokens new-token limit
   * @param temperature null or 0 = greedy
   * @param topP top-p when sampling, or null
   * @param topK top-k when sampling, or null
   * @param stop stop strings, or null
   * @param constraint output constraint, or null
   * @return the settings
   * @throws VlmInputException INVALID_OPTION naming a value out of range
   */
  static GenerationConfig config(Settings s, int maxTokens, Double temperature, Double topP, Integer topK,
      List<String> stop, OutputConstraint constraint) {
    GenerationConfig.Builder b = GenerationConfig.builder().maxNewTokens(maxTokens);
    if (temperature != null && temperature != 0) {
      b.temperature(temperature);
      if (topP != null) {
        b.topP(topP);
      }
      if (topK != null) {
        b.topK(topK);
      }
      s.seed().ifPresent(b::seed);
    } else if (temperature != null && temperature < 0) {
      b.temperature(temperature); // refused with INVALID_OPTION naming the value
    }
    if (stop != null && !stop.isEmpty()) {
      b.stopStrings(stop);
    }
    if (constraint != null) {
      b.constraint(constraint);
    }
    return b.build();
  }
}
