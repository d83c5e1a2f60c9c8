package io.github.vlm4j.florence;

/**
 * The well-formed location tokens of one text, found in a single pass: {@code <loc_} followed by one
 * or more ASCII digits and {@code >} (the digits of transformers.js's {@code <loc_(\d+)>}; any digit
 * count, any value). Lets the parser ask "do k tokens follow one another from here" in O(k), which
 * keeps the whole parse linear in the text length. Not thread-safe; used by one parse call.
 */
final class LocationTokens {
  private static final String OPEN = "<loc_";

  private final String text;
  /** For each index, the end (exclusive) of the token starting there, or 0 if none starts there. */
  private final int[] end;

  LocationTokens(String text) {
    this.text = text;
    this.end = new int[text.length()];
    int n = text.length();
    int i = text.indexOf('<');
    while (i >= 0) {
      int next = i + 1;
      if (text.startsWith(OPEN, i)) {
        int d = i + OPEN.length();
        int j = d;
        while (j < n && isAsciiDigit(text.charAt(j))) {
          j++;
        }
        if (j > d && j < n && text.charAt(j) == '>') {
          end[i] = j + 1;
          next = j + 1;
        } else {
          next = j;
        }
      }
      i = next < n ? text.indexOf('<', next) : -1;
    }
  }

  /** Whether {@code count} tokens follow one another from {@code at} (which may equal the length). */
  boolean run(int at, int count) {
    int p = at;
    for (int k = 0; k < count; k++) {
      if (p >= end.length || end[p] == 0) {
        return false;
      }
      p = end[p];
    }
    return true;
  }

  /** The end of the token at {@code at}; {@link #run(int, int)} must have confirmed one is there. */
  int endOf(int at) {
    return end[at];
  }

  /**
   * The token's number as transformers.js's {@code Number(digits)} gives it: exact up to 2^53,
   * correctly rounded above, infinite beyond the double range.
   */
  double value(int at) {
    int d = at + OPEN.length();
    int e = end[at] - 1;
    while (d < e - 1 && text.charAt(d) == '0') {
      d++;
    }
    int digits = e - d;
    if (digits <= 15) {
      return Long.parseLong(text, d, e, 10);
    }
    if (digits > 400) {
      return Double.POSITIVE_INFINITY;
    }
    return Double.parseDouble(text.substring(d, e));
  }

  private static boolean isAsciiDigit(char c) {
    return c >= '0' && c <= '9';
  }
}
