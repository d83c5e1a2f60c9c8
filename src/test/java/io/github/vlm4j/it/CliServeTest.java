package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code vlm4j serve}: usage errors exit 2 before anything listens (a {@code --max-batch-tokens} below
 * the model's context window too), an unloadable model exits 3, and the shaded jar serves the
 * built-in model on an ephemeral loopback port with batching flags, answers an image request with the
 * key from the file, exports the batching counters, and drains and stops on SIGTERM.
 */
@Timeout(120)
class CliServeTest {
  static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void badFlagsAreUsageErrorsAndABadModelExits3(@TempDir Path tmp) throws Exception {
    CliUsageTest.assertUsageError(CliTest.cli("serve", "--max-queue", "-1"), "--max-queue must be in [0, 4096]");
    CliUsageTest.assertUsageError(CliTest.cli("serve", "--max-concurrent", "0"), "--max-concurrent must be in [1, 1024]");
    CliUsageTest.assertUsageError(CliTest.cli("serve", "--port", "70000"), "--port must be in [0, 65535]");
    CliUsageTest.assertUsageError(CliTest.cli("serve", "--request-timeout", "soon"), "--request-timeout",
        "500ms, 30s, 2m");
    CliUsageTest.assertUsageError(CliTest.cli("serve", "--api-key-file", tmp.resolve("missing").toString()),
        "--api-key-file", "cannot read it");
    Path empty = Files.writeString(tmp.resolve("empty"), "\n");
    CliUsageTest.assertUsageError(CliTest.cli("serve", "--api-key-file", empty.toString()), "--api-key-file",
        "empty line");
    CliUsageTest.assertUsageError(CliTest.cli("serve", "--max-batch-tokens", "0"), "--max-batch-tokens must be"
        + " positive");
    // the library checks the bound against the model's context window (1,024 positions here) when it loads
    CliTest.Run small = CliTest.cli("serve", "--port", "0", "--max-batch-tokens", "100");
    assertEquals(2, small.exit(), small.err());
    assertTrue(small.err().contains("maxBatchTokens 100 is below this model's context window of 1024"), small.err());
    CliTest.Run noModel = CliTest.cli("serve", "--port", "0", "--model", tmp.resolve("nothing").toString());
    assertEquals(3, noModel.exit(), noModel.err());
  }

  @Test
  void jarServesTheBuiltInModelAndStopsOnSigterm(@TempDir Path tmp) throws Exception {
    String key = "cli-serve-key-3b9d";
    Path keyFile = Files.writeString(tmp.resolve("key"), key + "\n");
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
        CliJarTest.jar().toString(), "serve", "--port", "0", "--api-key-file", keyFile.toString(),
        "--model-id", "tiny", "--max-batch-size", "4", "--max-batch-tokens", "4096").directory(Readme.root().toFile()).redirectOutput(tmp.resolve("out.txt").toFile());
    pb.environment().put("ORT_DISABLE_TELEMETRY", "1");
    pb.environment().put("OPT_OUT_TRACKING", "true");
    Path errFile = tmp.resolve("err.txt");
    pb.redirectError(errFile.toFile());
    Process p = pb.start();
    try {
      Matcher port = null;
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (port == null) {
        assertTrue(p.isAlive() && System.nanoTime() < end, "no listening line: " + Files.readString(errFile));
        Matcher m = Pattern.compile("listening on http://127\\.0\\.0\\.1:(\\d+)").matcher(Files.readString(errFile));
        if (m.find()) {
          port = m;
        } else {
          Thread.sleep(20);
        }
      }
      String base = "http://127.0.0.1:" + port.group(1);
      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
      byte[] png = Files.readAllBytes(Fixtures.model("vlm4j-tiny-idefics3").resolve("goldens/scene_colours_wide_0.png"));
      String body = "{\"model\":\"tiny\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
          + "\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64," + Base64.getEncoder().encodeToString(png)
          + "\"}},{\"type\":\"text\",\"text\":\"What colours are in the image?\"}]}]}";
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
          .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
          .timeout(Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), r.body());
      JsonNode answer = JSON.readTree(r.body());
      assertFalse(answer.get("choices").get(0).get("message").get("content").asText().isBlank(), r.body());
      HttpResponse<String> metrics = http.send(HttpRequest.newBuilder(URI.create(base + "/metrics"))
          .header("Authorization", "Bearer " + key).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, metrics.statusCode());
      // one request alone steps on its own state (it joins the shared batch only beside another)
      assertTrue(metrics.body().contains("\nvlm4j_batch_joins_total 0.0\n"), metrics.body());
      HttpResponse<String> noKey = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/models")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(401, noKey.statusCode());
      p.destroy(); // SIGTERM: the shutdown hook drains and closes the model
      assertTrue(p.waitFor(30, TimeUnit.SECONDS), "serve did not stop on SIGTERM");
      String rest = Files.readString(errFile);
      assertTrue(rest.contains("vlm4j server stopped"), rest);
      assertFalse(rest.contains(key), rest);
    } finally {
      p.destroyForcibly();
    }
  }
}
