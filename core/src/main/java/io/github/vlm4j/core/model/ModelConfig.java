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
   * Reads and parses the folder's {@code config.json}.
   *
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
    ConfigReader.of(root, folder.describe(FILE)); // must be an object
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

  /**
   * Returns the parsed JSON of {@code config.json}.
   *
   * @return the raw JSON tree
   */
  public JsonNode root() {
    return root;
  }

  /**
   * Returns the name of the file this config was read from.
   *
   * @return where this config was read from, for messages
   */
  public String source() {
    return source;
  }

  /**
   * Returns the model type ({@code model_type}).
   *
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

  /**
   * Returns the JSON of the language model's config.
   *
   * @return the language model's config: {@code text_config} if present, else the root
   */
  public JsonNode textNode() {
    JsonNode t = root.get("text_config");
    return t != null && t.isObject() ? t : root;
  }

  /**
   * Reads an integer of the root object leniently.
   *
   * @param key a key of the root object
   * @return its integer value, if present and an int (lenient; loaders use {@link #reader()})
   */
  public OptionalInt rootInt(String key) {
    JsonNode n = root.get(key);
    return n != null && n.canConvertToInt() && n.isIntegralNumber() ? OptionalInt.of(n.asInt()) : OptionalInt.empty();
  }

  /**
   * Reads a token id of the root object, checking its range.
   *
   * @param key a key of the root object holding a token id
   * @return its value, if present
   * @throws ModelLoadException MALFORMED_CONFIG if present but not an id in [0, {@value ModelLimits#MAX_VOCAB})
   */
  public OptionalInt rootTokenId(String key) throws ModelLoadException {
    return reader().optInt(key, 0, ModelLimits.MAX_VOCAB - 1);
  }

  /**
   * Reads the decoder's dimensions from {@code text_config} (or the root), each range-checked
   * against {@link ModelLimits}: {@code hidden_size} [1, {@value ModelLimits#MAX_HIDDEN}], {@code
   * num_hidden_layers} [1, {@value ModelLimits#MAX_LAYERS}], {@code num_attention_heads} and {@code
   * num_key_value_heads} [1, {@value ModelLimits#MAX_HEADS}] (the latter dividing the former),
   * {@code head_dim} [1, {@value ModelLimits#MAX_HEAD_DIM}], {@code vocab_size} [1, {@value
   * ModelLimits#MAX_VOCAB}], {@code max_position_embeddings} [1, {@value ModelLimits#MAX_POSITIONS}].
   *
   * @return the decoder's dimensions from {@code text_config}
   * @throws ModelLoadException MALFORMED_CONFIG naming the missing or out-of-range key
   */
  public TextConfig textConfig() throws ModelLoadException {
    ConfigReader r = text();
    // encoder-decoder (BART-style) configs name the decoder's dimensions d_model, decoder_layers and
    // decoder_attention_heads, as HuggingFace's attribute maps alias them
    int hidden = r.requireInt(key(r, "hidden_size", "d_model"), 1, ModelLimits.MAX_HIDDEN);
    int layers = r.requireInt(key(r, "num_hidden_layers", "decoder_layers"), 1, ModelLimits.MAX_LAYERS);
    int heads = r.requireInt(key(r, "num_attention_heads", "decoder_attention_heads"), 1, ModelLimits.MAX_HEADS);
    int kvHeads = r.intOr("num_key_value_heads", 1, heads, heads);
    if (heads % kvHeads != 0) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, source + ": num_attention_heads "
          + heads + " is not a multiple of num_key_value_heads " + kvHeads);
    }
    if (!r.has("head_dim") && hidden / heads < 1) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, source + ": hidden_size " + hidden
          + " is smaller than num_attention_heads " + heads + " and no head_dim is given");
    }
    int headDim = r.intOr("head_dim", 1, ModelLimits.MAX_HEAD_DIM, hidden / heads);
    int vocab = r.requireInt("vocab_size", 1, ModelLimits.MAX_VOCAB);
    int maxPos = r.intOr("max_position_embeddings", 1, ModelLimits.MAX_POSITIONS, Integer.MAX_VALUE);
    List<String> types = layerTypes(r, layers);
    int convWidth = r.intOr("conv_dim", 1, ModelLimits.MAX_HIDDEN, hidden);
    int convLength = 0;
    if (types.contains(TextConfig.CONV)) {
      convLength = r.requireInt("conv_L_cache", 1, 64);
    }
    return new TextConfig(vocab, hidden, layers, heads, kvHeads, headDim, maxPos, types, convWidth, convLength);
  }

  /** {@code name}, unless only the encoder-decoder alias {@code alias} is present. */
  private static String key(ConfigReader r, String name, String alias) {
    return !r.has(name) && r.has(alias) ? alias : name;
  }

  /** {@code layer_types}: absent, or one string per layer. */
  private static List<String> layerTypes(ConfigReader r, int layers) throws ModelLoadException {
    JsonNode n = r.get("layer_types");
    if (n == null || n.isNull() || n.isMissingNode()) {
      return List.of();
    }
    if (!n.isArray() || n.size() != layers) {
      throw r.malformed("layer_types", "must list one type per layer (" + layers + ", num_hidden_layers); found "
          + (n.isArray() ? n.size() + " entries" : n.getNodeType().toString().toLowerCase(java.util.Locale.ROOT)));
    }
    List<String> out = new java.util.ArrayList<>();
    for (JsonNode t : n) {
      if (!t.isTextual() || t.asText().length() > 64) {
        throw r.malformed("layer_types", "must hold strings of at most 64 characters; found " + t.getNodeType());
      }
      out.add(t.asText());
    }
    return out;
  }

  /** @return a strict reader of the text config (messages name {@code text_config.} keys) */
  private ConfigReader text() throws ModelLoadException {
    ConfigReader r = ConfigReader.of(root, source);
    return root.get("text_config") != null && root.get("text_config").isObject() ? r.object("text_config") : r;
  }

  /**
   * Returns a reader of the root object that checks types and ranges.
   *
   * @return a strict reader of the root object
   */
  public ConfigReader reader() {
    try {
      return ConfigReader.of(root, source);
    } catch (ModelLoadException e) {
      throw new IllegalStateException("unreachable: read() checks the root is an object", e);
    }
  }

  /**
   * Returns the end-of-sequence token ids.
   *
   * @return end-of-sequence ids declared in the text config or root ({@code eos_token_id}), each in
   *     [0, {@value ModelLimits#MAX_VOCAB})
   * @throws ModelLoadException MALFORMED_CONFIG for a non-integer or out-of-range id
   */
  public List<Integer> eosTokenIds() throws ModelLoadException {
    List<Integer> ids = text().intList("eos_token_id", 0, ModelLimits.MAX_VOCAB - 1);
    return ids.isEmpty() ? reader().intList("eos_token_id", 0, ModelLimits.MAX_VOCAB - 1) : ids;
  }

  /**
   * Collects the integers of a JSON number or array, skipping anything else.
   *
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
