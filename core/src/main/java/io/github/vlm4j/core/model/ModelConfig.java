package io.github.vlm4j.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.core.ModelLoadException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A model's {@code config.json} with typed access to what vlm4j needs. The raw tree stays available
 * for family-specific keys. Immutable.
 */
public final class ModelConfig {
  /** The file name inside a model folder. */
  public static final String FILE = "config.json";

  private final JsonNode root;
  private final String source;

  private ModelConfig(JsonNode root, String source) {
    this.root = root;
    this.source = source;
  }

  /**
   * @param folder the model folder
   * @return the parsed {@code config.json}
   * @throws ModelLoadException MISSING_FILE or MALFORMED_CONFIG
   */
  public static ModelConfig read(ModelFolder folder) throws ModelLoadException {
    if (!folder.exists(FILE)) {
      throw new ModelLoadException(
          ModelLoadException.Reason.MISSING_FILE,
          "missing " + folder.describe(FILE) + "; a model folder needs config.json (model_type, text_config)");
    }
    JsonNode root = folder.readJson(FILE);
    if (!root.isObject()) {
      throw new ModelLoadException(
          ModelLoadException.Reason.MALFORMED_CONFIG,
          folder.describe(FILE) + " must hold a JSON object, found " + root.getNodeType());
    }
    return new ModelConfig(root, folder.describe(FILE));
  }

  /**
   * Wraps an already parsed tree (tests, derived configs).
   *
   * @param root the JSON object
   * @param source where it came from, for messages
   * @return the config
   */
  public static ModelConfig of(JsonNode root, String source) {
    return new ModelConfig(root, source);
  }

  /** @return the raw JSON tree */
  public JsonNode root() {
    return root;
  }

  /** @return where this config was read from, for messages */
  public String source() {
    return source;
  }

  /**
   * @return {@code model_type}
   * @throws ModelLoadException MALFORMED_CONFIG if absent
   */
  public String modelType() throws ModelLoadException {
    JsonNode t = root.get("model_type");
    if (t == null || !t.isTextual() || t.asText().isBlank()) {
      throw new ModelLoadException(
          ModelLoadException.Reason.MALFORMED_CONFIG, source + " has no \"model_type\" string");
    }
    return t.asText();
  }

  /** @return the language model's config: {@code text_config} if present, else the root */
  public JsonNode textNode() {
    JsonNode t = root.get("text_config");
    return t != null && t.isObject() ? t : root;
  }

  /**
   * @param key a key of the root object
   * @return its integer value, if present and integral
   */
  public OptionalInt rootInt(String key) {
    JsonNode n = root.get(key);
    return n != null && n.canConvertToInt() && n.isIntegralNumber() ? OptionalInt.of(n.asInt()) : OptionalInt.empty();
  }

  /**
   * @return the decoder's dimensions from {@code text_config}
   * @throws ModelLoadException MALFORMED_CONFIG naming the missing key
   */
  public TextConfig textConfig() throws ModelLoadException {
    JsonNode t = textNode();
    int hidden = requireInt(t, "hidden_size");
    int layers = requireInt(t, "num_hidden_layers");
    int heads = requireInt(t, "num_attention_heads");
    int kvHeads = optInt(t, "num_key_value_heads").orElse(heads);
    int headDim = optInt(t, "head_dim").orElse(heads > 0 ? hidden / heads : 0);
    int vocab = requireInt(t, "vocab_size");
    int maxPos = optInt(t, "max_position_embeddings").orElse(Integer.MAX_VALUE);
    if (hidden <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0 || vocab <= 0 || maxPos <= 0) {
      throw new ModelLoadException(
          ModelLoadException.Reason.MALFORMED_CONFIG,
          source + ": text config values must be positive, found hidden_size=" + hidden
              + ", num_hidden_layers=" + layers + ", num_attention_heads=" + heads
              + ", num_key_value_heads=" + kvHeads + ", head_dim=" + headDim + ", vocab_size=" + vocab);
    }
    return new TextConfig(vocab, hidden, layers, heads, kvHeads, headDim, maxPos);
  }

  /** @return end-of-sequence ids declared in the text config or root ({@code eos_token_id}) */
  public List<Integer> eosTokenIds() {
    List<Integer> ids = intList(textNode().get("eos_token_id"));
    return ids.isEmpty() ? intList(root.get("eos_token_id")) : ids;
  }

  private int requireInt(JsonNode node, String key) throws ModelLoadException {
    return optInt(node, key).orElseThrow(() -> new ModelLoadException(
        ModelLoadException.Reason.MALFORMED_CONFIG,
        source + ": missing integer \"" + key + "\" in " + (node == root ? "the root object" : "text_config")));
  }

  private static Optional<Integer> optInt(JsonNode node, String key) {
    JsonNode n = node.get(key);
    return n != null && n.isIntegralNumber() ? Optional.of(n.asInt()) : Optional.empty();
  }

  /**
   * @param n a number, an array of numbers, or null
   * @return the integers it holds
   */
  public static List<Integer> intList(JsonNode n) {
    List<Integer> out = new ArrayList<>();
    if (n == null || n.isNull()) {
      return out;
    }
    if (n.isArray()) {
      n.forEach(x -> {
        if (x.isIntegralNumber()) {
          out.add(x.asInt());
        }
      });
    } else if (n.isIntegralNumber()) {
      out.add(n.asInt());
    }
    return out;
  }
}
