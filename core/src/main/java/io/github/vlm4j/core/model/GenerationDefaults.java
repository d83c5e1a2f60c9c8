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

  /** Copies the list. */
  public GenerationDefaults {
    eosTokenIds = List.copyOf(eosTokenIds);
  }

  /**
   * @param folder the model folder
   * @param config its {@code config.json}
   * @return the merged defaults
   * @throws ModelLoadException MALFORMED_CONFIG if generation_config.json is not valid JSON
   */
  public static GenerationDefaults read(ModelFolder folder, ModelConfig config) throws ModelLoadException {
    JsonNode text = config.textNode();
    JsonNode gen = folder.readJsonIfPresent(FILE).orElse(null);
    List<Integer> eos = gen != null && gen.has("eos_token_id")
        ? ModelConfig.intList(gen.get("eos_token_id")) : config.eosTokenIds();
    return new GenerationDefaults(
        eos,
        intOf(gen, text, "bos_token_id"),
        intOf(gen, text, "pad_token_id"),
        intOf(gen, null, "max_new_tokens"),
        gen != null && gen.path("do_sample").asBoolean(false),
        doubleOf(gen, "temperature"),
        intOf(gen, null, "top_k"),
        doubleOf(gen, "top_p"),
        doubleOf(gen, "repetition_penalty"));
  }

  private static Optional<Integer> intOf(JsonNode first, JsonNode second, String key) {
    for (JsonNode n : new JsonNode[] {first, second}) {
      if (n != null && n.get(key) != null && n.get(key).isIntegralNumber()) {
        return Optional.of(n.get(key).asInt());
      }
    }
    return Optional.empty();
  }

  private static Optional<Double> doubleOf(JsonNode n, String key) {
    return n != null && n.get(key) != null && n.get(key).isNumber()
        ? Optional.of(n.get(key).asDouble()) : Optional.empty();
  }
}
