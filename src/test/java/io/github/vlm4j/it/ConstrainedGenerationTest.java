package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.ConstraintStatus;
import io.github.vlm4j.decoder.generation.FinishReason;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.constraint.OutputConstraint;
import io.github.vlm4j.decoder.generation.constraint.RandomSchemas;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** Constrained generation on the reference model, with an image in the prompt (issue 12, item 3). */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConstrainedGenerationTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String SCHEMA = """
      {"type": "object",
       "properties": {
         "shape": {"type": "string", "enum": ["circle", "square", "triangle"]},
         "count": {"type": "integer"},
         "filled": {"type": "boolean"},
         "colours": {"type": "array", "items": {"type": "string", "maxLength": 8}, "minItems": 1, "maxItems": 3}
       },
       "required": ["shape", "count", "filled", "colours"],
       "additionalProperties": false}
      """;

  private final Path dir = Fixtures.model("vlm4j-tiny-idefics3");
  private VisionLanguageModel model;
  private List<Message> chat;

  @BeforeAll
  void load() throws Exception {
    model = VisionLanguageModel.load(dir);
    chat = List.of(Message.user(dir.resolve("goldens/scene_shapes_0.png"), "What shapes are in the image?"));
  }

  @AfterAll
  void close() {
    model.close();
  }

  private GenerationResult run(OutputConstraint c, int maxNew, Long seed) {
    GenerationConfig.Builder b = GenerationConfig.builder().maxNewTokens(maxNew).constraint(c);
    if (seed != null) {
      b.temperature(1.0).seed(seed);
    }
    return model.generate(chat, b.build(), RequestOptions.DEFAULT.withImageSplitting(false), t -> { });
  }

  @Test
  void choiceGivesOneOfTheChoicesGreedyAndSampling() {
    OutputConstraint c = OutputConstraint.choice(List.of("circle", "square", "triangle", "no shapes"));
    for (Long seed : new Long[] {null, 1L, 2L, 3L, 4L, 5L}) {
      GenerationResult r = run(c, 16, seed);
      assertTrue(Set.of("circle", "square", "triangle", "no shapes").contains(r.text()), r.text());
      assertEquals(FinishReason.EOS, r.finishReason());
      assertEquals(ConstraintStatus.COMPLETE, r.constraint());
    }
  }

  @Test
  void regexOutputMatchesTheWholeExpression() {
    for (Long seed : new Long[] {null, 11L, 12L, 13L}) {
      GenerationResult r = run(OutputConstraint.regex("[1-9][0-9]? (circle|square|triangle)s?"), 16, seed);
      assertTrue(r.text().matches("[1-9][0-9]? (circle|square|triangle)s?"), r.text());
      assertEquals(ConstraintStatus.COMPLETE, r.constraint());
    }
  }

  @Test
  void jsonSchemaOutputParsesAndValidatesUnderSampling() throws Exception {
    OutputConstraint c = OutputConstraint.jsonSchema(SCHEMA);
    for (long seed = 100; seed < 112; seed++) {
      GenerationResult r = run(c, 200, seed);
      assertEquals(ConstraintStatus.COMPLETE, r.constraint(), r.text());
      JsonNode o = JSON.readTree(r.text());
      assertEquals(Set.of("shape", "count", "filled", "colours"), iterableToSet(o.fieldNames()), r.text());
      assertTrue(Set.of("circle", "square", "triangle").contains(o.get("shape").asText()), r.text());
      assertTrue(o.get("count").isIntegralNumber() && o.get("filled").isBoolean(), r.text());
      JsonNode colours = o.get("colours");
      assertTrue(colours.isArray() && colours.size() >= 1 && colours.size() <= 3, r.text());
      colours.forEach(s -> assertTrue(s.isTextual() && s.asText().length() <= 8, r.text()));
    }
  }

  /**
   * The goal: every constrained output parses and validates, over many random schemas of
   * the subset and seeds, sampling on, with an image in the prompt. Outputs that hit the token limit
   * must say INCOMPLETE; schemas needing a character that no token of this byte-level vocabulary
   * spells whole (the generator's "é" property names) must be refused typed.
   */
  @Test
  void randomSchemasWithAnImageAndSamplingAlwaysValidate() throws Exception {
    SchemaRegistry registry = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12);
    SplittableRandom random = new SplittableRandom(20261201);
    int complete = 0;
    int incomplete = 0;
    int refused = 0;
    for (int i = 0; i < 60; i++) {
      String schemaJson = RandomSchemas.schema(random, 0);
      Schema validator = registry.getSchema(schemaJson, InputFormat.JSON);
      GenerationResult r;
      try {
        r = run(OutputConstraint.jsonSchema(schemaJson), 256, 1000L + i);
      } catch (VlmInputException e) {
        assertEquals(VlmInputException.Reason.INVALID_OPTION, e.reason());
        assertTrue(e.getMessage().contains("cannot be completed with this model's tokens"), e.getMessage());
        refused++;
        continue;
      }
      if (r.constraint() == ConstraintStatus.INCOMPLETE) {
        assertEquals(FinishReason.LENGTH, r.finishReason(), r.text());
        incomplete++;
        continue;
      }
      assertEquals(ConstraintStatus.COMPLETE, r.constraint());
      String text = r.text();
      JSON.readTree(text);
      var errors = validator.validate(text, InputFormat.JSON);
      assertTrue(errors.isEmpty(), () -> schemaJson + " rejects " + text + ": " + errors);
      complete++;
    }
    System.out.printf("random schemas: %d complete and valid, %d hit the token limit, %d refused%n",
        complete, incomplete, refused);
    assertTrue(complete >= 30, complete + " complete of 60");
  }

  @Test
  void hittingTheTokenLimitMidObjectIsReportedIncomplete() {
    GenerationResult r = run(OutputConstraint.jsonSchema(SCHEMA), 4, 7L);
    assertEquals(FinishReason.LENGTH, r.finishReason());
    assertEquals(ConstraintStatus.INCOMPLETE, r.constraint());
    assertTrue(r.text().startsWith("{"), r.text());
  }

  @Test
  void requestsWithoutAConstraintSayNone() {
    assertEquals(ConstraintStatus.NONE, model.generate(chat, GenerationConfig.greedy(4)).constraint());
  }

  @Test
  void stopStringsAndAConstraintAreRefusedTogether() {
    VlmInputException e = assertThrows(VlmInputException.class, () -> GenerationConfig.builder()
        .stopStrings(List.of("}")).constraint(OutputConstraint.regex("a+")).build());
    assertEquals(VlmInputException.Reason.INVALID_OPTION, e.reason());
  }

  private static Set<String> iterableToSet(java.util.Iterator<String> it) {
    java.util.Set<String> out = new java.util.TreeSet<>();
    it.forEachRemaining(out::add);
    return out;
  }
}
