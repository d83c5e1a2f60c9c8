package io.github.vlm4j.decoder.generation;

import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.decoder.generation.constraint.OutputConstraint;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * How to generate: length, greedy or sampling, warpers, stops. Immutable; build with {@link
 * #builder()}. Processors run in HuggingFace's order: repetition penalty, then the additive
 * adjustments of OpenAI's API (presence and frequency penalties, logit bias), temperature, top-k,
 * top-p, then the caller's extra processors (appended, never replacing these).
 *
 * @param maxNewTokens most tokens to generate (also capped by the context window)
 * @param doSample sample instead of taking the argmax
 * @param temperature sampling temperature (> 0 when sampling)
 * @param topK keep the k most likely tokens when sampling; 0 = off
 * @param topP nucleus threshold when sampling; 1 = off
 * @param repetitionPenalty > 0; 1 = off (applies to greedy decoding too)
 * @param seed seed for sampling; empty = unseeded
 * @param stopStrings generation stops when one appears in the text (excluded from the result)
 * @param eosTokenIds ids that end generation; empty = the model's own ({@code generation_config.json})
 * @param extraProcessors caller processors, applied after the standard ones
 * @param constraint what the output must match (regex, choice, JSON Schema); empty = free text
 * @param presencePenalty subtracted once from the logit of every token generated so far (the
 *     prompt not counted), in [-2, 2]; 0 = off (applies to greedy decoding too)
 * @param frequencyPenalty subtracted from the logit of every token generated so far, times the number
 *     of times it was generated, in [-2, 2]; 0 = off
 * @param logitBias added to the logits of the given token ids, each in [-100, 100] (-100 in effect
 *     bans a token, 100 forces it); empty = none
 */
public record GenerationConfig(
    int maxNewTokens, boolean doSample, double temperature, int topK, double topP, double repetitionPenalty,
    Optional<Long> seed, List<String> stopStrings, List<Integer> eosTokenIds, List<LogitsProcessor> extraProcessors,
    Optional<OutputConstraint> constraint, double presencePenalty, double frequencyPenalty,
    Map<Integer, Double> logitBias) {

  /** Default new-token limit. */
  public static final int DEFAULT_MAX_NEW_TOKENS = 128;
  /** Largest {@code maxNewTokens}: 2^20 = 1,048,576 (the longest context windows; the window also caps it). */
  public static final int MAX_NEW_TOKENS = 1 << 20;
  /**
   * Smallest sampling temperature: 1e-6. Down to it, dividing any logit of magnitude below 3e32 by
   * the temperature stays finite in float, so softmax (which subtracts the maximum) is exact: the
   * distribution tends to greedy as the temperature falls, as it should. Below it the scaled logits
   * overflow to infinity and the distribution is undefined, so smaller values are refused rather than
   * silently changed (use greedy decoding, temperature 0, for the limit).
   */
  public static final double MIN_TEMPERATURE = 1e-6;
  /** Largest temperature and repetition penalty: 1e6 (beyond it the distribution is uniform anyway). */
  public static final double MAX_FACTOR = 1e6;
  /** Most stop strings: 1,024, each at most 1,024 characters (each is searched for after every token). */
  public static final int MAX_STOP_STRINGS = 1024;
  /** Bound of the presence and frequency penalties: 2 (OpenAI's range is [-2, 2]). */
  public static final double MAX_PENALTY = 2;
  /** Bound of one logit bias: 100. */
  public static final double MAX_LOGIT_BIAS = 100;
  /** Most logit-bias entries: 1,024. */
  public static final int MAX_LOGIT_BIAS_ENTRIES = 1024;

  /**
   * Validates every value: {@code maxNewTokens} in [1, {@value #MAX_NEW_TOKENS}]; {@code temperature}
   * finite, in [{@value #MIN_TEMPERATURE}, {@value #MAX_FACTOR}] when sampling (ignored otherwise,
   * but still finite and >= 0); {@code topK} >= 0; {@code topP} in (0, 1]; {@code repetitionPenalty}
   * in [{@value #MIN_TEMPERATURE}, {@value #MAX_FACTOR}]; at most {@value #MAX_STOP_STRINGS} non-empty
   * stop strings of at most 1,024 characters; penalties in [-2, 2]; at most 1,024 logit biases, on
   * ids >= 0, each in [-100, 100]; no null elements. Any seed is accepted. (A biased id beyond the
   * model's vocabulary is refused when generation starts.)
   *
   * @param maxNewTokens most tokens to generate (also capped by the context window)
   * @param doSample sample instead of taking the argmax
   * @param temperature sampling temperature (&gt; 0 when sampling)
   * @param topK keep the k most likely tokens when sampling; 0 = off
   * @param topP nucleus threshold when sampling; 1 = off
   * @param repetitionPenalty &gt; 0; 1 = off (applies to greedy decoding too)
   * @param seed seed for sampling; empty = unseeded
   * @param stopStrings generation stops when one appears in the text (copied)
   * @param eosTokenIds ids that end generation; empty = the model's own (copied)
   * @param extraProcessors caller processors, applied after the standard ones (copied)
   * @param constraint what the output must match; empty = free text. Cannot be combined with stop
   *     strings (the constraint decides where the output ends)
   * @param presencePenalty once per generated token, in [-2, 2]; 0 = off
   * @param frequencyPenalty per occurrence of a generated token, in [-2, 2]; 0 = off
   * @param logitBias token id to bias (copied)
   * @throws VlmInputException INVALID_OPTION naming the option, the accepted range and the value
   */
  public GenerationConfig {
    Objects.requireNonNull(seed, "seed");
    Objects.requireNonNull(constraint, "constraint");
    if (constraint.isPresent() && !stopStrings.isEmpty()) {
      throw invalid("stop strings cannot be combined with an output constraint (" + constraint.get().describe()
          + "): the constraint decides where the output ends");
    }
    Objects.requireNonNull(stopStrings, "stopStrings");
    Objects.requireNonNull(eosTokenIds, "eosTokenIds");
    Objects.requireNonNull(extraProcessors, "extraProcessors");
    if (stopStrings.stream().anyMatch(Objects::isNull) || eosTokenIds.stream().anyMatch(Objects::isNull)
        || extraProcessors.stream().anyMatch(Objects::isNull)) {
      throw invalid("stop strings, eos ids and processors must not contain null");
    }
    stopStrings = List.copyOf(stopStrings);
    eosTokenIds = List.copyOf(eosTokenIds);
    extraProcessors = List.copyOf(extraProcessors);
    if (maxNewTokens < 1 || maxNewTokens > MAX_NEW_TOKENS) {
      throw invalid("maxNewTokens must be in [1, " + MAX_NEW_TOKENS + "], got " + maxNewTokens);
    }
    if (!Double.isFinite(temperature) || temperature < 0
        || (doSample && (temperature < MIN_TEMPERATURE || temperature > MAX_FACTOR))) {
      throw invalid("temperature must be in [" + MIN_TEMPERATURE + ", " + MAX_FACTOR
          + "] when sampling (0 means greedy), got " + temperature);
    }
    if (topK < 0) {
      throw invalid("topK must be >= 0 (0 = off), got " + topK);
    }
    if (!(topP > 0 && topP <= 1)) {
      throw invalid("topP must be in (0, 1] (1 = off), got " + topP);
    }
    if (!(repetitionPenalty >= MIN_TEMPERATURE && repetitionPenalty <= MAX_FACTOR)) {
      throw invalid("repetitionPenalty must be in [" + MIN_TEMPERATURE + ", " + MAX_FACTOR + "] (1 = off), got "
          + repetitionPenalty);
    }
    if (stopStrings.size() > MAX_STOP_STRINGS) {
      throw invalid("at most " + MAX_STOP_STRINGS + " stop strings are accepted, got " + stopStrings.size());
    }
    for (String stop : stopStrings) {
      if (stop.isEmpty() || stop.length() > 1024) {
        throw invalid("stop strings must have 1 to 1024 characters, got one of " + stop.length());
      }
    }
    if (!(Math.abs(presencePenalty) <= MAX_PENALTY)) {
      throw invalid("presencePenalty must be in [-2, 2] (0 = off), got " + presencePenalty);
    }
    if (!(Math.abs(frequencyPenalty) <= MAX_PENALTY)) {
      throw invalid("frequencyPenalty must be in [-2, 2] (0 = off), got " + frequencyPenalty);
    }
    Objects.requireNonNull(logitBias, "logitBias");
    if (logitBias.size() > MAX_LOGIT_BIAS_ENTRIES) {
      throw invalid("at most " + MAX_LOGIT_BIAS_ENTRIES + " logit biases are accepted, got " + logitBias.size());
    }
    for (Map.Entry<Integer, Double> e : logitBias.entrySet()) {
      if (e.getKey() == null || e.getKey() < 0 || e.getValue() == null || !(Math.abs(e.getValue()) <= MAX_LOGIT_BIAS)) {
        throw invalid("logit biases must map token ids >= 0 to values in [-100, 100], got " + e.getKey() + " -> "
            + e.getValue());
      }
    }
    logitBias = Map.copyOf(logitBias);
  }

  private static VlmInputException invalid(String message) {
    return new VlmInputException(VlmInputException.Reason.INVALID_OPTION, message);
  }

  /**
   * Creates a greedy config.
   *
   * @param maxNewTokens most tokens to generate, in [1, {@value #MAX_NEW_TOKENS}]
   * @return greedy decoding with no stop strings, the model's end-of-sequence ids and no extra processors
   * @throws VlmInputException INVALID_OPTION if {@code maxNewTokens} is out of range
   */
  public static GenerationConfig greedy(int maxNewTokens) {
    return builder().maxNewTokens(maxNewTokens).build();
  }

  /**
   * Starts a builder from the defaults.
   *
   * @return a builder: greedy, {@value #DEFAULT_MAX_NEW_TOKENS} new tokens, no penalties
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Starts a builder from this config.
   *
   * @return a builder starting from this config
   */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.maxNewTokens = maxNewTokens;
    b.doSample = doSample;
    b.temperature = temperature;
    b.topK = topK;
    b.topP = topP;
    b.repetitionPenalty = repetitionPenalty;
    b.seed = seed.orElse(null);
    b.stopStrings = new ArrayList<>(stopStrings);
    b.eosTokenIds = new ArrayList<>(eosTokenIds);
    b.extra = new ArrayList<>(extraProcessors);
    b.constraint = constraint.orElse(null);
    b.presencePenalty = presencePenalty;
    b.frequencyPenalty = frequencyPenalty;
    b.logitBias = new HashMap<>(logitBias);
    return b;
  }

  /**
   * Returns the logits processors of one request, the standard ones first.
   *
   * @param promptLength how many ids at the start of the sequence are the prompt (the presence and
   *     frequency penalties count only the ids after them)
   * @return the processors in application order
   */
  public List<LogitsProcessor> processors(int promptLength) {
    List<LogitsProcessor> out = new ArrayList<>();
    if (repetitionPenalty != 1.0) {
      out.add(LogitsProcessors.repetitionPenalty(repetitionPenalty));
    }
    if (presencePenalty != 0 || frequencyPenalty != 0) {
      out.add(LogitsProcessors.presenceAndFrequency(presencePenalty, frequencyPenalty, promptLength));
    }
    if (!logitBias.isEmpty()) {
      out.add(LogitsProcessors.logitBias(logitBias));
    }
    if (doSample) {
      if (temperature != 1.0) {
        out.add(LogitsProcessors.temperature(temperature));
      }
      if (topK > 0) {
        out.add(LogitsProcessors.topK(topK));
      }
      if (topP < 1.0) {
        out.add(LogitsProcessors.topP(topP));
      }
    }
    out.addAll(extraProcessors);
    return out;
  }

  /**
   * Creates the sampler of one request.
   *
   * @return a new sampler for one request (seeded if a seed is set)
   */
  public Sampler newSampler() {
    if (!doSample) {
      return Sampler.greedy();
    }
    return Sampler.multinomial(seed.map(SplittableRandom::new).orElseGet(SplittableRandom::new));
  }

  /** Builder for {@link GenerationConfig}. Not thread-safe. */
  public static final class Builder {
    private int maxNewTokens = DEFAULT_MAX_NEW_TOKENS;
    private boolean doSample;
    private double temperature = 1.0;
    private int topK;
    private double topP = 1.0;
    private double repetitionPenalty = 1.0;
    private Long seed;
    private OutputConstraint constraint;
    private List<String> stopStrings = new ArrayList<>();
    private List<Integer> eosTokenIds = new ArrayList<>();
    private List<LogitsProcessor> extra = new ArrayList<>();
    private double presencePenalty;
    private double frequencyPenalty;
    private Map<Integer, Double> logitBias = new HashMap<>();

    private Builder() {}

    /**
     * Sets the presence penalty (OpenAI's {@code presence_penalty}).
     *
     * @param penalty subtracted once from the logit of each token generated so far (0 = off; in [-2, 2],
     *     checked by {@link #build()})
     * @return this
     */
    public Builder presencePenalty(double penalty) {
      presencePenalty = penalty;
      return this;
    }

    /**
     * Sets the frequency penalty (OpenAI's {@code frequency_penalty}).
     *
     * @param penalty subtracted from the logit of each generated token per time it was generated (0 =
     *     off; in [-2, 2], checked by {@link #build()})
     * @return this
     */
    public Builder frequencyPenalty(double penalty) {
      frequencyPenalty = penalty;
      return this;
    }

    /**
     * Sets logit biases (OpenAI's {@code logit_bias}), replacing any set before.
     *
     * @param bias token id to the value added to its logit, each in [-100, 100] (copied; checked by
     *     {@link #build()})
     * @return this
     */
    public Builder logitBias(Map<Integer, Double> bias) {
      Objects.requireNonNull(bias, "bias");
      logitBias = new HashMap<>(bias);
      return this;
    }

    /**
     * Sets the most tokens to generate.
     *
     * @param n most tokens to generate (checked by {@link #build()})
     * @return this
     */
    public Builder maxNewTokens(int n) {
      maxNewTokens = n;
      return this;
    }

    /**
     * Sets whether tokens are sampled.
     *
     * @param sample sample instead of argmax
     * @return this
     */
    public Builder doSample(boolean sample) {
      doSample = sample;
      return this;
    }

    /**
     * Sets the temperature; a value > 0 also turns sampling on, 0 means greedy.
     *
     * @param t 0, or in [{@value GenerationConfig#MIN_TEMPERATURE}, {@value GenerationConfig#MAX_FACTOR}]
     * @return this
     * @throws VlmInputException INVALID_OPTION for another value
     */
    public Builder temperature(double t) {
      if (t != 0 && !(t >= MIN_TEMPERATURE && t <= MAX_FACTOR)) {
        throw invalid("temperature must be 0 (greedy) or in [" + MIN_TEMPERATURE + ", " + MAX_FACTOR + "], got " + t);
      }
      doSample = t > 0;
      temperature = t == 0 ? 1.0 : t;
      return this;
    }

    /**
     * Sets top-k filtering.
     *
     * @param k top-k (0 = off; checked by {@link #build()})
     * @return this
     */
    public Builder topK(int k) {
      topK = k;
      return this;
    }

    /**
     * Sets top-p (nucleus) filtering.
     *
     * @param p top-p (1 = off; checked by {@link #build()})
     * @return this
     */
    public Builder topP(double p) {
      topP = p;
      return this;
    }

    /**
     * Sets the repetition penalty.
     *
     * @param penalty repetition penalty (1 = off; checked by {@link #build()})
     * @return this
     */
    public Builder repetitionPenalty(double penalty) {
      repetitionPenalty = penalty;
      return this;
    }

    /**
     * Sets the sampling seed.
     *
     * @param s seed for sampling
     * @return this
     */
    public Builder seed(long s) {
      seed = s;
      return this;
    }

    /**
     * Sets the stop strings.
     *
     * @param stops stop strings, replacing any set before (copied; checked by {@link #build()})
     * @return this
     */
    public Builder stopStrings(List<String> stops) {
      Objects.requireNonNull(stops, "stops");
      stopStrings = new ArrayList<>(stops);
      return this;
    }

    /**
     * Sets the end-of-sequence ids.
     *
     * @param ids end-of-sequence ids overriding the model's, replacing any set before (copied)
     * @return this
     */
    public Builder eosTokenIds(List<Integer> ids) {
      Objects.requireNonNull(ids, "ids");
      eosTokenIds = new ArrayList<>(ids);
      return this;
    }

    /**
     * Adds a logits processor.
     *
     * @param p a processor appended after the standard ones (non-null)
     * @return this
     */
    public Builder addProcessor(LogitsProcessor p) {
      extra.add(Objects.requireNonNull(p));
      return this;
    }

    /**
     * Constrains the output: generated text must match it, and generation may end (end of sequence)
     * only where the text is a complete match. A request that reaches its token limit first reports
     * {@link FinishReason#LENGTH} and {@link ConstraintStatus#INCOMPLETE}.
     *
     * @param c the constraint, or null for free text
     * @return this
     */
    public Builder constraint(OutputConstraint c) {
      constraint = c;
      return this;
    }

    /**
     * Builds the config, checking every value.
     *
     * @return the config
     * @throws VlmInputException INVALID_OPTION for out-of-range values
     */
    public GenerationConfig build() {
      return new GenerationConfig(maxNewTokens, doSample, temperature, topK, topP, repetitionPenalty,
          Optional.ofNullable(seed), stopStrings, eosTokenIds, extra, Optional.ofNullable(constraint), presencePenalty,
          frequencyPenalty, logitBias);
    }
  }
}
