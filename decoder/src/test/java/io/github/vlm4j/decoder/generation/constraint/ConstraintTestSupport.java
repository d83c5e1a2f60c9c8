package io.github.vlm4j.decoder.generation.constraint;

import java.util.ArrayList;
import java.util.List;

/** A small synthetic vocabulary and helpers shared by the constraint tests. */
final class ConstraintTestSupport {
  private ConstraintTestSupport() {}

  /** Printable ASCII single chars, a few non-ASCII chars, and multi-char JSON-ish tokens. */
  static String[] syntheticTexts() {
    List<String> t = new ArrayList<>();
    t.add(null); // id 0: a special token, never allowed
    for (char c = ' '; c <= '~'; c++) {
      t.add(String.valueOf(c));
    }
    t.add("\n");
    t.add("é");
    t.add("日本");
    for (String s : new String[] {"{\"", "\":", "\": ", "\",", "\", \"", "true", "false", "null", "  ", ", ", "[\"",
        "\"]", "}}", "]}", "12", "0.", "-1", "e+", "name", "age", "ab", "abc", "yes", "no", "\\u00", "\\n", "\"}",
        "{}", "[]", "[{", "}]", ""}) {
      t.add(s);
    }
    return t.toArray(new String[0]);
  }

  /** Greedily tokenizes text with the longest matching allowed token (test helper). */
  static int[] tokenize(TokenVocabulary v, String text) {
    List<Integer> ids = new ArrayList<>();
    int i = 0;
    while (i < text.length()) {
      int best = -1;
      int bestLen = 0;
      for (int id = 0; id < v.size(); id++) {
        String t = v.text(id);
        if (t != null && t.length() > bestLen && text.startsWith(t, i)) {
          best = id;
          bestLen = t.length();
        }
      }
      if (best < 0) {
        throw new IllegalArgumentException("no token for " + text.substring(i));
      }
      ids.add(best);
      i += bestLen;
    }
    return ids.stream().mapToInt(Integer::intValue).toArray();
  }

  /** Walks single-char tokens through the constraint; returns the final state or -1. */
  static int walkChars(CompiledConstraint c, TokenVocabulary v, String text) {
    int s = c.start();
    for (int i = 0; i < text.length() && s >= 0; i++) {
      int id = -1;
      for (int k = 0; k < v.size(); k++) {
        if (String.valueOf(text.charAt(i)).equals(v.text(k))) {
          id = k;
        }
      }
      s = id < 0 ? -1 : c.next(s, id);
    }
    return s;
  }

  /** Tells whether the whole text is a match, char by char. */
  static boolean matches(OutputConstraint oc, String text) {
    CharDfa d = oc.dfa();
    int s = d.walk(d.start(), text);
    return s >= 0 && d.accepting(s);
  }
}
