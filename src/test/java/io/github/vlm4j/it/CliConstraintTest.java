package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI's --json-schema, --regex and --choice flags (issue 12, item 4). */
class CliConstraintTest {
  private static final String MODEL = Fixtures.model("vlm4j-tiny-idefics3").toString();
  private static final String IMAGE = Fixtures.model("vlm4j-tiny-idefics3").resolve("goldens/scene_shapes_0.png")
      .toString();

  private static JsonNode json(CliTest.Run r) throws Exception {
    assertEquals(0, r.exit(), r.err());
    return new ObjectMapper().readTree(r.out());
  }

  @Test
  void choiceAndRegexConstrainTheOutput() throws Exception {
    JsonNode c = json(CliTest.cli("generate", "--model", MODEL, "--image", IMAGE, "--prompt", "Which shape?",
        "--no-image-splitting", "--choice", "circle,square,triangle", "--json"));
    assertTrue(c.get("text").asText().matches("circle|square|triangle"), c.toString());
    assertEquals("COMPLETE", c.get("constraint").asText());
    JsonNode r = json(CliTest.cli("generate", "--model", MODEL, "--image", IMAGE, "--prompt", "How many shapes?",
        "--no-image-splitting", "--regex", "[0-9]", "--json"));
    assertTrue(r.get("text").asText().matches("[0-9]"), r.toString());
  }

  @Test
  void aSchemaFileConstrainsTheOutputToValidJson(@TempDir Path tmp) throws Exception {
    Path schema = tmp.resolve("schema.json");
    Files.writeString(schema, "{\"type\":\"object\",\"properties\":{\"shape\":{\"type\":\"string\","
        + "\"enum\":[\"circle\",\"square\",\"triangle\"]},\"count\":{\"type\":\"integer\"}},"
        + "\"required\":[\"shape\",\"count\"],\"additionalProperties\":false}");
    JsonNode o = json(CliTest.cli("generate", "--model", MODEL, "--image", IMAGE, "--prompt", "Describe the shapes.",
        "--no-image-splitting", "--json-schema", schema.toString(), "--max-new-tokens", "64", "--json"));
    JsonNode answer = new ObjectMapper().readTree(o.get("text").asText());
    assertTrue(answer.get("shape").isTextual() && answer.get("count").isIntegralNumber(), o.toString());
    assertEquals("COMPLETE", o.get("constraint").asText());
  }

  @Test
  void conflictingOrBadConstraintFlagsAreUsageErrors(@TempDir Path tmp) throws Exception {
    CliTest.Run two = CliTest.cli("generate", "--model", MODEL, "--prompt", "hi", "--regex", "a", "--choice", "a,b");
    assertEquals(2, two.exit(), two.err());
    assertTrue(two.err().contains("at most one of --json-schema, --regex and --choice"), two.err());
    CliTest.Run stop = CliTest.cli("generate", "--model", MODEL, "--prompt", "hi", "--regex", "a", "--stop", "x");
    assertEquals(2, stop.exit(), stop.err());
    Path bad = tmp.resolve("bad.json");
    Files.writeString(bad, "{\"type\":\"object\",\"oneOf\":[]}");
    CliTest.Run schema = CliTest.cli("generate", "--model", MODEL, "--prompt", "hi", "--json-schema", bad.toString());
    assertEquals(2, schema.exit(), schema.err());
    assertTrue(schema.err().contains("oneOf"), schema.err());
    CliTest.Run missing = CliTest.cli("generate", "--model", MODEL, "--prompt", "hi", "--json-schema",
        tmp.resolve("nope.json").toString());
    assertEquals(2, missing.exit(), missing.err());
  }

  @Test
  void anIncompleteOutputIsSaidSo() throws Exception {
    CliTest.Run r = CliTest.cli("generate", "--model", MODEL, "--image", IMAGE, "--prompt", "Describe.",
        "--no-image-splitting", "--regex", "a{50}", "--max-new-tokens", "3", "--json");
    JsonNode o = json(r);
    assertEquals("LENGTH", o.get("finishReason").asText());
    assertEquals("INCOMPLETE", o.get("constraint").asText());
    assertTrue(r.err().contains("incomplete under the constraint"), r.err());
  }
}
