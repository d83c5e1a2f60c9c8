package io.github.vlm4j.decoder.generation.constraint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import io.github.vlm4j.core.text.TextTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class CompiledConstraintTest {
  private static final Path MODELS = Path.of(System.getProperty("vlm4j.root", "..") + "/src/test/resources/models");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final SchemaRegistry SCHEMAS = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12);
  private static final int MAX_STEPS = 5000;

  private final TokenVocabulary synthetic = TokenVocabulary.of(ConstraintTestSupport.syntheticTexts());

  /** A random walk: ids chosen among the allowed tokens, ending in an accepting state. */
  private record Walk(List<Integer> ids, String text) {}

  private static Walk walk(CompiledConstraint c, TokenVocabulary v, SplittableRandom r) {
    int s = c.start();
    List<Integer> ids = new ArrayList<>();
    StringBuilder text = new StringBuilder();
    for (int step = 0; step < MAX_STEPS; step++) {
      boolean more = c.canContinue(s);
      if (c.accepting(s) && (!more || r.nextInt(3) == 0)) {
        return new Walk(ids, text.toString());
      }
      if (!more) {
        fail("stuck in non-accepting state " + s + " after " + text);
      }
      int[] allowed = c.allowedTokens(s);
      int id = allowed[r.nextInt(allowed.length)];
      int next = c.next(s, id);
      assertTrue(next >= 0, "an allowed token has a next state");
      ids.add(id);
      text.append(v.text(id));
      s = next;
    }
    throw new AssertionError("no accepting state within " + MAX_STEPS + " steps: " + text);
  }

  @Test
  void randomWalksOverRandomSchemasParseAndValidate() throws Exception {
    SplittableRandom r = new SplittableRandom(20261201);
    int walks = 0;
    for (int i = 0; i < 250; i++) {
      String schemaJson = RandomSchemas.schema(r, 0);
      CompiledConstraint c = CompiledConstraint.compile(OutputConstraint.jsonSchema(schemaJson), synthetic);
      Schema schema = SCHEMAS.getSchema(schemaJson, InputFormat.JSON);
      assertEveryReachableStateCanFinish(c, schemaJson);
      for (int w = 0; w < 4; w++) {
        Walk walk = walk(c, synthetic, r);
        JSON.readTree(walk.text());
        var errors = schema.validate(walk.text(), InputFormat.JSON);
        assertTrue(errors.isEmpty(), () -> schemaJson + " rejects " + walk.text() + ": " + errors);
        walks++;
      }
    }
    assertEquals(1000, walks);
  }

  /**
   * Explores every state reachable by tokens (for small automata): each can continue or accept, and
   * an accepting state is reachable from each by tokens.
   */
  private static void assertEveryReachableStateCanFinish(CompiledConstraint c, String what) {
    if (c.stateCount() > 3000) {
      return;
    }
    java.util.Map<Integer, List<Integer>> reverse = new java.util.HashMap<>();
    java.util.ArrayDeque<Integer> queue = new java.util.ArrayDeque<>(List.of(c.start()));
    java.util.Set<Integer> seen = new java.util.HashSet<>(queue);
    while (!queue.isEmpty()) {
      int s = queue.poll();
      assertTrue(c.accepting(s) || c.canContinue(s), () -> what + ": state " + s + " is stuck");
      for (int id : c.allowedTokens(s)) {
        int t = c.next(s, id);
        reverse.computeIfAbsent(t, k -> new ArrayList<>()).add(s);
        if (seen.add(t)) {
          queue.add(t);
        }
      }
    }
    java.util.Set<Integer> finishing = new java.util.HashSet<>();
    for (int s : seen) {
      if (c.accepting(s)) {
        finishing.add(s);
        queue.add(s);
      }
    }
    while (!queue.isEmpty()) {
      for (int p : reverse.getOrDefault(queue.poll(), List.of())) {
        if (finishing.add(p)) {
          queue.add(p);
        }
      }
    }
    assertEquals(seen, finishing, what + ": every reachable state can still reach an accepting one");
  }

  @Test
  void concurrentFirstUseComputesConsistentMoves() throws Exception {
    OutputConstraint oc = OutputConstraint.jsonSchema("{\"type\":\"array\",\"items\":{\"type\":\"string\"}}");
    CompiledConstraint shared = CompiledConstraint.compileUncached(oc, synthetic);
    CompiledConstraint reference = CompiledConstraint.compileUncached(oc, synthetic);
    var pool = java.util.concurrent.Executors.newFixedThreadPool(4);
    try {
      List<java.util.concurrent.Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        int seed = t;
        futures.add(pool.submit(() -> {
          SplittableRandom r = new SplittableRandom(seed);
          for (int w = 0; w < 50; w++) {
            walk(shared, synthetic, r);
          }
          return null;
        }));
      }
      for (var f : futures) {
        f.get();
      }
    } finally {
      pool.shutdown();
    }
    for (int s = 0; s < shared.stateCount(); s++) {
      assertArrayEquals(reference.allowedTokens(s), shared.allowedTokens(s), "state " + s);
    }
  }

  @Test
  void maskKeepsExactlyTheAllowedTokensAndDisallowsIdsBeyondTheVocabulary() {
    CompiledConstraint c = CompiledConstraint.compile(OutputConstraint.choice(List.of("yes", "no", "true")), synthetic);
    float[] logits = new float[synthetic.size() + 5];
    for (int i = 0; i < logits.length; i++) {
      logits[i] = i * 0.5f;
    }
    c.mask(c.start(), logits);
    int kept = 0;
    for (int i = 0; i < logits.length; i++) {
      boolean allowed = c.next(c.start(), i) >= 0;
      assertEquals(allowed ? i * 0.5f : Float.NEGATIVE_INFINITY, logits[i], "id " + i);
      if (allowed) {
        String t = synthetic.text(i);
        assertTrue("yes".startsWith(t) || "no".startsWith(t) || "true".startsWith(t), t);
        kept++;
      }
    }
    assertEquals(c.allowedCount(c.start()), kept);
    assertTrue(kept >= 4, "y, n, t, yes, no, true and more");
    assertFalse(c.accepting(c.start()));
    assertEquals(-1, c.next(c.start(), 0), "an id without text is never allowed");
  }

  @Test
  void tokensLeadingIntoDeadStatesAreNotAllowed() {
    CompiledConstraint c = CompiledConstraint.compile(OutputConstraint.regex("ab(c|d)"), synthetic);
    int s = ConstraintTestSupport.walkChars(c, synthetic, "a");
    assertTrue(s >= 0);
    List<String> allowed = new ArrayList<>();
    for (int id : c.allowedTokens(s)) {
      allowed.add(synthetic.text(id));
    }
    assertEquals(List.of("b"), allowed, "\"ab\" and \"abc\" do not fit after \"a\"");
    int end = ConstraintTestSupport.walkChars(c, synthetic, "abd");
    assertTrue(c.accepting(end));
    assertFalse(c.canContinue(end));
  }

  @Test
  void compilationsAreCachedByConstraintAndVocabulary() {
    OutputConstraint a = OutputConstraint.regex("[0-9]+");
    CompiledConstraint first = CompiledConstraint.compile(a, synthetic);
    assertSame(first, CompiledConstraint.compile(OutputConstraint.regex("[0-9]+"), synthetic));
    TokenVocabulary other = TokenVocabulary.of(ConstraintTestSupport.syntheticTexts());
    assertFalse(first == CompiledConstraint.compile(a, other), "another vocabulary compiles anew");
  }

  @Test
  void realTinyTokenizerDecodesChosenIdsToTheConcatenatedTokenTexts() throws Exception {
    Path file = MODELS.resolve("vlm4j-tiny-idefics3").resolve(TextTokenizer.FILE);
    try (TextTokenizer tok = TextTokenizer.load(Files.readAllBytes(file), file.toString())) {
      TokenVocabulary v = TokenVocabulary.of(tok);
      assertSame(v, TokenVocabulary.of(tok), "cached per tokenizer");
      for (var added : tok.addedTokens()) {
        assertEquals(null, v.text(added.id()), added.content());
      }
      String schemaJson = """
          {"type":"object","properties":{"name":{"type":"string","maxLength":12},
           "n":{"type":"integer"},"ok":{"type":"boolean"},"tags":{"type":"array","items":{"enum":["a","b c"]},
           "maxItems":3}},"required":["name","tags"]}""";
      CompiledConstraint c = CompiledConstraint.compile(OutputConstraint.jsonSchema(schemaJson), v);
      Schema schema = SCHEMAS.getSchema(schemaJson, InputFormat.JSON);
      SplittableRandom r = new SplittableRandom(7);
      for (int w = 0; w < 40; w++) {
        Walk walk = walk(c, v, r);
        int[] ids = walk.ids().stream().mapToInt(Integer::intValue).toArray();
        assertEquals(walk.text(), tok.decode(ids, false), "decode(ids) = concatenated token texts");
        assertTrue(schema.validate(walk.text(), InputFormat.JSON).isEmpty(), walk.text());
      }
      int[] encoded = tok.encode("{\"name\": \"Bob\", \"tags\": [\"a\"]}");
      int s = c.start();
      for (int id : encoded) {
        s = c.next(s, id);
        assertTrue(s >= 0, "the tokenizer's own encoding of a valid document is allowed");
      }
      assertTrue(c.accepting(s));
    }
  }
}
