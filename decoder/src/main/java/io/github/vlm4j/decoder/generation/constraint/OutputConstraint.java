package io.github.vlm4j.decoder.generation.constraint;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.core.VlmInputException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * What generated text must match: a regular expression, one of several strings, or a JSON Schema
 * (a documented subset). Immutable and thread-safe; validated when created.
 *
 * <p><b>Regular expressions</b> match the whole output and use dk.brics.automaton syntax without
 * its optional operators, plus {@code \d \w \s}, {@code (?:...)} and ignored {@code ^}/{@code $}
 * anchors: literal chars, {@code .}, {@code [...]}/{@code [^...]}, {@code |}, {@code ( )},
 * {@code * + ?}, {@code {n}}, {@code {n,}}, {@code {n,m}}; {@code \c} is the char {@code c} (except
 * {@code \t \n \r \f}); {@code " & ~ # @ < >} are ordinary chars. Look-around, back-references,
 * {@code \b} and {@code \D \W \S} are refused.
 *
 * <p><b>JSON Schema subset</b> (the output is compact JSON with at most one space after each
 * {@code :} and {@code ,}): {@code type} (one of object, array, string, number, integer,
 * boolean, null, or an array of them, each type constrained by its own keywords — so
 * {@code ["string", "null"]} is a nullable string; required unless {@code enum}/{@code const},
 * {@code anyOf} or {@code $ref} is given), {@code enum} and {@code const} at any level;
 * {@code anyOf} (a value matching any of its schemas); {@code $ref} to {@code #/$defs/Name} or
 * {@code #/definitions/Name} of the root schema (compiled in place; a recursive reference is refused,
 * since a recursive schema describes no regular language); objects with {@code properties} (emitted in declaration order, each
 * optional one present or absent), {@code required} and {@code additionalProperties: false}
 * (absent means false; anything else is refused); arrays with {@code items}, {@code minItems},
 * {@code maxItems} (at most 100); strings with {@code pattern} (the syntax above, matching the
 * whole string, without escaped chars), {@code minLength}, {@code maxLength} (at most 1000).
 * Strings hold printable ASCII except {@code "} and {@code \}, non-control BMP chars outside the
 * surrogates, and the escapes {@code \" \\ \/ \b \f \n \r \t \}{@code uXXXX} (no surrogate
 * escapes). Numbers follow the JSON grammar with at most 16 integer and 16 fraction digits and a
 * 2-digit exponent (so every number is a finite double); integers have no fraction or exponent. The annotations {@code title},
 * {@code description}, {@code $comment}, {@code examples}, {@code default} (and {@code $schema} at
 * the root) are ignored, and the root may hold {@code $defs} / {@code definitions}; any other keyword is refused, naming it and its JSON path. Schemas nest at
 * most 16 levels and are at most 256 KiB of text.
 *
 * <p><b>Limits</b> (safe with untrusted constraints): an expression (also a schema's {@code pattern})
 * has at most 10,000 chars, groups and stacked quantifiers nested at most 100 deep, repetition counts
 * at most 1,000 and nested repetitions multiplying to at most 10,000 copies of any part; at most
 * 10,000 choices of at most 256 Ki chars in all. These are checked before any automaton is built.
 * Compiling then runs under a budget: at most 1,000,000 automaton states and 1,000,000 transitions
 * before determinization, {@value #MAX_STATES} states and 2,000,000 transitions in any deterministic
 * automaton, and 5 s of wall-clock time (system property {@code vlm4j.constraint.compileMillis}, in
 * ms); at most 2 compilations run at once in the JVM (system property {@code
 * vlm4j.constraint.concurrentCompilations}), others wait within their time limit. One compilation
 * needs at most about 250 MB of heap. Exceeding any limit fails the factory with {@code
 * VlmInputException(INVALID_OPTION)} naming the limit and what was found; no {@code Error} escapes.
 */
public final class OutputConstraint {
  /** Most states of a constraint's automaton (and of any automaton built while compiling it). */
  static final int MAX_STATES = 200_000;
  /** Most choices of {@link #choice}. */
  static final int MAX_CHOICES = 10_000;
  /** Most chars of all choices of {@link #choice} together. */
  static final int MAX_CHOICE_CHARS = 256 * 1024;

  private enum Kind { REGEX, CHOICE, JSON_SCHEMA }

  private final Kind kind;
  private final String source;
  private final String display;
  private final CharDfa dfa;

  private OutputConstraint(Kind kind, String source, String display, CharDfa dfa) {
    this.kind = kind;
    this.source = source;
    this.display = display;
    this.dfa = dfa;
  }

  /**
   * Output matching a regular expression (whole output), in the syntax described above.
   *
   * @param regex the expression
   * @return the constraint
   * @throws io.github.vlm4j.core.VlmInputException INVALID_OPTION for a malformed expression or one
   *     beyond the limits above
   * @throws java.util.concurrent.CancellationException if the thread is interrupted while waiting for
   *     a turn to compile (its interrupt flag stays set)
   */
  public static OutputConstraint regex(String regex) {
    return regex(regex, CompileBudget.standard());
  }

  static OutputConstraint regex(String regex, CompileBudget budget) {
    Objects.requireNonNull(regex, "regex");
    try (CompileBudget.Turn turn = turn(budget, "regular expression " + quote(regex))) {
      Dfa d;
      try {
        d = RegexSyntax.compile(regex, budget);
      } catch (ConstraintTooComplexException e) {
        throw tooComplex("regular expression " + quote(regex), e);
      } catch (IllegalArgumentException e) {
        throw invalid("expected a regular expression (dk.brics syntax, see OutputConstraint), found "
            + quote(regex) + ": " + e.getMessage(), e);
      }
      return of(Kind.REGEX, regex, "regex " + regex, d, "regular expression " + quote(regex));
    }
  }

  /**
   * Output equal to one of the choices.
   *
   * @param choices non-empty, distinct, non-empty strings
   * @return the constraint
   * @throws io.github.vlm4j.core.VlmInputException INVALID_OPTION for an empty list, bad entries or
   *     choices beyond the limits above
   * @throws java.util.concurrent.CancellationException if the thread is interrupted while waiting for
   *     a turn to compile (its interrupt flag stays set)
   */
  public static OutputConstraint choice(List<String> choices) {
    return choice(choices, CompileBudget.standard());
  }

  static OutputConstraint choice(List<String> choices, CompileBudget budget) {
    if (choices == null || choices.isEmpty()) {
      throw invalid("expected at least one choice, found " + (choices == null ? "null" : "an empty list"), null);
    }
    if (choices.size() > MAX_CHOICES) {
      throw invalid("expected at most " + MAX_CHOICES + " choices, found " + choices.size(), null);
    }
    long chars = 0;
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < choices.size(); i++) {
      String c = choices.get(i);
      if (c == null || c.isEmpty()) {
        throw invalid("expected non-empty choices, found " + (c == null ? "null" : "an empty string")
            + " at index " + i, null);
      }
      if (!seen.add(c)) {
        throw invalid("expected distinct choices, found " + quote(c) + " twice", null);
      }
      chars += c.length();
    }
    if (chars > MAX_CHOICE_CHARS) {
      throw invalid("expected choices of at most " + MAX_CHOICE_CHARS + " chars in all, found " + chars, null);
    }
    String what = "choice among " + choices.size() + " strings";
    try (CompileBudget.Turn turn = turn(budget, what)) {
      Dfa d;
      Nfa nfa = new Nfa(budget);
      try {
        List<Nfa.Frag> parts = new ArrayList<>();
        for (String c : choices) {
          parts.add(nfa.string(c));
        }
        d = Dfa.determinize(nfa, nfa.union(parts)).minimize(budget);
      } catch (ConstraintTooComplexException e) {
        throw tooComplex(what, e);
      } finally {
        nfa.release();
      }
      StringBuilder key = new StringBuilder();
      for (String c : choices) {
        key.append(c.length()).append(':').append(c);
      }
      return of(Kind.CHOICE, key.toString(), "choice " + String.join("|", choices), d, what);
    }
  }

  /**
   * Output that is a JSON document valid under the schema (the subset described above).
   *
   * @param schemaJson the schema as JSON text
   * @return the constraint
   * @throws io.github.vlm4j.core.VlmInputException INVALID_OPTION for malformed JSON, a keyword
   *     outside the supported subset (naming it) or a schema beyond the limits above
   * @throws java.util.concurrent.CancellationException if the thread is interrupted while waiting for
   *     a turn to compile (its interrupt flag stays set)
   */
  public static OutputConstraint jsonSchema(String schemaJson) {
    return jsonSchema(schemaJson, CompileBudget.standard());
  }

  static OutputConstraint jsonSchema(String schemaJson, CompileBudget budget) {
    Objects.requireNonNull(schemaJson, "schemaJson");
    try (CompileBudget.Turn turn = turn(budget, "JSON schema")) {
      JsonNode schema;
      Dfa a;
      try {
        schema = JsonSchemaCompiler.parse(schemaJson);
        a = JsonSchemaCompiler.compile(schema, budget);
      } catch (ConstraintTooComplexException e) {
        throw tooComplex("JSON schema", e);
      } catch (IllegalArgumentException e) {
        throw invalid("unsupported JSON schema " + e.getMessage(), e);
      }
      String canonical = JsonSchemaCompiler.canonical(schema);
      return of(Kind.JSON_SCHEMA, canonical, "JSON schema " + canonical, a, "JSON schema");
    }
  }

  /**
   * Output that is one JSON object with free property names, for "any JSON object" requests (an
   * OpenAI {@code json_object} response format, a LangChain4j JSON response format without a
   * schema), since a schema of the subset above cannot leave property names free. The object's
   * values are strings, numbers, booleans, null, or arrays or objects of those (two levels), compact
   * with at most one space after {@code :} and {@code ,}; strings hold any character except
   * {@code "}, {@code \} and control characters, plus the escapes {@code \" \\ \/ \n \t}. It is
   * the regular expression {@link #JSON_OBJECT_REGEX}, compiled once per JVM (with a 60 s time
   * limit, so that it is not refused while hostile compilations hold every turn; a refusal is typed
   * and the next call tries again).
   *
   * @return the constraint (the same instance on every call once compiled)
   * @throws io.github.vlm4j.core.VlmInputException INVALID_OPTION only if other compilations keep every
   *     turn to compile for 60 s
   */
  public static OutputConstraint jsonObject() {
    OutputConstraint c = jsonObject;
    if (c == null) {
      synchronized (OutputConstraint.class) {
        c = jsonObject;
        if (c == null) {
          c = regex(JSON_OBJECT_REGEX, CompileBudget.withMillis(JSON_OBJECT_MILLIS));
          jsonObject = c;
        }
      }
    }
    return c;
  }

  /** The regular expression of {@link #jsonObject()}. */
  public static final String JSON_OBJECT_REGEX = jsonObjectRegex();

  private static String jsonObjectRegex() {
    String str = "\"([^\"\\\\\u0000-\u001f]|\\\\[\"\\\\/nt])*\"";
    String num = "-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+\\-]?[0-9]+)?";
    String scalar = "(" + str + "|" + num + "|true|false|null)";
    String sep = " ?, ?";
    String flatArray = "\\[ ?(" + scalar + "(" + sep + scalar + ")*)? ?\\]";
    String flatObject = "\\{ ?(" + str + " ?: ?" + scalar + "(" + sep + str + " ?: ?" + scalar + ")*)? ?\\}";
    String value = "(" + scalar + "|" + flatArray + "|" + flatObject + ")";
    return "\\{ ?(" + str + " ?: ?" + value + "(" + sep + str + " ?: ?" + value + ")*)? ?\\}";
  }

  /** Time limit of the one compilation of {@link #jsonObject()}, in ms. */
  private static final long JSON_OBJECT_MILLIS = 60_000;
  private static volatile OutputConstraint jsonObject;

  private static OutputConstraint of(Kind kind, String source, String display, Dfa d, String what) {
    if (d.isEmpty()) {
      throw invalid("expected a " + what + " that some text matches, found one that matches no text", null);
    }
    return new OutputConstraint(kind, source, display, CharDfa.of(d));
  }

  private static CompileBudget.Turn turn(CompileBudget budget, String what) {
    try {
      return budget.turn();
    } catch (ConstraintTooComplexException e) {
      throw tooComplex(what, e);
    }
  }

  private static VlmInputException tooComplex(String what, ConstraintTooComplexException e) {
    return invalid("expected a " + what + " within the compile limits (see OutputConstraint), found: "
        + e.getMessage(), e);
  }

  private static VlmInputException invalid(String message, Throwable cause) {
    return new VlmInputException(VlmInputException.Reason.INVALID_OPTION, message, cause);
  }

  private static String quote(String s) {
    String t = s.length() > 80 ? s.substring(0, 77) + "..." : s;
    return "\"" + t + "\"";
  }

  CharDfa dfa() {
    return dfa;
  }

  /**
   * Returns a key equal for equal constraints (the kind and the expression, choices or canonical
   * schema text), for caching compilations.
   *
   * @return the key
   */
  public String key() {
    return kind + "\u0000" + source;
  }

  /**
   * Returns a short human-readable description, e.g. {@code regex [a-z]+}.
   *
   * @return the description
   */
  public String describe() {
    return display.length() > 80 ? display.substring(0, 77) + "..." : display;
  }

  /**
   * Tells whether another constraint has the same {@link #key()}.
   *
   * @param o another object
   * @return whether it is an equal constraint
   */
  @Override
  public boolean equals(Object o) {
    return o instanceof OutputConstraint c && c.kind == kind && c.source.equals(source);
  }

  /**
   * Returns a hash of the {@link #key()}.
   *
   * @return the hash
   */
  @Override
  public int hashCode() {
    return key().hashCode();
  }

  /**
   * Returns {@link #describe()}.
   *
   * @return the description
   */
  @Override
  public String toString() {
    return describe();
  }
}
