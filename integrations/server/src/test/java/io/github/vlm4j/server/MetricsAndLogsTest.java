package io.github.vlm4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code GET /metrics} parses as Prometheus text and counts what happened; logs hold no key and no image bytes. */
@Timeout(60)
class MetricsAndLogsTest {
  static final ObjectMapper JSON = new ObjectMapper();
  /** A sample line of the text format: name, optional labels, value. */
  static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*\\})? (-?[0-9.eE+\\-]+|NaN|\\+Inf|-Inf)");

  static Map<String, Double> parse(String text) {
    Map<String, Double> out = new HashMap<>();
    for (String line : text.split("\n")) {
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      Matcher m = SAMPLE.matcher(line);
      assertTrue(m.matches(), "not a Prometheus sample line: " + line);
      out.put(m.group(1) + (m.group(2) == null ? "" : m.group(2)), Double.parseDouble(m.group(3).replace("+Inf",
          "Infinity")));
    }
    return out;
  }

  static double value(Map<String, Double> m, String key) {
    return m.getOrDefault(key, 0.0);
  }

  @Test
  void metricsCountRequestsTokensAndCacheHits() throws Exception {
    String key = "metrics-key-91c2";
    try (VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny").apiKey(key))) {
      Map<String, Double> before = parse(s.scrapeMetrics());
      String body = ServingTest.chat(false, 6, false);
      int prompt = 0;
      int completion = 0;
      for (int i = 0; i < 2; i++) {
        HttpResponse<String> r = TestServers.post(s, "/v1/chat/completions", body, key);
        assertEquals(200, r.statusCode(), r.body());
        JsonNode usage = JSON.readTree(r.body()).get("usage");
        prompt += usage.get("prompt_tokens").asInt();
        completion += usage.get("completion_tokens").asInt();
      }
      assertEquals(400, TestServers.post(s, "/v1/chat/completions", "{}", key).statusCode());
      HttpResponse<String> scrape = TestServers.HTTP.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(
          "http://127.0.0.1:" + s.port() + "/metrics")).header("Authorization", "Bearer " + key).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, scrape.statusCode());
      assertTrue(scrape.headers().firstValue("Content-Type").orElseThrow().startsWith("text/plain"));
      Map<String, Double> m = parse(scrape.body());
      assertEquals(2.0, value(m, "vlm4j_http_requests_total{endpoint=\"chat_completions\",status=\"200\"}"));
      assertEquals(1.0, value(m, "vlm4j_http_requests_total{endpoint=\"chat_completions\",status=\"400\"}"));
      assertEquals(prompt, value(m, "vlm4j_prompt_tokens_total") - value(before, "vlm4j_prompt_tokens_total"), 1e-9);
      assertEquals(completion, value(m, "vlm4j_completion_tokens_total")
          - value(before, "vlm4j_completion_tokens_total"), 1e-9);
      assertEquals(2.0, value(m, "vlm4j_time_to_first_token_seconds_count"));
      assertEquals(2.0, value(m, "vlm4j_decode_time_seconds_count"));
      assertTrue(m.keySet().stream().anyMatch(k -> k.startsWith("vlm4j_time_to_first_token_seconds_bucket{le=")), m
          .keySet().toString());
      assertEquals(0.0, value(m, "vlm4j_queue_depth"));
      // the same picture twice: the second request's vision features came from the model's cache
      assertTrue(value(m, "vlm4j_image_cache_hits_total") - value(before, "vlm4j_image_cache_hits_total") >= 1.0,
          scrape.body());
      assertTrue(m.containsKey("vlm4j_generations_cancelled_total{cause=\"client_disconnected\"}"));
      // the model's continuous-batching counters: requests one after the other each step alone on
      // their own state (a request joins the shared batch only while another one is active)
      assertEquals(0.0, value(m, "vlm4j_batch_joins_total") - value(before, "vlm4j_batch_joins_total"), scrape.body());
      assertEquals(0.0, value(m, "vlm4j_batch_steps_total") - value(before, "vlm4j_batch_steps_total"), scrape.body());
      assertEquals(TestServers.model().batchStats().joins(), value(m, "vlm4j_batch_joins_total"), 1e-9);
      assertEquals(TestServers.model().batchStats().rowSteps(), value(m, "vlm4j_batch_row_steps_total"), 1e-9);
      assertEquals(TestServers.model().batchStats().steps(), value(m, "vlm4j_batch_steps_total"), 1e-9);
      assertTrue(m.containsKey("vlm4j_batch_cache_copies_total"), m.keySet().toString());
      assertEquals(TestServers.model().batchStats().cacheCopies(), value(m, "vlm4j_batch_cache_copies_total"), 1e-9);
    }
  }

  @Test
  void logsNeverHoldTheKeyOrImageBytes() throws Exception {
    String key = "sk-secret-7d1e4b0f9a";
    byte[] png = TestServers.picture("scene_colours_wide_0.png");
    String base64 = Base64.getEncoder().encodeToString(png);
    PrintStream err = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    try (VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny").apiKey(key))) {
      System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
      try {
        assertEquals(200, TestServers.post(s, "/v1/chat/completions", ServingTest.chat(false, 4, false), key)
            .statusCode());
        assertEquals(200, TestServers.post(s, "/v1/chat/completions", ServingTest.chat(true, 4, false), key)
            .statusCode());
        String corrupt = ServingTest.chat(false, 4, false).replace(base64.substring(0, 40), "!!!!" + base64.substring(4,
            40));
        assertEquals(400, TestServers.post(s, "/v1/chat/completions", corrupt, key).statusCode());
        String truncated = ServingTest.chat(false, 4, false).replace(base64, base64.substring(0, 200));
        assertEquals(400, TestServers.post(s, "/v1/chat/completions", truncated, key).statusCode());
        assertEquals(401, TestServers.post(s, "/v1/chat/completions", ServingTest.chat(false, 4, false),
            key + "x").statusCode());
        assertEquals(400, TestServers.post(s, "/v1/chat/completions", "{\"messages\": [\"" + base64, key)
            .statusCode());
      } finally {
        System.setErr(err);
      }
    }
    String logs = captured.toString(StandardCharsets.UTF_8);
    assertTrue(logs.contains("chat_completions -> 200"), "the debug request lines were captured: " + logs);
    assertFalse(logs.contains(key), logs);
    for (int i = 0; i + 16 <= base64.length(); i += 16) {
      assertFalse(logs.contains(base64.substring(i, i + 16)), "image bytes in the log: " + logs);
    }
  }
}
