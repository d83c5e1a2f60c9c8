package io.github.vlm4j.core.text;

import java.util.ArrayList;
import java.util.List;

/**
 * Turns a stream of generated token ids into text deltas that only ever contain complete
 * characters: bytes of a character split across tokens are held back until the character is
 * complete (the HuggingFace {@code DecodeStream} scheme: decode a sliding window and emit what it
 * adds, unless it ends in U+FFFD). Concatenated deltas plus {@link #flush()} equal the decoding of
 * all ids. Not thread-safe; one per generation.
 */
public final class StreamingDetokenizer {
  private final TextTokenizer tokenizer;
  private final boolean skipSpecialTokens;
  private final List<Integer> ids = new ArrayList<>();
  private int prefixOffset;
  private int readOffset;

  /**
   * Creates a detokenizer for one generation.
   *
   * @param tokenizer the tokenizer
   * @param skipSpecialTokens drop special tokens from the text
   */
  public StreamingDetokenizer(TextTokenizer tokenizer, boolean skipSpecialTokens) {
    this.tokenizer = tokenizer;
    this.skipSpecialTokens = skipSpecialTokens;
  }

  /**
   * Adds a token and returns the text it completes.
   *
   * @param id the next token
   * @return the newly completed text, possibly empty
   */
  public String push(int id) {
    ids.add(id);
    String prefixText = decode(prefixOffset, readOffset);
    String newText = decode(prefixOffset, ids.size());
    if (newText.length() > prefixText.length() && !newText.endsWith("\uFFFD")) {
      prefixOffset = readOffset;
      readOffset = ids.size();
      return newText.substring(prefixText.length());
    }
    return "";
  }

  /**
   * Returns the text held back so far and resets.
   *
   * @return text still held back (an incomplete character decodes as U+FFFD), then resets
   */
  public String flush() {
    String prefixText = decode(prefixOffset, readOffset);
    String rest = decode(prefixOffset, ids.size());
    prefixOffset = readOffset = ids.size();
    return rest.length() > prefixText.length() ? rest.substring(prefixText.length()) : "";
  }

  private String decode(int from, int to) {
    if (from >= to) {
      return "";
    }
    int[] window = new int[to - from];
    for (int i = from; i < to; i++) {
      window[i - from] = ids.get(i);
    }
    return tokenizer.decode(window, skipSpecialTokens);
  }
}
