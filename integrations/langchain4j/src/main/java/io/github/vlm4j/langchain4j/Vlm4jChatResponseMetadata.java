package io.github.vlm4j.langchain4j;

import dev.langchain4j.model.chat.response.ChatResponseMetadata;
import io.github.vlm4j.decoder.generation.GenerationResult;
import java.util.Objects;

/**
 * The metadata of a vlm4j chat response: LangChain4j's (model id, token usage, finish reason) plus
 * the library's own result, with what LangChain4j has no field for — the library's finish reason
 * ({@code EOS}, {@code LENGTH}, {@code STOP_STRING}, {@code CANCELLED}), the constraint status
 * ({@code COMPLETE} / {@code INCOMPLETE} under a JSON response format), image tokens, generated
 * token ids and stage timings. Immutable.
 *
 * <pre>{@code
 * if (response.metadata() instanceof Vlm4jChatResponseMetadata m) {
 *   System.out.println(m.result().usage().timings());
 * }
 * }</pre>
 */
public final class Vlm4jChatResponseMetadata extends ChatResponseMetadata {
  private final GenerationResult result;

  private Vlm4jChatResponseMetadata(Builder b) {
    super(b);
    this.result = Objects.requireNonNull(b.result, "result");
  }

  /**
   * Returns the library's result of the request.
   *
   * @return the generation result the response was made from
   */
  public GenerationResult result() {
    return result;
  }

  static Builder builder(GenerationResult result) {
    Builder b = new Builder();
    b.result = result;
    return b;
  }

  @Override
  public boolean equals(Object o) {
    return super.equals(o) && result.equals(((Vlm4jChatResponseMetadata) o).result);
  }

  @Override
  public int hashCode() {
    return super.hashCode() * 31 + result.hashCode();
  }

  @Override
  public String toString() {
    return "Vlm4jChatResponseMetadata{" + super.toString() + ", vlm4jFinishReason=" + result.finishReason()
        + ", constraint=" + result.constraint() + ", imageTokens=" + result.usage().imageTokens() + "}";
  }

  /** Builds the metadata (package-private: made only from a result). */
  static final class Builder extends ChatResponseMetadata.Builder<Builder> {
    private GenerationResult result;

    @Override
    public Vlm4jChatResponseMetadata build() {
      return new Vlm4jChatResponseMetadata(this);
    }
  }
}
