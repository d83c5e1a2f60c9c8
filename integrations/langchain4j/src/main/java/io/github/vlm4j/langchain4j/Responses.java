package io.github.vlm4j.langchain4j;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.LangChain4jException;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.ModelClosedException;
import io.github.vlm4j.core.Usage;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.decoder.generation.GenerationResult;

/** Library results and exceptions as LangChain4j responses and exceptions. Stateless. */
final class Responses {
  private Responses() {}

  /**
   * Makes the response of a result.
   *
   * @param r the library's result
   * @param modelId the model id to report
   * @return the response: the text as an {@link AiMessage}, token usage (prompt with image tokens,
   *     generated with the stopping token, their sum), the finish reason and {@link
   *     Vlm4jChatResponseMetadata}
   */
  static ChatResponse of(GenerationResult r, String modelId) {
    Usage u = r.usage();
    TokenUsage usage = new TokenUsage(u.promptTokens(), u.generatedTokens(), u.promptTokens() + u.generatedTokens());
    return ChatResponse.builder().aiMessage(AiMessage.from(r.text()))
        .metadata(Vlm4jChatResponseMetadata.builder(r).modelName(modelId).tokenUsage(usage)
            .finishReason(finishReason(r.finishReason())).build())
        .build();
  }

  /**
   * Maps the library's finish reason.
   *
   * @param f the library's reason
   * @return EOS and stop strings: STOP; the token limit: LENGTH; a cancelled request: OTHER
   */
  static FinishReason finishReason(io.github.vlm4j.decoder.generation.FinishReason f) {
    return switch (f) {
      case EOS, STOP_STRING -> FinishReason.STOP;
      case LENGTH -> FinishReason.LENGTH;
      case CANCELLED -> FinishReason.OTHER;
    };
  }

  /**
   * Translates a library exception into LangChain4j's hierarchy, keeping it as the cause.
   *
   * @param e what a request threw
   * @return {@link InvalidRequestException} for a {@link VlmInputException} (its {@code reason()} on
   *     the cause), {@link LangChain4jException} for {@link ModelClosedException} and {@link
   *     InferenceException}; LangChain4j's own exceptions and anything else as they are
   */
  static RuntimeException translate(RuntimeException e) {
    if (e instanceof LangChain4jException) {
      return e;
    } else if (e instanceof VlmInputException) {
      return new InvalidRequestException(e.getMessage(), e);
    } else if (e instanceof ModelClosedException || e instanceof InferenceException) {
      return new LangChain4jException(e.getMessage(), e);
    }
    return e;
  }
}
