package io.github.vlm4j.core.prompt;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Finds caller text in a rendered chat by construction, never by searching for the text itself.
 *
 * <p>Input: the template's output rendered with placeholder {@code open + k + close} in place of text
 * part k, and its output rendered with the real texts. The placeholder output fixes the template
 * text between the parts; the real output must be exactly that template text with each placeholder
 * replaced by its part's text, as written or with surrounding whitespace trimmed (templates that
 * apply {@code | trim}). Anything else — a template that slices, re-cases or branches on the text —
 * cannot be attributed safely, and the result is {@code null}.
 *
 * <p>Stateless and thread-safe.
 */
final class CallerTextLocator {
  private CallerTextLocator() {}

  /**
   * @param withPlaceholders the output rendered with placeholders
   * @param open the placeholder's opening (unique per render, absent from every text)
   * @param close the placeholder's closing
   * @param texts the caller's text parts, indexed as in the placeholders
   * @param plain the output rendered with the real texts
   * @return template and caller segments whose concatenation is {@code plain}, or null if the texts
   *     cannot be located
   */
  static List<ChatTemplate.Segment> locate(String withPlaceholders, String open, String close, List<String> texts,
      String plain) {
    List<String> between = new ArrayList<>();   // template text: between.get(0) part between.get(1) part ...
    List<Integer> parts = new ArrayList<>();
    int cursor = 0;
    while (true) {
      int at = withPlaceholders.indexOf(open, cursor);
      if (at < 0) {
        between.add(withPlaceholders.substring(cursor));
        break;
      }
      between.add(withPlaceholders.substring(cursor, at));
      int end = withPlaceholders.indexOf(close, at + open.length());
      if (end < 0) {
        return null;
      }
      int index = parseIndex(withPlaceholders.substring(at + open.length(), end), texts.size());
      if (index < 0) {
        return null;
      }
      parts.add(index);
      cursor = end + close.length();
    }
    if (!plain.startsWith(between.get(0))) {
      return null;
    }
    List<List<String>> candidates = new ArrayList<>();
    for (int index : parts) {
      candidates.add(candidates(texts.get(index)));
    }
    int n = parts.size();
    int[] choice = new int[n];
    int[] start = new int[n + 1];   // start[j]: position in plain where part j's text begins
    start[0] = between.get(0).length();
    Set<Long> dead = new HashSet<>();   // (part, position) pairs from which no match exists
    int j = 0;
    if (n > 0) {
      choice[0] = -1;
    }
    // iterative backtracking (conversations may have thousands of parts: no recursion)
    while (true) {
      if (j == n) {
        if (start[n] == plain.length()) {
          break;
        }
        j--;
        if (j < 0) {
          return null;
        }
        continue;
      }
      boolean advanced = false;
      for (int c = choice[j] + 1; c < candidates.get(j).size(); c++) {
        String text = candidates.get(j).get(c);
        int after = start[j] + text.length();
        String next = between.get(j + 1);
        if (plain.startsWith(text, start[j]) && plain.startsWith(next, after)
            && !dead.contains(key(j + 1, after + next.length()))) {
          choice[j] = c;
          start[j + 1] = after + next.length();
          j++;
          if (j < n) {
            choice[j] = -1;
          }
          advanced = true;
          break;
        }
      }
      if (!advanced) {
        dead.add(key(j, start[j]));
        j--;
        if (j < 0) {
          return null;
        }
      }
    }
    List<ChatTemplate.Segment> out = new ArrayList<>();
    out.add(new ChatTemplate.Segment(between.get(0), false));
    for (int k = 0; k < n; k++) {
      out.add(new ChatTemplate.Segment(candidates.get(k).get(choice[k]), true));
      out.add(new ChatTemplate.Segment(between.get(k + 1), false));
    }
    return out;
  }

  private static long key(int part, int position) {
    return ((long) part << 32) | (position & 0xFFFFFFFFL);
  }

  private static int parseIndex(String s, int count) {
    if (s.isEmpty() || s.length() > 9) {
      return -1;
    }
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) < '0' || s.charAt(i) > '9') {
        return -1;
      }
    }
    int v = Integer.parseInt(s);
    return v < count ? v : -1;
  }

  /** The text as written first, then the whitespace-trimmed forms a template's {@code trim} may produce. */
  private static List<String> candidates(String text) {
    Set<String> c = new LinkedHashSet<>();
    c.add(text);
    c.add(text.strip());
    c.add(text.trim());
    c.add(text.stripLeading());
    c.add(text.stripTrailing());
    return List.copyOf(c);
  }
}
