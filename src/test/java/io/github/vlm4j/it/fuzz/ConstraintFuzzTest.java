package io.github.vlm4j.it.fuzz;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.vlm4j.core.text.TextTokenizer;
import io.github.vlm4j.decoder.generation.constraint.CompiledConstraint;
import io.github.vlm4j.decoder.generation.constraint.OutputConstraint;
import io.github.vlm4j.decoder.generation.constraint.TokenVocabulary;
import io.github.vlm4j.it.Fixtures;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hostile output constraints → {@link OutputConstraint#regex}, {@link OutputConstraint#jsonSchema}
 * or {@link OutputConstraint#choice}, then {@link CompiledConstraint#compile} against the
 * vocabulary of a committed tiny model's tokenizer and a short token walk ({@code allowedTokens},
 * {@code next}, {@code mask}, {@code canContinue}), as a request would use it. Properties:
 *
 * <ol>
 *   <li>only {@code VlmInputException} escapes (no {@code Error}: no {@code OutOfMemoryError}, no
 *       {@code StackOverflowError}), within the per-input watchdog;
 *   <li>the factory returns or refuses within its compile time limit ({@code
 *       vlm4j.constraint.compileMillis}, default 5 s) plus 10 s (the unbudgeted JSON parsing and table
 *       building, and a cold, instrumented JVM on the first inputs);
 *   <li>the walk is consistent: {@code mask} keeps exactly the ids {@code next} accepts, and {@code
 *       canContinue} is true exactly when some id is allowed.
 * </ol>
 *
 * <p>Input format (readable, so corpus files are reproductions): UTF-8. The first char selects the
 * kind by code point modulo 3 ({@code 0} regex, {@code 1} JSON schema, {@code 2} choices, one per
 * line) and, divided by 3, the tokenizer modulo 3 (idefics3, llava, modular); the rest is the
 * constraint's text.
 */
class ConstraintFuzzTest {
  private static final FuzzRun RUN = new FuzzRun("constraints", 20);
  private static final String[] MODELS = {"vlm4j-tiny-idefics3", "vlm4j-tiny-llava", "vlm4j-tiny-modular"};
  private static final long SLACK_MILLIS = 10_000;

  /** The committed tokenizers' vocabularies, built lazily inside the first input. */
  private static final class Vocabularies {
    static final TokenVocabulary[] ALL = Arrays.stream(MODELS).map(m -> {
      try (TextTokenizer t = TextTokenizer.load(
          java.nio.file.Files.readAllBytes(Fixtures.model(m).resolve(TextTokenizer.FILE)), m)) {
        return TokenVocabulary.of(t);
      } catch (Exception e) {
        throw new IllegalStateException("committed tokenizer of " + m + " must load", e);
      }
    }).toArray(TokenVocabulary[]::new);
  }

  static Stream<byte[]> seeds() {
    return Stream.of("0[a-z]{1,5}@example\\.(com|org)", "0-?\\d+(\\.\\d+)?", "0(yes|no)", "0(a|b)*a(a|b){20}",
        "0a{100000}", "0((a*)*)*b", "0.{0,100}x.{0,100}", "1{\"type\":\"object\",\"properties\":{\"name\":"
            + "{\"type\":\"string\",\"maxLength\":20},\"n\":{\"type\":\"integer\"},\"tags\":{\"type\":\"array\","
            + "\"items\":{\"enum\":[\"a\",\"b\"]},\"maxItems\":3}},\"required\":[\"name\"]}",
        "1{\"type\":\"string\",\"pattern\":\"^[A-Z]{2}\\\\d$\"}", "1{\"type\":\"array\",\"items\":{\"type\":\"number\"}}",
        "2ok\ndefective\nunsure", "3x+y?", "4{\"type\":\"boolean\"}", "5é\n日本\n\"q\"")
        .map(s -> s.getBytes(StandardCharsets.UTF_8));
  }

  @MethodSource("seeds")
  @DictionaryEntries({"(", ")", "(?:", "|", "*", "+", "?", "{1000}", "{0,", ",1000}", "[^", "]", "\\d", "\\w", "\\s",
      ".", "^", "$", "\\", "\"type\"", "\"object\"", "\"array\"", "\"string\"", "\"number\"", "\"integer\"",
      "\"boolean\"", "\"null\"", "\"properties\"", "\"required\"", "\"additionalProperties\"", "\"items\"",
      "\"minItems\"", "\"maxItems\"", "\"pattern\"", "\"minLength\"", "\"maxLength\"", "\"enum\"", "\"const\"",
      ":{", "},", "[", "1000", "100"})
  @FuzzTest(maxDuration = "60s")
  void compile(byte[] bytes) {
    Vocabularies.ALL.getClass(); // one-time setup outside the per-input watchdog
    RUN.run(() -> {
      String s = new String(bytes, StandardCharsets.UTF_8);
      if (s.isEmpty()) {
        return;
      }
      int selector = s.codePointAt(0);
      String text = s.substring(Character.charCount(selector));
      TokenVocabulary vocabulary = Vocabularies.ALL[(selector / 3) % MODELS.length];
      long limit = Long.getLong("vlm4j.constraint.compileMillis", 5_000);
      long t0 = System.nanoTime();
      OutputConstraint c;
      try {
        c = switch (selector % 3) {
          case 0 -> OutputConstraint.regex(text);
          case 1 -> OutputConstraint.jsonSchema(text);
          default -> OutputConstraint.choice(List.of(text.split("\n", -1)));
        };
      } finally {
        long ms = (System.nanoTime() - t0) / 1_000_000;
        if (ms > limit + SLACK_MILLIS) {
          throw new AssertionError("compiling took " + ms + " ms, beyond the " + limit + " ms limit + "
              + SLACK_MILLIS + " ms: " + (text.length() > 200 ? text.substring(0, 200) + "..." : text));
        }
      }
      walk(CompiledConstraint.compile(c, vocabulary), vocabulary, Arrays.hashCode(bytes));
    });
  }

  /** Up to 12 tokens chosen by the input's hash; checks mask/next/canContinue agree. */
  private static void walk(CompiledConstraint c, TokenVocabulary v, int seed) {
    int s = c.start();
    float[] logits = new float[v.size()];
    for (int step = 0; step < 12; step++) {
      int[] allowed = c.allowedTokens(s);
      if (c.canContinue(s) != (allowed.length > 0)) {
        throw new AssertionError("canContinue is " + c.canContinue(s) + " with " + allowed.length + " allowed ids");
      }
      Arrays.fill(logits, 1f);
      c.mask(s, logits);
      List<Integer> kept = new ArrayList<>();
      for (int id = 0; id < logits.length; id++) {
        if (logits[id] == 1f) {
          kept.add(id);
        }
      }
      if (!kept.equals(Arrays.stream(allowed).boxed().toList())) {
        throw new AssertionError("mask keeps " + kept.size() + " ids, allowedTokens lists " + allowed.length);
      }
      if (allowed.length == 0) {
        return;
      }
      int id = allowed[Math.floorMod(seed * 31 + step, allowed.length)];
      s = c.next(s, id);
      if (s < 0) {
        throw new AssertionError("an allowed id " + id + " has no next state");
      }
    }
  }

  @AfterAll
  static void summary() {
    RUN.writeSummary();
    System.out.println(RUN.line());
  }
}
