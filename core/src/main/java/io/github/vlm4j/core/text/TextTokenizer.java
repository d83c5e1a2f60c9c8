package io.github.vlm4j.core.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.vlm4j.core.ModelClosedException;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ModelFolder;
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
   * Loads {@code tokenizer.json} from a model folder.
   *
   * @param folder the model folder
   * @return the tokenizer; the caller owns it
   * @throws ModelLoadException MISSING_FILE or TOKENIZER
   */
  public static TextTokenizer load(ModelFolder folder) throws ModelLoadException {
    return load(folder.readBytes(FILE), folder.describe(FILE));
  }

  /**
   * @param tokenizerJson the bytes of a {@code tokenizer.json}
   * @param source where they came from, for messages
   * @return the tokenizer; the caller owns it
   * @throws ModelLoadException TOKENIZER if the file cannot be parsed
   */
  public static TextTokenizer load(byte[] tokenizerJson, String source) throws ModelLoadException {
    optOutOfDjlNetworkAccess();
    JsonNode root;
    try {
      root = JSON.readTree(tokenizerJson);
    } catch (IOException e) {
      throw new ModelLoadException(ModelLoadException.Reason.TOKENIZER, source + " is not valid JSON: " + e.getMessage(), e);
    }
    if (root == null || !root.isObject() || !root.path("model").isObject()) {
      throw new ModelLoadException(
          ModelLoadException.Reason.TOKENIZER, source + " has no \"model\" object; expected a HuggingFace tokenizer.json");
    }
    List<AddedToken> added = new ArrayList<>();
    for (JsonNode a : root.path("added_tokens")) {
      added.add(new AddedToken(a.path("id").asInt(), a.path("content").asText(), a.path("special").asBoolean(false),
          a.path("lstrip").asBoolean(false), a.path("rstrip").asBoolean(false), a.path("single_word").asBoolean(false)));
    }
    Map<String, Integer> vocab = new HashMap<>();
    JsonNode v = root.path("model").path("vocab");
    if (v.isObject()) {
      v.fields().forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asInt()));
    } else if (v.isArray()) { // Unigram: [[piece, score], ...]
      for (int i = 0; i < v.size(); i++) {
        vocab.put(v.get(i).get(0).asText(), i);
      }
    }
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

  /** @param token a token's text @return its id, if the vocabulary or added tokens hold it */
  public OptionalInt idOf(String token) {
    Integer id = tokenToId.get(token);
    return id == null ? OptionalInt.empty() : OptionalInt.of(id);
  }

  /** @param id token id @return whether it is a special added token */
  public boolean isSpecial(int id) {
    return id >= 0 && id < special.length && special[id];
  }

  /** @return ids from 0 to this bound (exclusive) may exist */
  public int vocabSize() {
    return idToToken.length;
  }

  /** @return the added tokens */
  public List<AddedToken> addedTokens() {
    return addedTokens;
  }

  /** @return the splitter for trusted text */
  public AddedTokenMatcher matcher() {
    return matcher;
  }

  /** @return ids the post-processor puts before a sequence (e.g. BOS), possibly empty */
  public int[] postProcessorPrefix() {
    return prefix.clone();
  }

  /** @return ids the post-processor puts after a sequence, possibly empty */
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
