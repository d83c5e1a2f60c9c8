package io.github.vlm4j.florence;

/**
 * JavaScript's whitespace and line terminators (ECMAScript WhiteSpace and LineTerminator), which
 * transformers.js's {@code trim()} and regex {@code .} use; they differ from
 * {@link Character#isWhitespace} (U+00A0, U+2007, U+202F and U+FEFF are JavaScript whitespace,
 * U+001C..U+001F are not). Stateless and thread-safe.
 */
final class JsWhitespace {
  private JsWhitespace() {}

  /** Whether JavaScript's regex {@code .} (without the s flag) refuses {@code c}. */
  static boolean isLineTerminator(char c) {
    return c == '\n' || c == '\r' || c == '\u2028' || c == '\u2029';
  }

  /** Whether {@code String.prototype.trim} removes {@code c}. */
  static boolean isWhitespace(char c) {
    switch (c) {
      case '\t':
      case '\u000B':
      case '\f':
      case ' ':
      case '\u00A0':
      case '\u1680':
      case '\u202F':
      case '\u205F':
      case '\u3000':
      case '\uFEFF':
        return true;
      default:
        return isLineTerminator(c) || (c >= '\u2000' && c <= '\u200A');
    }
  }

  /** {@code String.prototype.trim}. */
  static String trim(String s) {
    int a = 0;
    int b = s.length();
    while (a < b && isWhitespace(s.charAt(a))) {
      a++;
    }
    while (b > a && isWhitespace(s.charAt(b - 1))) {
      b--;
    }
    return s.substring(a, b);
  }
}
