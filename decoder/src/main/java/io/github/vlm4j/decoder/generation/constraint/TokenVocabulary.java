package io.github.vlm4j.decoder.generation.constraint;

import io.github.vlm4j.core.text.AddedToken;
import io.github.vlm4j.core.text.TextTokenizer;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;

/**
 * The text each token id stands for, as constrained decoding needs it. Immutable and thread-safe.
 *
 * <p>The text of id {@code i} is what it adds when it follows other text: {@code decode([a, i])}
 * minus {@code decode([a])} for a plain anchor token {@code a} (the token of {@code "a"}), which
 * handles byte-level BPE ({@code Ġ}) and SentencePiece ({@code ▁}) vocabularies alike. Ids that are
 * special or added tokens, whose text is empty, contains U+FFFD (a partial UTF-8 sequence) or does
 * not extend the anchor's text, are never allowed by a constraint. So a char that no allowed token
 * spells whole (a non-ASCII char a byte-level vocabulary only has as partial bytes) cannot be
 * generated under a constraint; a state that needs one reports {@code canContinue == false}.
 */
public final class TokenVocabulary {
  private static final Map<TextTokenizer, TokenVocabulary> CACHE = new WeakHashMap<>();

  private final String[] texts;
  /** Allowed texts sorted, their ids, and the common prefix length of each with the one before. */
  private final String[] sorted;
  private final int[] sortedIds;
  private final int[] lcp;
  private final int longest;

  private TokenVocabulary(String[] texts) {
    this.texts = texts.clone();
    Integer[] order = new Integer[texts.length];
    int n = 0;
    for (int i = 0; i < texts.length; i++) {
      String t = texts[i];
      if (t == null || t.isEmpty() || t.indexOf('\ufffd') >= 0) {
        this.texts[i] = null;
      } else {
        order[n++] = i;
      }
    }
    Integer[] ids = Arrays.copyOf(order, n);
    Arrays.sort(ids, (x, y) -> {
      int c = this.texts[x].compareTo(this.texts[y]);
      return c != 0 ? c : Integer.compare(x, y);
    });
    sorted = new String[n];
    sortedIds = new int[n];
    lcp = new int[n];
    int max = 0;
    for (int k = 0; k < n; k++) {
      sortedIds[k] = ids[k];
      sorted[k] = this.texts[ids[k]];
      max = Math.max(max, sorted[k].length());
      if (k > 0) {
        String a = sorted[k - 1];
        String b = sorted[k];
        int l = 0;
        int lim = Math.min(a.length(), b.length());
        while (l < lim && a.charAt(l) == b.charAt(l)) {
          l++;
        }
        lcp[k] = l;
      }
    }
    longest = max;
  }

  /**
   * Returns the vocabulary of a tokenizer (computed once per tokenizer and cached while the
   * tokenizer is reachable).
   *
   * @param tokenizer the tokenizer, open
   * @return its vocabulary
   */
  public static TokenVocabulary of(TextTokenizer tokenizer) {
    synchronized (CACHE) {
      TokenVocabulary v = CACHE.get(tokenizer);
      if (v != null) {
        return v;
      }
    }
    TokenVocabulary computed = new TokenVocabulary(texts(tokenizer));
    synchronized (CACHE) {
      return CACHE.computeIfAbsent(tokenizer, t -> computed);
    }
  }

  /**
   * Returns a vocabulary from the text of each id (for tests and benchmarks).
   *
   * @param texts the text of id {@code i} at index {@code i}; null or empty for ids never allowed
   * @return the vocabulary
   */
  public static TokenVocabulary of(String[] texts) {
    return new TokenVocabulary(texts);
  }

  private static String[] texts(TextTokenizer tokenizer) {
    int size = tokenizer.vocabSize();
    String[] texts = new String[size];
    int[] a = tokenizer.encode("a");
    if (a.length != 1) {
      return texts;
    }
    int anchor = a[0];
    String prefix = tokenizer.decode(new int[] {anchor}, false);
    if (prefix.isEmpty()) {
      return texts;
    }
    Set<Integer> added = new HashSet<>();
    for (AddedToken t : tokenizer.addedTokens()) {
      added.add(t.id());
    }
    int[] pair = {anchor, 0};
    for (int i = 0; i < size; i++) {
      if (tokenizer.isSpecial(i) || added.contains(i)) {
        continue;
      }
      pair[1] = i;
      String both;
      try {
        both = tokenizer.decode(pair, false);
      } catch (IllegalArgumentException hole) {
        continue; // an id without a token
      }
      if (both.startsWith(prefix) && both.length() > prefix.length()) {
        texts[i] = both.substring(prefix.length());
      }
    }
    return texts;
  }

  /**
   * Returns the number of ids (allowed or not).
   *
   * @return ids range over {@code [0, size())}
   */
  public int size() {
    return texts.length;
  }

  /**
   * Returns the text of a token.
   *
   * @param id a token id
   * @return its text, or null if a constraint never allows it
   */
  public String text(int id) {
    return id >= 0 && id < texts.length ? texts[id] : null;
  }

  int allowedCount() {
    return sorted.length;
  }

  String sortedText(int k) {
    return sorted[k];
  }

  int sortedId(int k) {
    return sortedIds[k];
  }

  int commonPrefix(int k) {
    return lcp[k];
  }

  int longest() {
    return longest;
  }
}
