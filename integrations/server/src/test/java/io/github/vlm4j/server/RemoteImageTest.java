package io.github.vlm4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code http(s)} image URLs: fetched only from allow-listed hosts, without redirects, within a size
 * bound and a timeout (a loopback image host made by the test).
 */
@Timeout(60)
class RemoteImageTest {
  static final ObjectMapper JSON = new ObjectMapper();

  static String chat(String url) {
    ObjectNode body = JSON.createObjectNode().put("max_tokens", 4);
    var content = body.putArray("messages").addObject().put("role", "user").putArray("content");
    content.addObject().put("type", "image_url").putObject("image_url").put("url", url);
    content.addObject().put("type", "text").put("text", "What colours are in the image?");
    return body.toString();
  }

  static String code(HttpResponse<String> r) throws Exception {
    return JSON.readTree(r.body()).get("error").get("code").asText();
  }

  @Test
  void onlyAllowedHostsAreFetchedWithinBounds() throws Exception {
    byte[] png = TestServers.picture("scene_colours_wide_0.png");
    CountDownLatch never = new CountDownLatch(1);
    HttpServer host = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    host.createContext("/a.png", x -> {
      x.sendResponseHeaders(200, png.length);
      x.getResponseBody().write(png);
      x.close();
    });
    host.createContext("/big.png", x -> {
      byte[] big = new byte[4096];
      x.sendResponseHeaders(200, 0); // chunked, no length: the bound applies while reading
      for (int i = 0; i < 8; i++) {
        x.getResponseBody().write(big);
      }
      x.close();
    });
    host.createContext("/moved.png", x -> {
      x.getResponseHeaders().add("Location", "/a.png");
      x.sendResponseHeaders(302, -1);
      x.close();
    });
    host.createContext("/slow.png", x -> {
      try {
        never.await(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      x.close();
    });
    host.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
    host.start();
    String base = "http://127.0.0.1:" + host.getAddress().getPort();
    try (VlmServer s = TestServers.start(ServerOptions.builder().allowedImageHosts(Set.of("127.0.0.1"))
        .maxImageBytes(16_000).imageFetchTimeout(Duration.ofMillis(500)))) {
      HttpResponse<String> ok = TestServers.post(s, "/v1/chat/completions", chat(base + "/a.png"), null);
      assertEquals(200, ok.statusCode(), ok.body());
      HttpResponse<String> big = TestServers.post(s, "/v1/chat/completions", chat(base + "/big.png"), null);
      assertEquals(413, big.statusCode(), big.body());
      assertEquals("image_too_large", code(big));
      HttpResponse<String> moved = TestServers.post(s, "/v1/chat/completions", chat(base + "/moved.png"), null);
      assertEquals(400, moved.statusCode(), moved.body());
      assertEquals("image_fetch_failed", code(moved));
      HttpResponse<String> slow = TestServers.post(s, "/v1/chat/completions", chat(base + "/slow.png"), null);
      assertEquals(400, slow.statusCode(), slow.body());
      assertEquals("image_fetch_failed", code(slow));
      HttpResponse<String> other = TestServers.post(s, "/v1/chat/completions",
          chat("http://localhost:" + host.getAddress().getPort() + "/a.png"), null);
      assertEquals(400, other.statusCode(), other.body());
      assertEquals("image_url_not_allowed", code(other));
      HttpResponse<String> file = TestServers.post(s, "/v1/chat/completions", chat("file:///etc/hostname"), null);
      assertEquals("invalid_image_url", code(file));
    } finally {
      never.countDown();
      host.stop(0);
    }
  }
}
