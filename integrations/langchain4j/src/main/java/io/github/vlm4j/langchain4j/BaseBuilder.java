package io.github.vlm4j.langchain4j;

import dev.langchain4j.model.chat.listener.ChatModelListener;
import io.github.vlm4j.ContextPolicy;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * The settings both chat model builders share. Not thread-safe; every value is checked when the
 * chat model is built.
 *
 * @param <B> the concrete builder
 */
abstract class BaseBuilder<B extends BaseBuilder<B>> {
  /** New tokens of requests that set no {@code maxOutputTokens}, as the vlm4j server's default. */
  static final int DEFAULT_MAX_TOKENS = 256;

  private VisionLanguageModel model;
  private boolean ownsModel;
  private String modelId;
  private int maxTokens = DEFAULT_MAX_TOKENS;
  private Double temperature;
  private Double topP;
  private Integer topK;
  private OptionalLong seed = OptionalLong.empty();
  private List<String> stop = List.of();
  private RequestOptions options = RequestOptions.DEFAULT;
  private List<ChatModelListener> listeners = List.of();
  private boolean strictJsonSchema;

  BaseBuilder() {}

  @SuppressWarnings("unchecked")
  private B self() {
    return (B) this;
  }

  /**
   * Sets the model requests run on. The chat model does not own it ({@code close()} leaves it open)
   * unless {@link #ownsModel(boolean)} says so; several chat models may share one model.
   *
   * @param model a loaded model (required)
   * @return this builder
   */
  public B model(VisionLanguageModel model) {
    this.model = Objects.requireNonNull(model, "model");
    return self();
  }

  /**
   * Says whether the chat model's {@code close()} also closes the model.
   *
   * @param owns true to close the model with the chat model (default false)
   * @return this builder
   */
  public B ownsModel(boolean owns) {
    this.ownsModel = owns;
    return self();
  }

  /**
   * Sets the model id: the default {@code modelName} of request parameters, the {@code modelName} of
   * responses, and the only {@code modelName} a request may name.
   *
   * @param id non-blank (default: the model folder's name)
   * @return this builder
   */
  public B modelId(String id) {
    this.modelId = Objects.requireNonNull(id, "id");
    return self();
  }

  /**
   * Sets the new-token limit of requests that set no {@code maxOutputTokens}.
   *
   * @param n in [1, {@value GenerationConfig#MAX_NEW_TOKENS}] (default {@value #DEFAULT_MAX_TOKENS})
   * @return this builder
   */
  public B maxTokens(int n) {
    this.maxTokens = n;
    return self();
  }

  /**
   * Sets the default temperature: null or 0 decode greedily (the default), a value above 0 samples.
   *
   * @param t null, 0, or in [{@value GenerationConfig#MIN_TEMPERATURE}, {@value GenerationConfig#MAX_FACTOR}]
   * @return this builder
   */
  public B temperature(Double t) {
    this.temperature = t;
    return self();
  }

  /**
   * Sets the default top-p; it applies only when sampling.
   *
   * @param p null (off) or in (0, 1]
   * @return this builder
   */
  public B topP(Double p) {
    this.topP = p;
    return self();
  }

  /**
   * Sets the default top-k; it applies only when sampling.
   *
   * @param k null (off) or at least 0 (0 = off)
   * @return this builder
   */
  public B topK(Integer k) {
    this.topK = k;
    return self();
  }

  /**
   * Sets the sampling seed of every request (LangChain4j's request parameters have none); with a
   * seed, sampled answers are reproducible.
   *
   * @param s any value
   * @return this builder
   */
  public B seed(long s) {
    this.seed = OptionalLong.of(s);
    return self();
  }

  /**
   * Sets the default stop strings; the text ends before the first one that appears.
   *
   * @param strings non-empty strings (copied; default none)
   * @return this builder
   */
  public B stop(List<String> strings) {
    this.stop = List.copyOf(strings);
    return self();
  }

  /**
   * Selects a registered cross-modal adapter for every request.
   *
   * @param name an adapter name (checked when a request runs)
   * @return this builder
   */
  public B adapter(String name) {
    this.options = options.withAdapter(Objects.requireNonNull(name, "name"));
    return self();
  }

  /**
   * Overrides the model's image splitting for every request (SmolVLM/Idefics3 only; other models
   * refuse requests with it, see {@link VisionLanguageModel#supportsImageSplitting()}).
   *
   * @param split split images into tiles or not
   * @return this builder
   */
  public B imageSplitting(boolean split) {
    this.options = options.withImageSplitting(split);
    return self();
  }

  /**
   * Resizes every request's images into {@code [minPixels, maxPixels]} pixels (dynamic-resolution
   * models such as Qwen2-VL and LFM2-VL, whose image tokens follow the image size; others refuse requests with
   * it, see {@link VisionLanguageModel#supportsPixelBudget()}).
   *
   * @param minPixels smallest resized area, >= 1
   * @param maxPixels largest resized area, >= minPixels; honoured (an image that cannot fit is refused)
   * @return this builder
   */
  public B pixelBudget(int minPixels, int maxPixels) {
    this.options = options.withPixelBudget(minPixels, maxPixels);
    return self();
  }

  /**
   * Sets what a conversation that outgrows the context window does, for every request — e.g. {@link
   * ContextPolicy#dropOldestTurns()} for a chat memory that keeps growing (default {@link
   * ContextPolicy#REFUSE}: such a request fails with {@code InvalidRequestException}).
   *
   * @param policy the policy (non-null)
   * @return this builder
   */
  public B contextPolicy(ContextPolicy policy) {
    this.options = options.withContextPolicy(Objects.requireNonNull(policy, "policy"));
    return self();
  }

  /**
   * Sets the listeners LangChain4j notifies of every request, response and error (observability).
   *
   * @param list listeners, called on the thread that runs the request (copied; default none)
   * @return this builder
   */
  public B listeners(List<ChatModelListener> list) {
    this.listeners = List.copyOf(list);
    return self();
  }

  /**
   * Makes every declared property of every object of a JSON schema response format required, as
   * OpenAI's strict structured outputs do. LangChain4j's {@code AiServices} marks record fields
   * required only when annotated ({@code @JsonProperty(required = true)}), and a constrained model
   * may then leave optional properties out (the tiny test model answers {@code {}}); with strict
   * mode the output always has them all. Raw schemas ({@code JsonRawSchema}) are used as they are.
   *
   * @param strict true to require every property (default false: the schema's own {@code required})
   * @return this builder
   */
  public B strictJsonSchema(boolean strict) {
    this.strictJsonSchema = strict;
    return self();
  }

  /**
   * Checks and freezes the settings.
   *
   * @return the settings
   * @throws IllegalStateException without a model
   * @throws VlmInputException INVALID_OPTION for a value out of range, naming it
   */
  Settings settings() {
    if (model == null) {
      throw new IllegalStateException("expected a model (builder.model(VisionLanguageModel)), found none");
    }
    String id = modelId == null ? Settings.defaultId(model) : modelId;
    if (id.isBlank()) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "expected a non-blank modelId, found \""
          + id + "\"");
    }
    Settings s = new Settings(model, ownsModel, id, maxTokens, temperature, topP, topK, seed, stop, options, listeners,
        strictJsonSchema);
    RequestMapping.config(s, maxTokens, temperature, topP, topK, stop, null); // checks every value now
    if (topP != null) {
      GenerationConfig.builder().topP(topP).build();
    }
    if (topK != null) {
      GenerationConfig.builder().topK(topK).build();
    }
    return s;
  }
}
