package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.vlm4j.examples.cli.Vlm4jCommand;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The {@code vlm4j} command line: golden prompt and generated ids through {@code --json}, streaming, one-line errors. */
class CliTest {
  static final String MODEL = "vlm4j-tiny-idefics3";

  record Run(int exit, String out, String err) {}

  static synchronized Run cli(String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      int exit = Vlm4jCommand.run(args);
      return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  /** The CLI takes one user turn: images first (or at markers), then the text. */
  static String singleTurnPrompt(JsonNode c) {
    JsonNode msgs = c.get("messages");
    if (msgs.size() != 1) {
      return null;
    }
    StringBuilder prompt = new StringBuilder();
    boolean sawText = false;
    for (JsonNode p : msgs.get(0).get("content")) {
      if (p.get("type").asText().equals("image")) {
        if (sawText) {
          return null;
        }
      } else {
        sawText = true;
        prompt.append(p.get("text").asText());
      }
    }
    return prompt.toString();
  }

  @Test
  void jsonOutputReproducesTheGoldens() throws Exception {
    int checked = 0;
    for (boolean builtin : new boolean[] {false, true}) {
      for (JsonNode c : Fixtures.json(Fixtures.model(MODEL).resolve("goldens.json")).get("cases")) {
        String prompt = singleTurnPrompt(c);
        if (prompt == null || prompt.contains("<image>")) {
          continue;
        }
        List<String> args = new ArrayList<>(List.of("generate", "--json", "--prompt", prompt,
            "--max-new-tokens", c.get("max_new_tokens").asText()));
        if (!builtin) {
          args.addAll(List.of("--model", Fixtures.model(MODEL).toString()));
        }
        c.get("images").forEach(i -> args.addAll(List.of("--image", Fixtures.model(MODEL).resolve(i.asText()).toString())));
        if (!c.path("options").path("do_image_splitting").asBoolean(true)) {
          args.add("--no-image-splitting");
        }
        Run r = cli(args.toArray(String[]::new));
        assertEquals(0, r.exit(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertArrayEquals(Fixtures.ints(c.get("generated_ids")), Fixtures.ints(j.get("generatedTokenIds")),
            c.get("name").asText() + (builtin ? " (built-in model)" : ""));
        assertEquals(c.get("text").asText(), j.get("text").asText());
        assertEquals(c.get("prompt_length").asInt(), j.get("promptTokenCount").asInt());
        assertTrue(j.has("promptTokenIds"), r.out());
        assertArrayEquals(Fixtures.ints(c.get("prompt_ids")), Fixtures.ints(j.get("promptTokenIds")),
            c.get("name").asText() + ": the prompt's token ids");
        assertEquals(c.get("image_token_count").asInt(), j.get("imageTokenCount").asInt());
        assertTrue(j.has("finishReason") && j.get("timingsMs").has("timeToFirstToken"));
        checked++;
      }
    }
    assertTrue(checked >= 10, "checked " + checked);
  }

  @Test
  void streamsTheGoldenTextByDefault() {
    JsonNode c = Fixtures.json(Fixtures.model(MODEL).resolve("goldens.json")).get("cases").get(0);
    Path img = Fixtures.model(MODEL).resolve(c.get("images").get(0).asText());
    Run r = cli("generate", "--model", Fixtures.model(MODEL).toString(), "--image", img.toString(),
        "--prompt", singleTurnPrompt(c), "--max-new-tokens", c.get("max_new_tokens").asText());
    assertEquals(0, r.exit(), r.err());
    assertEquals(c.get("text").asText() + System.lineSeparator(), r.out());
    assertTrue(r.err().isBlank(), r.err());
  }

  @Test
  void errorsAreOneLineWithoutStackTraces() {
    Path img = Fixtures.model(MODEL).resolve("goldens/scene_shapes_0.png");
    Run markers = cli("generate", "--model", Fixtures.model(MODEL).toString(), "--image", img.toString(),
        "--prompt", "<image> vs <image>?");
    assertEquals(1, markers.exit());
    assertEquals(1, markers.err().strip().lines().count(), markers.err());
    assertTrue(markers.err().contains("2 <image> marker(s) but 1 --image"), markers.err());
    Run missing = cli("generate", "--model", "/does/not/exist", "--prompt", "hi");
    assertEquals(3, missing.exit());
    assertTrue(missing.err().contains("does not exist") && !missing.err().contains("\tat "), missing.err());
    Run usage = cli("generate", "--image", img.toString());
    assertEquals(2, usage.exit());
    Run verbose = cli("generate", "--model", "/does/not/exist", "--prompt", "hi", "--verbose");
    assertTrue(verbose.err().contains("\tat "), "--verbose prints the stack trace");
  }
}
