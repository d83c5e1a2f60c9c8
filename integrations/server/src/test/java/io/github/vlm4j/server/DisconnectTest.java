package io.github.vlm4j.server;

import static io.github.vlm4j.server.ServingTest.await;
import static io.github.vlm4j.server.ServingTest.chat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A client that closes its connection while its request waits in the queue, prefills or generates a
 * non-streamed answer cancels it (the server notices without writing anything); keep-alive
 * connections keep working; a pipelined byte read while watching closes the connection after the
 * answer. Raw sockets on loopback, so the test controls exactly when the connection closes.
 */
@Timeout(60)
class DisconnectTest {

  /** Holds requests at their start until released, counting arrivals and client disconnects. */
  static final class Holder extends ServingTest.Gate {
    final AtomicInteger disconnected = new AtomicInteger();

    @Override
    public void cancelled(ServerMetrics.Cancel cause) {
      if (cause == ServerMetrics.Cancel.CLIENT_DISCONNECTED) {
        disconnected.incrementAndGet();
      }
    }
  }

  static void send(Socket socket, String path, String body) throws IOException {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    OutputStream out = socket.getOutputStream();
    out.write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + "Content-Length: " + b.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    out.write(b);
    out.flush();
  }

  /** A response read off a raw socket: its status, its headers (lower-cased names) and body. */
  record Raw(int status, String headers, String body) {}

  static Raw read(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
      int c = in.read();
      if (c < 0) {
        throw new IOException("connection closed after " + head.size() + " header bytes");
      }
      head.write(c);
    }
    String h = head.toString(StandardCharsets.US_ASCII);
    String lower = h.toLowerCase(Locale.ROOT);
    int at = lower.indexOf("content-length: ");
    int length = Integer.parseInt(lower.substring(at + 16, lower.indexOf("\r\n", at)).trim());
    String body = new String(in.readNBytes(length), StandardCharsets.UTF_8);
    return new Raw(Integer.parseInt(h.substring(9, 12)), lower, body);
  }

  @Test
  void aClientGoneWhileItsAnswerIsPreparedCancelsTheGeneration() throws Exception {
    try (VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny"))) {
      Holder holder = new Holder();
      s.hooks(holder);
      try (Socket socket = new Socket("127.0.0.1", s.port())) {
        send(socket, "/v1/chat/completions", chat(false, 600, true));
        await(() -> holder.arrived.get() == 1, "the request to run");
      }
      // noticed while the request is still held: nothing was written to the connection
      await(() -> holder.disconnected.get() == 1, "the cancellation");
      holder.release.countDown();
      await(() -> TestServers.get(s, "/health/ready").body().contains("\"running\":0"), "the slot to free");
      assertEquals(1, s.metrics().cancelledCount(ServerMetrics.Cancel.CLIENT_DISCONNECTED));
      assertTrue(s.scrapeMetrics().contains("status=\"499\"} 1.0"), s.scrapeMetrics());
      HttpResponse<String> next = TestServers.post(s, "/v1/chat/completions", chat(false, 4, false), null);
      assertEquals(200, next.statusCode(), next.body());
    }
  }

  @Test
  void aClientGoneWhileQueuedLeavesTheQueue() throws Exception {
    try (VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny").maxConcurrent(1).maxQueue(4))) {
      // the body is valid: answered 200 when the client stays
      HttpResponse<String> direct = TestServers.post(s, "/v1/vlm4j/classify", classifyBody(), null);
      assertEquals(200, direct.statusCode(), direct.body());
      Holder holder = new Holder();
      s.hooks(holder);
      var running = ServingTest.postAsync(s, chat(false, 4, false));
      await(() -> holder.arrived.get() == 1, "the first request to run");
      try (Socket socket = new Socket("127.0.0.1", s.port())) {
        send(socket, "/v1/vlm4j/classify", classifyBody());
        await(() -> TestServers.get(s, "/health/ready").body().contains("\"queued\":1"), "the second to queue");
      }
      await(() -> TestServers.get(s, "/health/ready").body().contains("\"queued\":0"), "the queue to empty");
      assertEquals(1, holder.arrived.get(), "the abandoned request never ran");
      holder.release.countDown();
      assertEquals(200, running.get(30, TimeUnit.SECONDS).statusCode());
      await(() -> s.scrapeMetrics().contains("endpoint=\"classify\",status=\"499\"} 1.0"), "the 499 to be counted");
    }
  }

  @Test
  void keepAliveConnectionsServeRequestAfterRequest() throws Exception {
    try (VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny"));
         Socket socket = new Socket("127.0.0.1", s.port())) {
      socket.setSoTimeout(20_000);
      String first = null;
      for (int i = 0; i < 3; i++) {
        send(socket, "/v1/chat/completions", chat(false, 6, false));
        Raw r = read(socket.getInputStream());
        assertEquals(200, r.status(), r.body());
        assertTrue(!r.headers().contains("connection: close"), r.headers());
        String choices = ServingTest.JSON.readTree(r.body()).get("choices").toString();
        first = first == null ? choices : first;
        assertEquals(first, choices, "the same answer on a reused connection");
      }
      assertEquals(0, s.metrics().cancelledCount(ServerMetrics.Cancel.CLIENT_DISCONNECTED));
    }
  }

  @Test
  void bytesOfAPipelinedRequestCloseTheConnectionAfterTheAnswer() throws Exception {
    try (VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny"));
         Socket socket = new Socket("127.0.0.1", s.port())) {
      socket.setSoTimeout(20_000);
      Holder holder = new Holder();
      s.hooks(holder);
      send(socket, "/v1/chat/completions", chat(false, 4, false));
      await(() -> holder.arrived.get() == 1, "the request to run");
      send(socket, "/v1/chat/completions", chat(false, 4, false)); // pipelined, while the first runs
      Thread.sleep(200);
      holder.release.countDown();
      Raw r = read(socket.getInputStream());
      assertEquals(200, r.status(), r.body());
      assertTrue(r.headers().contains("connection: close"), r.headers());
      assertEquals(0, s.metrics().cancelledCount(ServerMetrics.Cancel.CLIENT_DISCONNECTED), "not taken for a disconnect");
    }
  }

  static String classifyBody() {
    String image = TestServers.dataUri(TestServers.picture("scene_colours_wide_0.png"));
    return "{\"demos\":[{\"image\":\"" + image + "\",\"answer\":\"yes\"}],\"query\":{\"image\":\"" + image
        + "\",\"text\":\"Is it red?\"},\"labels\":[\"yes\",\"no\"]}";
  }
}
