package io.github.vlm4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.constraint.OutputConstraint;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The official {@code openai} npm client (pinned in {@code src/test/node/package-lock.json}, installed
 * by {@code src/test/node/openai-client.sh} on first use) against the running server on an ephemeral
 * loopback port: its non-streaming, streaming and image answers equal {@link
 * io.github.vlm4j.VisionLanguageModel#generate} (greedy) on the same input, its {@code json_schema}
 * answer equals the library's constrained answer and validates (networknt), and bad requests come
 * back as the client's typed errors. Skipped, with the reason printed, only if node or npm is not
 * installed.
 */
@Timeout(180)
class NodeOpenAiClientTest {
  static final String KEY = "node-key-9a41c7";
  static final String PROMPT = "What colours are in the image?";
  static final String SCHEMA = "{\"type\":\"object\",\"properties\":{\"colour\":{\"type\":\"string\",\"enum\":"
      + "[\"red\",\"orange\",\"blue\"]},\"count\":{\"type\":\"integer\"}},\"required\":[\"colour\",\"count\"]}";
  /** Bounds the node run: the first one installs the package with npm (seconds), later ones only run. */
  static final long NODE_TIMEOUT_SECONDS = 150;

  static boolean available(String... cmd) {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  static GenerationResult library(List<Message> messages, GenerationConfig config) {
    return TestServers.model().generate(messages, config);
  }

  @Test
  void openaiNpmClientGetsTheLibrarysAnswers(@TempDir Path tmp) throws Exception {
    boolean node = available("node", "--version");
    boolean npm = available("npm", "--version");
    if (!node || !npm) {
      String reason = "NodeOpenAiClientTest skipped: " + (node ? "" : "node ") + (npm ? "" : "npm ")
          + "not installed (CI has both)";
      System.out.println(reason);
      Assumptions.abort(reason);
    }
    byte[] png = TestServers.picture("scene_colours_wide_0.png");
    Path picture = Files.write(tmp.resolve("scene.png"), png);
    Path script = Path.of(System.getProperty("vlm4j.root", "../.."))
        .resolve("integrations/server/src/test/node/openai-client.sh");
    JsonNode out;
    try (VlmServer server = TestServers.start(ServerOptions.builder().modelId("tiny").apiKey(KEY).maxImages(2))) {
      Path stdout = tmp.resolve("out.json");
      Path stderr = tmp.resolve("err.txt");
      ProcessBuilder pb = new ProcessBuilder("bash", script.toString(), "--base", "http://127.0.0.1:" + server.port()
          + "/v1", "--key", KEY, "--model", "tiny", "--image", picture.toString(), "--prompt", PROMPT, "--schema", SCHEMA)
          .redirectOutput(stdout.toFile()).redirectError(stderr.toFile());
      long t0 = System.nanoTime();
      Process p = pb.start();
      try {
        assertTrue(p.waitFor(NODE_TIMEOUT_SECONDS, TimeUnit.SECONDS), "the node client did not finish within "
            + NODE_TIMEOUT_SECONDS + " s: " + Files.readString(stderr));
      } finally {
        p.destroyForcibly();
      }
      String err = Files.readString(stderr, StandardCharsets.UTF_8);
      assertEquals(0, p.exitValue(), "the node client failed:\n" + err);
      out = new ObjectMapper().readTree(Files.readString(stdout, StandardCharsets.UTF_8));
      System.out.println("[node-openai] " + out.get("client").asText() + " ran in "
          + (System.nanoTime() - t0) / 1_000_000 + " ms (a first run also installs it with npm ci)");
    }
    assertTrue(out.get("client").asText().startsWith("openai 6."), out.toString());

    GenerationResult text = library(List.of(Message.user(PROMPT)), GenerationConfig.greedy(16));
    JsonNode t = out.get("text");
    assertEquals(text.text(), t.get("content").asText());
    assertEquals("chat.completion", t.get("object").asText());
    assertEquals(text.usage().promptTokens(), t.get("usage").get("prompt_tokens").asInt());
    assertEquals(text.usage().generatedTokens(), t.get("usage").get("completion_tokens").asInt());

    List<Message> withImage = List.of(Message.user(ImageInput.of(png), PROMPT));
    GenerationResult image = library(withImage, GenerationConfig.greedy(24));
    assertFalse(image.text().isEmpty());
    JsonNode s = out.get("stream");
    assertEquals(image.text(), s.get("content").asText(), s.toString());
    assertTrue(s.get("chunks").asInt() >= 3, s.toString());
    assertEquals(1, s.get("finish_reasons").size(), s.toString());
    assertEquals(image.usage().promptTokens(), s.get("usage").get("prompt_tokens").asInt());
    assertEquals(image.usage().generatedTokens(), s.get("usage").get("completion_tokens").asInt());
    assertEquals(image.text(), out.get("image").get("content").asText());
    assertEquals(image.usage().imageTokens() > 0, out.get("image").get("usage").get("prompt_tokens").asInt()
        > text.usage().promptTokens());

    GenerationResult structured = library(withImage, GenerationConfig.builder().maxNewTokens(64)
        .constraint(OutputConstraint.jsonSchema(SCHEMA)).build());
    String json = out.get("json_schema").get("content").asText();
    assertEquals(structured.text(), json);
    assertEquals("stop", out.get("json_schema").get("finish_reason").asText(), json);
    Schema validator = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12)
        .getSchema(SCHEMA, InputFormat.JSON);
    var errors = validator.validate(json, InputFormat.JSON);
    assertTrue(errors.isEmpty(), json + ": " + errors);

    JsonNode corrupt = out.get("corrupt_image");
    assertEquals("BadRequestError", corrupt.get("class").asText(), corrupt.toString());
    assertEquals(400, corrupt.get("status").asInt());
    assertTrue(corrupt.get("code").asText().startsWith("image_"), corrupt.toString());
    JsonNode unknown = out.get("unknown_model");
    assertEquals("NotFoundError", unknown.get("class").asText(), unknown.toString());
    assertEquals(404, unknown.get("status").asInt());
    assertEquals("model_not_found", unknown.get("code").asText());
  }
}
