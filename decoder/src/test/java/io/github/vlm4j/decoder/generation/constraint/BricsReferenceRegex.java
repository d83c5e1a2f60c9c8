package io.github.vlm4j.decoder.generation.constraint;

import dk.brics.automaton.Automaton;
import dk.brics.automaton.RegExp;

/**
 * The reference for {@link LanguageEquivalenceTest}: the regex syntax translated to dk.brics syntax
 * and compiled by dk.brics.automaton (unbounded), as main did before the budgeted parser replaced
 * it. Use only on trusted expressions.
 */
final class BricsReferenceRegex {
  private BricsReferenceRegex() {}

  /**
   * Parses an expression.
   *
   * @param regex the expression in the syntax above
   * @return its automaton
   * @throws IllegalArgumentException saying what is wrong and where
   */
  static Automaton parse(String regex) {
    return new RegExp(toBrics(regex), RegExp.NONE).toAutomaton();
  }

  /** Translates to dk.brics syntax (flags NONE). */
  static String toBrics(String regex) {
    String r = regex;
    int begin = r.startsWith("^") ? 1 : 0;
    int end = r.length();
    if (end > begin && r.charAt(end - 1) == '$' && !escaped(r, end - 1)) {
      end--;
    }
    StringBuilder out = new StringBuilder();
    boolean inClass = false;
    for (int i = begin; i < end; i++) {
      char c = r.charAt(i);
      if (c == '\\') {
        if (i + 1 >= end) {
          throw new IllegalArgumentException("a trailing \\ at position " + i + " escapes nothing");
        }
        char e = r.charAt(++i);
        String cls = switch (e) {
          case 'd' -> "0-9";
          case 'w' -> "A-Za-z0-9_";
          case 's' -> " \\\t\\\n\\\r\\\f";
          default -> null;
        };
        if (cls != null) {
          out.append(inClass ? cls : "[" + cls + "]");
        } else if ("DWSbBpPkQE".indexOf(e) >= 0 || Character.isDigit(e)) {
          throw new IllegalArgumentException("\\" + e + " at position " + (i - 1) + " is not supported");
        } else {
          char lit = switch (e) {
            case 't' -> '\t';
            case 'n' -> '\n';
            case 'r' -> '\r';
            case 'f' -> '\f';
            default -> e;
          };
          out.append('\\').append(lit);
        }
      } else if (c == '"' || (!inClass && "&~#@<>".indexOf(c) >= 0)) {
        out.append('\\').append(c);
      } else if (c == '[' && !inClass) {
        inClass = true;
        out.append(c);
        if (i + 1 < end && r.charAt(i + 1) == '^') {
          out.append('^');
          i++;
        }
        if (i + 1 < end && r.charAt(i + 1) == ']') {
          out.append("\\]");
          i++;
        }
      } else if (c == ']' && inClass) {
        inClass = false;
        out.append(c);
      } else if (c == '(' && !inClass && r.startsWith("(?", i)) {
        if (!r.startsWith("(?:", i)) {
          throw new IllegalArgumentException("group flags or look-around at position " + i + " are not supported");
        }
        out.append('(');
        i += 2;
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  private static boolean escaped(String s, int at) {
    int n = 0;
    for (int i = at - 1; i >= 0 && s.charAt(i) == '\\'; i--) {
      n++;
    }
    return n % 2 == 1;
  }
}
