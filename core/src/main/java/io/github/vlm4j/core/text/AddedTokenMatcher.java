package io.github.vlm4j.core.text;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Splits trusted text (chat-template output, never user text) at added tokens, leftmost-longest as
 * HuggingFace tokenizers do, honouring {@code lstrip}, {@code rstrip} and {@code single_word}.
 * Immutable and thread-safe.
 */
public final class AddedTokenMatcher {
  /**
   * A piece of split text: either plain text ({@code token == null}) or one added token.
   *
   * @param text the plain text (whitespace stripped by an {@code lstrip}/{@code rstrip} neighbour
   *     removed), or the added token's content
   * @param token the added token it matched, or null for plain text
   */
  public record Piece(String text, AddedToken token) {
    /**
     * Tells whether this piece is an added token.
     *
     * @return whether this piece is an added token
     */
    public boolean isToken() {
      return token != null;
    }
  }

  private final List<AddedToken> byLength;

  /**
   * Creates a matcher; tokens with empty content are ignored.
   *
   * @param tokens the added tokens
   */
  public AddedTokenMatcher(List<AddedToken> tokens) {
    List<AddedToken> sorted = new ArrayList<>(tokens);
    sorted.removeIf(t -> t.content().isEmpty());
    sorted.sort(Comparator.comparingInt((AddedToken t) -> t.content().length()).reversed());
    this.byLength = List.copyOf(sorted);
  }

  /**
   * Splits text at added tokens.
   *
   * @param text trusted text
   * @return text and token pieces in order; empty text pieces are omitted
   */
  public List<Piece> split(String text) {
    List<Piece> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    int i = 0;
    while (i < text.length()) {
      AddedToken hit = match(text, i);
      if (hit == null) {
        cur.append(text.charAt(i++));
        continue;
      }
      if (hit.lstrip()) {
        int k = cur.length();
        while (k > 0 && Character.isWhitespace(cur.charAt(k - 1))) {
          k--;
        }
        cur.setLength(k);
      }
      if (cur.length() > 0) {
        out.add(new Piece(cur.toString(), null));
        cur.setLength(0);
      }
      out.add(new Piece(hit.content(), hit));
      i += hit.content().length();
      if (hit.rstrip()) {
        while (i < text.length() && Character.isWhitespace(text.charAt(i))) {
          i++;
        }
      }
    }
    if (cur.length() > 0) {
      out.add(new Piece(cur.toString(), null));
    }
    return out;
  }

  private AddedToken match(String text, int i) {
    for (AddedToken t : byLength) {
      if (text.startsWith(t.content(), i)) {
        if (t.singleWord()) {
          int end = i + t.content().length();
          boolean before = i == 0 || !Character.isLetterOrDigit(text.charAt(i - 1));
          boolean after = end >= text.length() || !Character.isLetterOrDigit(text.charAt(end));
          if (!before || !after) {
            continue;
          }
        }
        return t;
      }
    }
    return null;
  }
}
