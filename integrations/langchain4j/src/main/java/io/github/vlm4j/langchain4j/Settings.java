package io.github.vlm4j.langchain4j;

import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * What a builder collected: the model, whether the chat model owns it, the id it reports and the
 * defaults of every request. Immutable.
 *
 * @param model the model requests run on
 * @param ownsModel whether {@code close()} closes the model
 * @param modelId the id in request parameters and responses
 * @param maxTokens default new-token limit
 * @param temperature default temperature (null or 0 = greedy)
 * @param topP default top-p when sampling (null = off)
 * @param topK default top-k when sampling (null = off)
 * @param seed sampling seed (empty = unseeded)
 * @param stop default stop strings
 * @param options adapter and image splitting of every request
 * @param listeners LangChain4j listeners notified of every request
 * @param strictJsonSchema require every declared property of JSON schemas
 */
record Settings(VisionLanguageModel model, boolean ownsModel, String modelId, int maxTokens, Double temperature,
    Double topP, Integer topK, OptionalLong seed, List<String> stop, RequestOptions options, List<ChatModelListener> listeners,
    boolean strictJsonSchema) {
  Settings {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(modelId, "modelId");
    stop = List.copyOf(stop);
    Objects.requireNonNull(options, "options");
    listeners = List.copyOf(listeners);
  }

  /**
   * Returns the request parameters every request starts from.
   *
   * @return the model id, token limit, temperature, top-p, top-k and stop strings as LangChain4j
   *     parameters
   */
  ChatRequestParameters defaults() {
    return ChatRequestParameters.builder().modelName(modelId).maxOutputTokens(maxTokens).temperature(temperature)
        .topP(topP).topK(topK).stopSequences(stop.isEmpty() ? null : stop).build();
  }

  /**
   * Names a model after its folder: the last element of {@link VisionLanguageModel#source()}.
   *
   * @param model a model
   * @return the folder's name, or {@code "vlm4j"} when the source has none
   */
  static String defaultId(VisionLanguageModel model) {
    String source = model.source();
    String name = source.replaceAll("[/\\\\:]+$", "");
    int cut = Math.max(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')), name.lastIndexOf(':'));
    name = name.substring(cut + 1);
    return name.isBlank() ? "vlm4j" : name;
  }
}
