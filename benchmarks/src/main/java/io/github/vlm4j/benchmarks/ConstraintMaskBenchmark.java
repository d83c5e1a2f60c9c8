package io.github.vlm4j.benchmarks;

import io.github.vlm4j.decoder.generation.constraint.CompiledConstraint;
import io.github.vlm4j.decoder.generation.constraint.OutputConstraint;
import io.github.vlm4j.decoder.generation.constraint.TokenVocabulary;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Constrained decoding over a synthetic 49,280-token vocabulary of realistic token strings (single
 * chars, words with and without a leading space, digit runs, JSON punctuation, non-ASCII words):
 * the per-step mask in a state allowing few tokens (after {@code {}) and in one allowing most
 * (inside a string), and compiling a 10-property schema (schema to DFA, then the lazily computed
 * token moves of every state along a complete document).
 *
 * <pre>{@code java -jar benchmarks/target/benchmarks.jar ConstraintMaskBenchmark}</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ConstraintMaskBenchmark {
  static final int VOCAB = 49280;
  static final String SCHEMA = """
      {"type":"object","properties":{
       "name":{"type":"string","maxLength":40},"age":{"type":"integer"},"score":{"type":"number"},
       "active":{"type":"boolean"},"kind":{"enum":["cat","dog","bird"]},"nick":{"type":"string"},
       "tags":{"type":"array","items":{"type":"string","maxLength":16},"maxItems":8},
       "code":{"type":"string","pattern":"[A-Z]{3}-\\\\d{4}"},"note":{"type":["string"]},
       "parent":{"type":"object","properties":{"id":{"type":"integer"},"label":{"type":"string"}},
        "required":["id"]}},
       "required":["name","age","kind","tags"],"additionalProperties":false}""".replace(
      "{\"type\":[\"string\"]}", "{\"type\":\"null\"}");
  static final String DOCUMENT = "{\"name\": \"Ada Lovelace\", \"age\": 36, \"score\": 9.5, \"active\": true, "
      + "\"kind\": \"cat\", \"nick\": \"ada\", \"tags\": [\"math\", \"poet\"], \"code\": \"ABC-1234\", "
      + "\"note\": null, \"parent\": {\"id\": 1, \"label\": \"x\"}}";

  private TokenVocabulary vocabulary;
  private CompiledConstraint compiled;
  private int fewState;
  private int manyState;
  private float[] logits;
  private float[] work;

  /** A synthetic vocabulary whose texts look like a byte-level BPE's. */
  static String[] vocabulary() {
    SplittableRandom r = new SplittableRandom(11);
    Set<String> texts = new LinkedHashSet<>();
    for (char c = ' '; c <= '~'; c++) {
      texts.add(String.valueOf(c));
    }
    for (String s : new String[] {"{\"", "\":", "\": ", "\",", "\", \"", "\"}", "},", "],", "[\"", "\"]", "true",
        "false", "null", " true", " false", " null", "  ", "    ", "\n", "\n  "}) {
      texts.add(s);
    }
    String[] syllables = {"a", "an", "ar", "be", "co", "de", "en", "er", "es", "in", "ing", "ion", "is", "it", "la",
        "le", "ma", "me", "ne", "on", "or", "ou", "pro", "re", "ro", "se", "st", "ta", "te", "th", "ti", "to", "un",
        "ur", "ve", "wa", "z", "ck", "ph", "qu"};
    String[] accents = {"é", "ü", "ñ", "ø", "日本", "語", "ç", "ß"};
    while (texts.size() < VOCAB) {
      int kind = r.nextInt(10);
      StringBuilder b = new StringBuilder();
      if (kind < 7) {
        if (r.nextBoolean()) {
          b.append(' ');
        }
        int n = 1 + r.nextInt(4);
        for (int i = 0; i < n; i++) {
          b.append(syllables[r.nextInt(syllables.length)]);
        }
        if (r.nextInt(5) == 0) {
          b.setCharAt(b.length() - 1, Character.toUpperCase(b.charAt(b.length() - 1)));
        }
      } else if (kind == 7) {
        b.append(r.nextInt(1000));
      } else if (kind == 8) {
        b.append(accents[r.nextInt(accents.length)]).append(syllables[r.nextInt(syllables.length)]);
      } else {
        String p = ".,;:!?\"'()[]{}-_/";
        for (int i = 0, n = 1 + r.nextInt(3); i < n; i++) {
          b.append(p.charAt(r.nextInt(p.length())));
        }
      }
      texts.add(b.toString());
    }
    return texts.toArray(new String[0]);
  }

  /** Builds the vocabulary, compiles the schema and finds the two measured states. */
  @Setup
  public void setup() {
    vocabulary = TokenVocabulary.of(vocabulary());
    compiled = CompiledConstraint.compile(OutputConstraint.jsonSchema(SCHEMA), vocabulary);
    fewState = stateAfter(compiled, "{");
    manyState = stateAfter(compiled, "{\"name\": \"Ada");
    logits = new float[VOCAB];
    SplittableRandom r = new SplittableRandom(3);
    for (int i = 0; i < VOCAB; i++) {
      logits[i] = (float) (r.nextGaussian() * 3);
    }
    work = new float[VOCAB];
    charTokens();
    System.out.println("\nallowed after '{': " + compiled.allowedCount(fewState) + ", inside a string: "
        + compiled.allowedCount(manyState) + ", states: " + compiled.stateCount());
  }

  private int stateAfter(CompiledConstraint c, String text) {
    int s = c.start();
    for (int i = 0; i < text.length(); i++) {
      String ch = String.valueOf(text.charAt(i));
      int id = -1;
      for (int k = 0; k < vocabulary.size() && id < 0; k++) {
        if (ch.equals(vocabulary.text(k))) {
          id = k;
        }
      }
      s = c.next(s, id);
      if (s < 0) {
        throw new IllegalStateException("\"" + text + "\" is not a prefix the schema allows");
      }
    }
    return s;
  }

  /**
   * Copies the logits and masks them after {@code {}, where only a few tokens fit.
   *
   * @return the masked logits
   */
  @Benchmark
  public float[] maskFewAllowed() {
    System.arraycopy(logits, 0, work, 0, VOCAB);
    compiled.mask(fewState, work);
    return work;
  }

  /**
   * Copies the logits and masks them inside a string, where most tokens fit.
   *
   * @return the masked logits
   */
  @Benchmark
  public float[] maskManyAllowed() {
    System.arraycopy(logits, 0, work, 0, VOCAB);
    compiled.mask(manyState, work);
    return work;
  }

  /**
   * Compiles the 10-property schema: parse and DFA only.
   *
   * @return the constraint
   */
  @Benchmark
  @BenchmarkMode(Mode.SingleShotTime)
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  @Warmup(iterations = 3)
  @Measurement(iterations = 10)
  public OutputConstraint compileSchemaDfa() {
    return OutputConstraint.jsonSchema(SCHEMA);
  }

  /**
   * Compiles the 10-property schema afresh and computes the token moves of every state a complete
   * document passes through, one char per token (the whole cost a first request pays).
   *
   * @return the final state
   */
  @Benchmark
  @BenchmarkMode(Mode.SingleShotTime)
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  @Warmup(iterations = 3)
  @Measurement(iterations = 10)
  public int compileSchemaAndWalkDocument() {
    CompiledConstraint c = CompiledConstraint.compileUncached(OutputConstraint.jsonSchema(SCHEMA), vocabulary);
    int s = c.start();
    for (int i = 0; i < DOCUMENT.length(); i++) {
      s = c.next(s, charToken[DOCUMENT.charAt(i)]);
    }
    if (!c.accepting(s)) {
      throw new IllegalStateException("the document does not match");
    }
    return s;
  }

  private int[] charToken;

  /** Maps each ASCII char to its single-char token. */
  private void charTokens() {
    charToken = new int[128];
    for (int k = 0; k < vocabulary.size(); k++) {
      String t = vocabulary.text(k);
      if (t != null && t.length() == 1 && t.charAt(0) < 128) {
        charToken[t.charAt(0)] = k;
      }
    }
  }
}
