package io.github.vlm4j.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.core.ModelLoadException;
import java.util.List;
import java.util.Optional;

/**
 * Generation settings a model folder ships ({@code generation_config.json}), merged as
 * transformers.js merges them: values from {@code config.json}'s text config, overridden by {@code
 * generation_config.json}. Immutable.
 *
 * @param eosTokenIds ids that end generation
 * @param bosTokenId beginning-of-sequence id, if stated
 * @param padTokenId padding id, if stated
 * @param maxNewTokens default number of new tokens, if stated
 * @param doSample whether sampling is the default
 * @param temperature default temperature, if stated
 * @param topK default top-k, if stated
 * @param topP default top-p, if stated
 * @param repetitionPenalty default repetition penalty, if stated
 */
public record GenerationDefaults(
    List<Integer> eosTokenIds,
    Optional<Integer> bosTokenId,
    Optional<Integer> padTokenId,
    Optional<Integer> maxNewTokens,
    boolean doSample,
    Optional<Double> temperature,
    Optional<Integer> topK,
    Optional<Double> topP,
    Optional<Double> repetitionPenalty) {

  /** The file name inside a model folder. */
  public static final String FILE = "generation_config.json";

  /**
   * Copies the list.
   *
   * @param eosTokenIds ids that end generation (copied)
   * @param bosTokenId beginning-of-sequence id, if stated
   * @param padTokenId padding id, if stated
   * @param maxNewTokens default number of new tokens, if stated
   * @param doSample whether sampling is the default
   * @param temperature default temperature, if stated
   * @param topK default top-k, if stated
   * @param topP default top-p, if stated
   * @param repetitionPenalty default repetition penalty, if stated
   */
  public GenerationDefaults {
    eosTokenIds = List.copyOf(eosTokenIds);
  }

  /** Largest {@code max_new_tokens} accepted: 2^20 (1,048,576), the longest context windows. */
  public static final int MAX_NEW_TOKENS = 1 << 20;
  /** Smallest {@code temperature} accepted: 1e-6 (see GenerationConfig). */
  public static final double MIN_TEMPERATURE = 1e-6;
  /** Largest {@code temperature} and {@code repetition_penalty} accepted: 1e6. */
  public static final double MAX_FACTOR = 1e6;

  /**
   * Reads and range-checks the defaults: ids in [0, {@value ModelLimits#MAX_VOCAB}) ({@code
   * pad_token_id} may also be -1, meaning none, as some Llama configs write), {@code max_new_tokens}
   * [1, {@value #MAX_NEW_TOKENS}], {@code temperature} 0 or [{@value #MIN_TEMPERATURE}, {@value
   * #MAX_FACTOR}], {@code top_k} [0, {@value ModelLimits#MAX_VOCAB}], {@code top_p} [0, 1] (0 and 1
   * both mean off), {@code repetition_penalty} [1e-6, {@value #MAX_FACTOR}], {@code do_sample} a boolean.
   *
   * @param folder the model folder
   * @param config its {@code config.json}
   * @return the merged defaults
   * @throws ModelLoadException MALFORMED_CONFIG if generation_config.json is not valid JSON or a
   *     value is of the wrong type or out of range (naming the file and field)
   */
  public static GenerationDefaults read(ModelFolder folder, ModelConfig config) throws ModelLoadException {
    JsonNode genJson = folder.readJsonIfPresent(FILE).orElse(null);
    ConfigReader gen = genJson == null ? null : ConfigReader.of(genJson, folder.describe(FILE));
    ConfigReader text = config.reader().has("text_config") ? config.reader().object("text_config") : config.reader();
    int maxId = ModelLimits.MAX_VOCAB - 1;
    List<Integer> eos = gen != null && gen.has("eos_token_id")
        ? gen.intList("eos_token_id", 0, maxId) : config.eosTokenIds();
    Optional<Integer> pad = id(gen, text, "pad_token_id", -1).filter(v -> v >= 0);
    double temperature = gen == null ? 1 : gen.doubleOr("temperature", 0, MAX_FACTOR, 1);
    if (temperature != 0 && temperature < MIN_TEMPERATURE) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, gen.source()
          + ": \"temperature\" must be 0 or in [" + MIN_TEMPERATURE + ", " + MAX_FACTOR + "], found " + temperature);
    }
    return new GenerationDefaults(
        eos,
        id(gen, text, "bos_token_id", 0),
        pad,
        gen == null ? Optional.empty() : boxed(gen.optInt("max_new_tokens", 1, MAX_NEW_TOKENS)),
        gen != null && gen.boolOr("do_sample", false),
        gen == null || !gen.has("temperature") ? Optional.empty() : Optional.of(temperature),
        gen == null ? Optional.empty() : boxed(gen.optInt("top_k", 0, ModelLimits.MAX_VOCAB)),
        gen == null ? Optional.empty() : boxed(gen.optDouble("top_p", 0, 1)),
        gen == null ? Optional.empty() : boxed(gen.optDouble("repetition_penalty", 1e-6, MAX_FACTOR)));
  }

  private static Optional<Integer> id(ConfigReader first, ConfigReader second, String key, int min)
      throws ModelLoadException {
    for (ConfigReader r : new ConfigReader[] {first, second}) {
      if (r != null && r.has(key)) {
        return Optional.of(r.requireInt(key, min, ModelLimits.MAX_VOCAB - 1));
      }
    }
    return Optional.empty();
  }

  private static Optional<Integer> boxed(java.util.OptionalInt v) {
    return v.isPresent() ? Optional.of(v.getAsInt()) : Optional.empty();
  }

  private static Optional<Double> boxed(java.util.OptionalDouble v) {
    return v.isPresent() ? Optional.of(v.getAsDouble()) : Optional.empty();
  }
}
