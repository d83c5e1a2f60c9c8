package io.github.vlm4j.decoder.generation;

import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.decoder.generation.constraint.OutputConstraint;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * How to generate: length, greedy or sampling, warpers, stops. Immutable; build with {@link
 * #builder()}. Processors run in HuggingFace's order: repetition penalty, temperature, top-k, top-p,
 * then the caller's extra processors (appended, never replacing these).
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
 */
public record GenerationConfig(
    int maxNewTokens, boolean doSample, double temperature, int topK, double topP, double repetitionPenalty,
    Optional<Long> seed, List<String> stopStrings, List<Integer> eosTokenIds, List<LogitsProcessor> extraProcessors,
    Optional<OutputConstraint> constraint) {

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

  /**
   * Validates every value: {@code maxNewTokens} in [1, {@value #MAX_NEW_TOKENS}]; {@code temperature}
   * finite, in [{@value #MIN_TEMPERATURE}, {@value #MAX_FACTOR}] when sampling (ignored otherwise,
   * but still finite and >= 0); {@code topK} >= 0; {@code topP} in (0, 1]; {@code repetitionPenalty}
   * in [{@value #MIN_TEMPERATURE}, {@value #MAX_FACTOR}]; at most {@value #MAX_STOP_STRINGS} non-empty
   * stop strings of at most 1,024 characters; no null elements. Any seed is accepted.
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
    return b;
  }

  /**
   * Returns the logits processors of this config, the standard ones first.
   *
   * @return the processors in application order
   */
  public List<LogitsProcessor> processors() {
    List<LogitsProcessor> out = new ArrayList<>();
    if (repetitionPenalty != 1.0) {
      out.add(LogitsProcessors.repetitionPenalty(repetitionPenalty));
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

    private Builder() {}

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
          Optional.ofNullable(seed), stopStrings, eosTokenIds, extra, Optional.ofNullable(constraint));
    }
  }
}
