package io.github.vlm4j.core.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.vlm4j.core.ModelClosedException;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ConfigReader;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.model.ModelLimits;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * The model's HuggingFace tokenizer ({@code tokenizer.json}) through DJL, configured so that it
 * never truncates, never pads, works offline, and never turns text into special tokens.
 *
 * <p>{@link #encode(String)} tokenizes text with added-token matching switched off, so user text
 * containing {@code <image>} or {@code <end_of_utterance>} stays text; special tokens are inserted
 * by id by the prompt builder. {@link #postProcessorPrefix()}/{@link #postProcessorSuffix()} are
 * the ids the tokenizer's post-processor adds around a sequence (e.g. a Llama BOS), which
 * HuggingFace processors add once per prompt.
 *
 * <p>Thread-safe: calls into the native tokenizer are serialised. Owns two native tokenizers;
 * {@link #close()} frees them.
 */
public final class TextTokenizer implements AutoCloseable {
  /** The file name inside a model folder. */
  public static final String FILE = "tokenizer.json";

  private static final ObjectMapper JSON = new ObjectMapper();

  private final HuggingFaceTokenizer full;
  private final HuggingFaceTokenizer plain;
  private final List<AddedToken> addedTokens;
  private final Map<String, Integer> tokenToId;
  private final String[] idToToken;
  private final boolean[] special;
  private final AddedTokenMatcher matcher;
  private final int[] prefix;
  private final int[] suffix;
  private final Object lock = new Object();
  private boolean closed;
  private volatile int longestToken;

  private TextTokenizer(HuggingFaceTokenizer full, HuggingFaceTokenizer plain, List<AddedToken> added,
      Map<String, Integer> vocab) {
    this.full = full;
    this.plain = plain;
    this.addedTokens = List.copyOf(added);
    Map<String, Integer> t2i = new HashMap<>(vocab);
    int max = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
    for (AddedToken t : added) {
      t2i.put(t.content(), t.id());
      max = Math.max(max, t.id());
    }
    this.tokenToId = Collections.unmodifiableMap(t2i);
    this.idToToken = new String[max + 1];
    this.special = new boolean[max + 1];
    t2i.forEach((tok, id) -> idToToken[id] = tok);
    for (AddedToken t : added) {
      special[t.id()] = t.special();
    }
    this.matcher = new AddedTokenMatcher(added);
    long[] with = full.encode("a", true, false).getIds();
    long[] without = full.encode("a", false, false).getIds();
    int[][] ps = prefixSuffix(with, without);
    this.prefix = ps[0];
    this.suffix = ps[1];
  }

  private static int[][] prefixSuffix(long[] with, long[] without) {
    for (int p = 0; p + without.length <= with.length; p++) {
      if (Arrays.equals(Arrays.copyOfRange(with, p, p + without.length), without)) {
        int[] pre = Arrays.stream(Arrays.copyOfRange(with, 0, p)).mapToInt(x -> (int) x).toArray();
        int[] suf = Arrays.stream(Arrays.copyOfRange(with, p + without.length, with.length))
            .mapToInt(x -> (int) x).toArray();
        return new int[][] {pre, suf};
      }
    }
    return new int[][] {new int[0], new int[0]};
  }

  /**
   * Loads {@code tokenizer.json} from a model folder, accepting ids below {@link ModelLimits#MAX_VOCAB}.
   *
   * @param folder the model folder
   * @return the tokenizer; the caller owns it
   * @throws ModelLoadException MISSING_FILE or TOKENIZER
   */
  public static TextTokenizer load(ModelFolder folder) throws ModelLoadException {
    return load(folder, ModelLimits.MAX_VOCAB);
  }

  /**
   * Loads {@code tokenizer.json} from a model folder.
   *
   * @param folder the model folder
   * @param vocabSize ids must be below this (the decoder's {@code vocab_size})
   * @return the tokenizer; the caller owns it
   * @throws ModelLoadException MISSING_FILE, or TOKENIZER naming the offending entry
   */
  public static TextTokenizer load(ModelFolder folder, int vocabSize) throws ModelLoadException {
    return load(folder.readBytes(FILE, ModelFolder.MAX_JSON_BYTES), folder.describe(FILE), vocabSize);
  }

  /**
   * Loads a tokenizer from {@code tokenizer.json} bytes.
   *
   * @param tokenizerJson the bytes of a {@code tokenizer.json}
   * @param source where they came from, for messages
   * @return the tokenizer; the caller owns it
   * @throws ModelLoadException TOKENIZER if the file cannot be parsed
   */
  public static TextTokenizer load(byte[] tokenizerJson, String source) throws ModelLoadException {
    return load(tokenizerJson, source, ModelLimits.MAX_VOCAB);
  }

  /**
   * Loads a tokenizer after checking the file in Java, before the native tokenizer sees it: at most
   * {@link ModelFolder#MAX_JSON_BYTES}, JSON within {@link ModelFolder#parseJson}'s bounds, a {@code
   * model} object whose {@code vocab} ids (or Unigram entries) lie in {@code [0, vocabSize)}, and
   * {@code added_tokens} entries with an id in that range, non-empty {@code content} and boolean flags.
   *
   * @param tokenizerJson the bytes of a {@code tokenizer.json}
   * @param source where they came from, for messages
   * @param vocabSize ids must be below this, at most {@link ModelLimits#MAX_VOCAB}
   * @return the tokenizer; the caller owns it
   * @throws ModelLoadException TOKENIZER naming the file and the offending entry
   */
  public static TextTokenizer load(byte[] tokenizerJson, String source, int vocabSize) throws ModelLoadException {
    optOutOfDjlNetworkAccess();
    int bound = Math.min(Math.max(vocabSize, 1), ModelLimits.MAX_VOCAB);
    JsonNode root;
    try {
      root = ModelFolder.parseJson(tokenizerJson, source);
    } catch (ModelLoadException e) {
      throw new ModelLoadException(ModelLoadException.Reason.TOKENIZER, e.getMessage(), e);
    }
    if (!root.isObject() || !root.path("model").isObject()) {
      throw new ModelLoadException(
          ModelLoadException.Reason.TOKENIZER, source + " has no \"model\" object; expected a HuggingFace tokenizer.json");
    }
    List<AddedToken> added = addedTokens(root.get("added_tokens"), source, bound);
    Map<String, Integer> vocab = vocab(root.path("model").path("vocab"), source, bound);
    ObjectNode plainJson = ((ObjectNode) root).deepCopy();
    plainJson.putArray("added_tokens");
    Map<String, String> options = Map.of(
        "addSpecialTokens", "false", "truncation", "false", "padding", "false", "modelMaxLength", "1000000000");
    HuggingFaceTokenizer full = null;
    try {
      full = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(tokenizerJson), options);
      HuggingFaceTokenizer plain = HuggingFaceTokenizer.newInstance(
          new ByteArrayInputStream(JSON.writeValueAsBytes(plainJson)), options);
      return new TextTokenizer(full, plain, added, vocab);
    } catch (IOException | RuntimeException e) {
      if (full != null) {
        full.close();
      }
      throw new ModelLoadException(ModelLoadException.Reason.TOKENIZER, "cannot load " + source + ": " + e.getMessage(), e);
    }
  }

  private static List<AddedToken> addedTokens(JsonNode list, String source, int bound) throws ModelLoadException {
    List<AddedToken> added = new ArrayList<>();
    if (list == null || list.isNull()) {
      return added;
    }
    if (!list.isArray()) {
      throw tokenizerError(source + ": \"added_tokens\" must be an array, found " + list.getNodeType());
    }
    for (int i = 0; i < list.size(); i++) {
      JsonNode a = list.get(i);
      String where = source + " added_tokens[" + i + "]";
      try {
        ConfigReader r = ConfigReader.of(a, where);
        int id = r.requireInt("id", 0, bound - 1);
        String content = r.requireText("content");
        added.add(new AddedToken(id, content, r.boolOr("special", false), r.boolOr("lstrip", false),
            r.boolOr("rstrip", false), r.boolOr("single_word", false)));
      } catch (ModelLoadException e) {
        throw tokenizerError(e.getMessage());
      }
    }
    return added;
  }

  private static Map<String, Integer> vocab(JsonNode v, String source, int bound) throws ModelLoadException {
    Map<String, Integer> vocab = new HashMap<>();
    if (v.isObject()) {
      for (var it = v.fields(); it.hasNext(); ) {
        var e = it.next();
        JsonNode id = e.getValue();
        if (!id.isIntegralNumber() || !id.canConvertToInt() || id.intValue() < 0 || id.intValue() >= bound) {
          throw tokenizerError(source + ": model.vocab[\"" + abbreviate(e.getKey()) + "\"] must be an id in [0, "
              + bound + "), found " + abbreviate(id.toString()));
        }
        vocab.put(e.getKey(), id.intValue());
      }
    } else if (v.isArray()) { // Unigram: [[piece, score], ...]
      if (v.size() > bound) {
        throw tokenizerError(source + ": model.vocab has " + v.size() + " entries; at most " + bound + " are accepted");
      }
      for (int i = 0; i < v.size(); i++) {
        JsonNode entry = v.get(i);
        if (!entry.isArray() || entry.size() != 2 || !entry.get(0).isTextual() || !entry.get(1).isNumber()) {
          throw tokenizerError(source + ": model.vocab[" + i + "] must be [piece, score], found "
              + abbreviate(entry.toString()));
        }
        vocab.put(entry.get(0).textValue(), i);
      }
    } else if (!v.isMissingNode() && !v.isNull()) {
      throw tokenizerError(source + ": model.vocab must be an object or an array, found " + v.getNodeType());
    }
    return vocab;
  }

  private static ModelLoadException tokenizerError(String message) {
    return new ModelLoadException(ModelLoadException.Reason.TOKENIZER, message);
  }

  private static String abbreviate(String s) {
    return s.length() > 60 ? s.substring(0, 57) + "..." : s;
  }

  /**
   * DJL phones home (a cloud metadata address) unless told not to; vlm4j never wants that.
   * Respects values the application already set.
   */
  private static void optOutOfDjlNetworkAccess() {
    if (System.getProperty("OPT_OUT_TRACKING") == null && System.getenv("OPT_OUT_TRACKING") == null) {
      System.setProperty("OPT_OUT_TRACKING", "true");
    }
    if (System.getProperty("offline") == null) {
      System.setProperty("offline", "true");
    }
  }

  /**
   * Tokenizes text as text: added tokens are not recognised, nothing is added around it.
   *
   * @param text any text
   * @return token ids
   */
  public int[] encode(String text) {
    if (text.isEmpty()) {
      return new int[0];
    }
    long[] ids;
    synchronized (lock) {
      checkOpen();
      ids = plain.encode(text, false, false).getIds();
    }
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = (int) ids[i];
    }
    return out;
  }

  /**
   * Decodes token ids to text.
   *
   * @param ids token ids, each in {@code [0, vocabSize())}
   * @param skipSpecialTokens drop special added tokens from the text
   * @return the text
   * @throws IllegalArgumentException for an id outside the vocabulary
   */
  public String decode(int[] ids, boolean skipSpecialTokens) {
    long[] l = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= idToToken.length || idToToken[ids[i]] == null) {
        throw new IllegalArgumentException("token id " + ids[i] + " is outside the vocabulary [0, " + idToToken.length + ")");
      }
      l[i] = ids[i];
    }
    synchronized (lock) {
      checkOpen();
      return full.decode(l, skipSpecialTokens);
    }
  }

  /**
   * Looks up a token's id.
   *
   * @param token a token's text
   * @return its id, if the vocabulary or added tokens hold it
   */
  public OptionalInt idOf(String token) {
    Integer id = tokenToId.get(token);
    return id == null ? OptionalInt.empty() : OptionalInt.of(id);
  }

  /**
   * Tells whether a token is a special added token.
   *
   * @param id token id
   * @return whether it is a special added token (false for an id outside the vocabulary)
   */
  public boolean isSpecial(int id) {
    return id >= 0 && id < special.length && special[id];
  }

  /**
   * Returns the vocabulary size.
   *
   * @return ids from 0 to this bound (exclusive) may exist
   */
  public int vocabSize() {
    return idToToken.length;
  }

  /**
   * Returns the added tokens of {@code tokenizer.json}.
   *
   * @return the added tokens
   */
  public List<AddedToken> addedTokens() {
    return addedTokens;
  }

  /**
   * Returns the matcher of the added tokens.
   *
   * @return the splitter for trusted text
   */
  public AddedTokenMatcher matcher() {
    return matcher;
  }

  /**
   * Returns the ids the post-processor puts before a sequence.
   *
   * @return ids the post-processor puts before a sequence (e.g. BOS), possibly empty
   */
  public int[] postProcessorPrefix() {
    return prefix.clone();
  }

  /**
   * Returns the ids the post-processor puts after a sequence.
   *
   * @return ids the post-processor puts after a sequence, possibly empty
   */
  public int[] postProcessorSuffix() {
    return suffix.clone();
  }

  /**
   * The longest token of the vocabulary, in characters (at least 1). No token stands for more
   * characters than this, so a text of {@code n} characters needs at least {@code n / longestTokenChars()}
   * tokens — unless the tokenizer's normalizer deletes characters. Used to refuse over-long prompts
   * before tokenizing them.
   *
   * @return the length of the longest vocabulary or added token
   */
  public int longestTokenChars() {
    int longest = longestToken;
    if (longest == 0) {
      longest = 1;
      for (String t : idToToken) {
        if (t != null) {
          longest = Math.max(longest, t.length());
        }
      }
      longestToken = longest;
    }
    return longest;
  }

  private void checkOpen() {
    if (closed) {
      throw new ModelClosedException("the tokenizer is closed");
    }
  }

  /** Frees the native tokenizers. Idempotent; waits for calls in progress. */
  @Override
  public void close() {
    synchronized (lock) {
      if (!closed) {
        closed = true;
        full.close();
        plain.close();
      }
    }
  }
}
