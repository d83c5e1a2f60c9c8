package io.github.vlm4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Serving behaviour over raw HTTP: the bounded queue (429 + Retry-After), a disconnecting streaming
 * client cancels its generation, the request timeout cancels (504), graceful shutdown drains (503
 * for new requests, running ones finish or are cancelled after the drain bound), body limits (413)
 * and malformed bodies (400), unknown paths (404), all with OpenAI-shaped bodies.
 */
@Timeout(60)
class ServingTest {
  static final ObjectMapper JSON = new ObjectMapper();

  static String chat(boolean stream, int maxTokens, boolean ignoreEos) {
    ObjectNode body = JSON.createObjectNode().put("model", "tiny").put("max_tokens", maxTokens)
        .put("stream", stream).put("ignore_eos", ignoreEos).put("temperature", 0);
    ObjectNode msg = body.putArray("messages").addObject().put("role", "user");
    var content = msg.putArray("content");
    content.addObject().put("type", "image_url").putObject("image_url")
        .put("url", TestServers.dataUri(TestServers.picture("scene_colours_wide_0.png")));
    content.addObject().put("type", "text").put("text", "What colours are in the image?");
    return body.toString();
  }

  static JsonNode error(HttpResponse<String> r) throws Exception {
    JsonNode e = JSON.readTree(r.body()).get("error");
    assertTrue(e != null && e.has("message") && e.has("type") && e.has("param") && e.has("code"), r.body());
    return e;
  }

  static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < end, "timed out waiting for " + what);
      Thread.sleep(5);
    }
  }

  static CompletableFuture<HttpResponse<String>> postAsync(VlmServer s, String body) {
    return TestServers.HTTP.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port()
        + "/v1/chat/completions")).timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(body))
        .build(), HttpResponse.BodyHandlers.ofString());
  }

  /** Holds every request at its start until released, counting arrivals. */
  static class Gate implements Hooks {
    final CountDownLatch release = new CountDownLatch(1);
    final java.util.concurrent.atomic.AtomicInteger arrived = new java.util.concurrent.atomic.AtomicInteger();

    @Override
    public void running() {
      arrived.incrementAndGet();
      try {
        assertTrue(release.await(20, TimeUnit.SECONDS));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @Test
  void fullQueueAnswers429WithRetryAfter() throws Exception {
    try (VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny").maxConcurrent(1).maxQueue(1))) {
      Gate gate = new Gate();
      s.hooks(gate);
      var running = postAsync(s, chat(false, 4, false));
      await(() -> gate.arrived.get() == 1, "the first request to run");
      var queued = postAsync(s, chat(false, 4, false));
      await(() -> TestServers.get(s, "/health/ready").body().contains("\"queued\":1"), "the second to queue");
      HttpResponse<String> refused = TestServers.post(s, "/v1/chat/completions", chat(false, 4, false), null);
      assertEquals(429, refused.statusCode(), refused.body());
      assertEquals("1", refused.headers().firstValue("Retry-After").orElseThrow());
      assertEquals("queue_full", error(refused).get("code").asText());
      assertEquals("rate_limit_error", error(refused).get("type").asText());
      gate.release.countDown();
      assertEquals(200, running.get(30, TimeUnit.SECONDS).statusCode());
      assertEquals(200, queued.get(30, TimeUnit.SECONDS).statusCode());
      assertTrue(s.scrapeMetrics().contains("vlm4j_http_requests_total{endpoint=\"chat_completions\",status=\"429\"} 1.0"),
          s.scrapeMetrics());
    }
  }

  @Test
  void clientThatDisconnectsMidStreamCancelsItsGeneration() throws Exception {
    CountDownLatch firstChunk = new CountDownLatch(1);
    CountDownLatch closed = new CountDownLatch(1);
    try (VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny"))) {
      s.hooks(new Hooks() {
        @Override
        public void chunkWritten() {
          if (firstChunk.getCount() > 0) {
            firstChunk.countDown();
            try {
              assertTrue(closed.await(20, TimeUnit.SECONDS)); // hold the generation until the client is gone
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
        }
      });
      byte[] body = chat(true, 600, true).getBytes(StandardCharsets.UTF_8);
      try (Socket socket = new Socket("127.0.0.1", s.port())) {
        socket.setSoTimeout(20_000);
        OutputStream out = socket.getOutputStream();
        out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null && !line.startsWith("data: ")) {
          // status line and headers
        }
        assertTrue(line != null && line.contains("chat.completion.chunk"), String.valueOf(line));
      }
      assertTrue(firstChunk.await(1, TimeUnit.SECONDS));
      closed.countDown();
      await(() -> s.metrics().cancelledCount(ServerMetrics.Cancel.CLIENT_DISCONNECTED) == 1, "the cancellation");
      await(() -> TestServers.get(s, "/health/ready").body().contains("\"running\":0"), "the slot to free");
      assertTrue(s.scrapeMetrics().contains("vlm4j_generations_cancelled_total{cause=\"client_disconnected\"} 1.0"));
      // the model serves the next request
      HttpResponse<String> next = TestServers.post(s, "/v1/chat/completions", chat(false, 4, false), null);
      assertEquals(200, next.statusCode(), next.body());
    }
  }

  @Test
  void requestTimeoutCancelsTheGeneration() throws Exception {
    java.util.concurrent.atomic.AtomicInteger arrived = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicInteger cancelled = new java.util.concurrent.atomic.AtomicInteger();
    try (VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny")
        .requestTimeout(Duration.ofMillis(300)))) {
      s.hooks(new Hooks() {
        @Override
        public void running() {
          int n = arrived.incrementAndGet();
          try {
            await(() -> cancelled.get() >= n, "the timeout"); // the generation starts only after its timeout
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }

        @Override
        public void cancelled(ServerMetrics.Cancel cause) {
          assertEquals(ServerMetrics.Cancel.TIMEOUT, cause);
          cancelled.incrementAndGet();
        }
      });
      HttpResponse<String> r = TestServers.post(s, "/v1/chat/completions", chat(false, 600, true), null);
      assertEquals(504, r.statusCode(), r.body());
      assertEquals("request_timeout", error(r).get("code").asText());
      assertEquals(1, s.metrics().cancelledCount(ServerMetrics.Cancel.TIMEOUT));
      // streamed: the response has not started, so the status is still 504
      HttpResponse<String> st = TestServers.post(s, "/v1/chat/completions", chat(true, 600, true), null);
      assertEquals(504, st.statusCode(), st.body());
      assertEquals(2, s.metrics().cancelledCount(ServerMetrics.Cancel.TIMEOUT));
    }
  }

  @Test
  void shutdownDrainsRunningRequestsAndRefusesNewOnes() throws Exception {
    VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny").drainTimeout(Duration.ofSeconds(20)));
    Gate gate = new Gate();
    s.hooks(gate);
    var running = postAsync(s, chat(false, 4, false));
    await(() -> gate.arrived.get() == 1, "the request to run");
    var closing = CompletableFuture.runAsync(s::close);
    await(() -> TestServers.get(s, "/health/ready").statusCode() == 503, "readiness to drop");
    HttpResponse<String> refused = TestServers.post(s, "/v1/chat/completions", chat(false, 4, false), null);
    assertEquals(503, refused.statusCode(), refused.body());
    assertEquals("shutting_down", error(refused).get("code").asText());
    assertEquals(200, TestServers.get(s, "/health").statusCode(), "still alive while draining");
    assertFalse(closing.isDone());
    gate.release.countDown();
    HttpResponse<String> done = running.get(30, TimeUnit.SECONDS);
    assertEquals(200, done.statusCode(), done.body());
    closing.get(30, TimeUnit.SECONDS);
  }

  @Test
  void shutdownCancelsRequestsStillRunningAfterTheDrainBound() throws Exception {
    CountDownLatch cancelled = new CountDownLatch(1);
    VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny").drainTimeout(Duration.ofMillis(200)));
    CountDownLatch arrived = new CountDownLatch(1);
    s.hooks(new Hooks() {
      @Override
      public void running() {
        arrived.countDown();
        try {
          assertTrue(cancelled.await(20, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }

      @Override
      public void cancelled(ServerMetrics.Cancel cause) {
        cancelled.countDown();
      }
    });
    var running = postAsync(s, chat(false, 600, true));
    assertTrue(arrived.await(15, TimeUnit.SECONDS));
    s.close();
    HttpResponse<String> r = running.get(30, TimeUnit.SECONDS);
    assertEquals(503, r.statusCode(), r.body());
    assertEquals("shutting_down", error(r).get("code").asText());
    assertEquals(1, s.metrics().cancelledCount(ServerMetrics.Cancel.SHUTDOWN));
  }

  @Test
  void concurrentRequestsGetTheirSequentialAnswers() throws Exception {
    try (VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny").maxConcurrent(4))) {
      String[] bodies = new String[6];
      String[] expected = new String[bodies.length];
      for (int i = 0; i < bodies.length; i++) {
        bodies[i] = chat(i % 2 == 0, 6 + 3 * i, false);
        expected[i] = text(TestServers.post(s, "/v1/chat/completions", bodies[i], null));
      }
      List<CompletableFuture<HttpResponse<String>>> running = new java.util.ArrayList<>();
      for (String b : bodies) {
        running.add(postAsync(s, b));
      }
      for (int i = 0; i < bodies.length; i++) {
        assertEquals(expected[i], text(running.get(i).get(30, TimeUnit.SECONDS)), "request " + i);
      }
    }
  }

  /** @return the answer text of a plain or streamed completion */
  static String text(HttpResponse<String> r) throws Exception {
    assertEquals(200, r.statusCode(), r.body());
    if (!r.body().startsWith("data: ")) {
      return JSON.readTree(r.body()).get("choices").get(0).get("message").get("content").asText();
    }
    StringBuilder sb = new StringBuilder();
    for (String line : r.body().split("\n")) {
      if (line.startsWith("data: {")) {
        JsonNode delta = JSON.readTree(line.substring(6)).get("choices").get(0).get("delta");
        if (delta.has("content")) {
          sb.append(delta.get("content").asText());
        }
      }
    }
    assertTrue(r.body().strip().endsWith("data: [DONE]"), r.body());
    return sb.toString();
  }

  @Test
  void aTimeoutMidStreamEndsWithAnErrorEvent() throws Exception {
    CountDownLatch cancelled = new CountDownLatch(1);
    try (VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny")
        .requestTimeout(Duration.ofMillis(300)))) {
      s.hooks(new Hooks() {
        @Override
        public void chunkWritten() {
          try {
            assertTrue(cancelled.await(20, TimeUnit.SECONDS)); // the first chunk is out; wait for the timeout
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }

        @Override
        public void cancelled(ServerMetrics.Cancel cause) {
          cancelled.countDown();
        }
      });
      HttpResponse<String> r = TestServers.post(s, "/v1/chat/completions", chat(true, 600, true), null);
      assertEquals(200, r.statusCode(), "the stream had started");
      String[] events = r.body().strip().split("\n\n");
      assertEquals("data: [DONE]", events[events.length - 1]);
      JsonNode last = JSON.readTree(events[events.length - 2].substring("data: ".length()));
      assertEquals("request_timeout", last.get("error").get("code").asText(), r.body());
    }
  }

  @Test
  void errorsThrownInsideARequestAreAnsweredNotDropped() throws Exception {
    try (VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny"))) {
      java.util.concurrent.atomic.AtomicReference<Error> error = new java.util.concurrent.atomic.AtomicReference<>();
      s.hooks(new Hooks() {
        @Override
        public void running() {
          throw error.get();
        }
      });
      error.set(new StackOverflowError());
      HttpResponse<String> r = TestServers.post(s, "/v1/chat/completions", chat(false, 4, false), null);
      assertEquals(500, r.statusCode(), r.body());
      assertEquals("internal_error", error(r).get("code").asText());
      assertFalse(r.body().contains("at io.github"), "no stack trace: " + r.body());
      error.set(new OutOfMemoryError("Java heap space"));
      HttpResponse<String> oom = TestServers.post(s, "/v1/chat/completions", chat(true, 4, false), null);
      assertEquals(503, oom.statusCode(), oom.body());
      assertEquals("out_of_memory", error(oom).get("code").asText());
      s.hooks(Hooks.NONE);
      assertEquals(200, TestServers.post(s, "/v1/chat/completions", chat(false, 4, false), null).statusCode());
      assertEquals("0", JSON.readTree(TestServers.get(s, "/health/ready").body()).get("running").asText());
    }
  }

  @Test
  void responseFormatsCanBeTurnedOff() throws Exception {
    try (VlmServer s = TestServers.start(ServerOptions.builder().responseFormats(false))) {
      String schema = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3,"
          + "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{\"type\":\"integer\"}}}}";
      HttpResponse<String> refused = TestServers.post(s, "/v1/chat/completions", schema, null);
      assertEquals(400, refused.statusCode(), refused.body());
      assertEquals("response_format_disabled", error(refused).get("code").asText());
      HttpResponse<String> text = TestServers.post(s, "/v1/chat/completions", schema.replace(
          "\"json_schema\",\"json_schema\":{\"schema\":{\"type\":\"integer\"}}", "\"text\""), null);
      assertEquals(200, text.statusCode(), text.body());
    }
  }

  @Test
  void bodyLimitsAndMalformedRequests() throws Exception {
    try (VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny").maxBodyBytes(4096)
        .maxImageBytes(200))) {
      HttpResponse<String> big = TestServers.post(s, "/v1/chat/completions", "{\"x\":\"" + "a".repeat(5000) + "\"}",
          null);
      assertEquals(413, big.statusCode(), big.body());
      assertEquals("request_too_large", error(big).get("code").asText());
      // chunked (no Content-Length): counted while reading
      HttpResponse<String> chunked = TestServers.HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
          + s.port() + "/v1/chat/completions")).POST(HttpRequest.BodyPublishers.ofInputStream(
              () -> new java.io.ByteArrayInputStream(("{\"x\":\"" + "a".repeat(5000) + "\"}").getBytes(
                  StandardCharsets.UTF_8)))).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(413, chunked.statusCode(), chunked.body());
      // the unread rest of an oversized body leaves the connection unusable: the server says so, so
      // that the client's pool does not send the next request into a closing socket
      assertEquals("close", chunked.headers().firstValue("connection").orElse(""), chunked.headers().toString());
      assertEquals("close", big.headers().firstValue("connection").orElse(""), big.headers().toString());
      // an image over the encoded-size limit is refused from its base64 length, before decoding
      HttpResponse<String> image = TestServers.post(s, "/v1/chat/completions", chat(false, 4, false), null);
      assertEquals(413, image.statusCode(), image.body());
      assertEquals("image_too_large", error(image).get("code").asText());
      HttpResponse<String> malformed = TestServers.post(s, "/v1/chat/completions", "{\"messages\": [", null);
      assertEquals(400, malformed.statusCode());
      assertEquals("invalid_json", error(malformed).get("code").asText());
      HttpResponse<String> notObject = TestServers.post(s, "/v1/chat/completions", "[1,2]", null);
      assertEquals("invalid_json", error(notObject).get("code").asText());
      HttpResponse<String> typed = TestServers.post(s, "/v1/chat/completions",
          "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":\"many\"}", null);
      assertEquals(400, typed.statusCode());
      assertEquals("max_tokens", error(typed).get("param").asText());
      HttpResponse<String> tool = TestServers.post(s, "/v1/chat/completions",
          "{\"messages\":[{\"role\":\"tool\",\"content\":\"hi\"}]}", null);
      assertEquals("unsupported_role", error(tool).get("code").asText());
      HttpResponse<String> unknown = TestServers.get(s, "/v1/embeddings");
      assertEquals(404, unknown.statusCode());
      assertEquals("unknown_path", error(unknown).get("code").asText());
      // unknown fields are ignored, as OpenAI does; a text-only request works
      HttpResponse<String> ok = TestServers.post(s, "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\","
          + "\"content\":\"Say something.\"}],\"max_tokens\":3,\"logit_bias\":{},\"user\":\"u1\"}", null);
      assertEquals(200, ok.statusCode(), ok.body());
      assertEquals("chat.completion", JSON.readTree(ok.body()).get("object").asText());
    }
  }
}
