package io.github.vlm4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** CORS: off by default; listed origins get preflights answered and the allow header, others do not. */
@Timeout(60)
class CorsTest {
  static final String APP = "https://app.example.com";

  static HttpResponse<String> preflight(VlmServer s, String origin) throws Exception {
    return TestServers.HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port()
        + "/v1/chat/completions")).timeout(Duration.ofSeconds(10)).method("OPTIONS", HttpRequest.BodyPublishers.noBody())
        .header("Origin", origin).header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization,content-type").build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static HttpResponse<String> models(VlmServer s, String origin) throws Exception {
    return TestServers.HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/v1/models"))
        .timeout(Duration.ofSeconds(10)).header("Origin", origin).header("Authorization", "Bearer k").GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void listedOriginsAreAllowedOthersAreNot() throws Exception {
    try (VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny").apiKey("k").corsOrigins(Set.of(APP)))) {
      HttpResponse<String> ok = preflight(s, APP);
      assertTrue(ok.statusCode() < 300, ok.statusCode() + " " + ok.body());
      assertEquals(Optional.of(APP), ok.headers().firstValue("Access-Control-Allow-Origin"));
      HttpResponse<String> get = models(s, APP);
      assertEquals(200, get.statusCode(), get.body());
      assertEquals(Optional.of(APP), get.headers().firstValue("Access-Control-Allow-Origin"));
      HttpResponse<String> other = models(s, "https://evil.example.com");
      assertEquals(Optional.empty(), other.headers().firstValue("Access-Control-Allow-Origin"));
      HttpResponse<String> otherPreflight = preflight(s, "https://evil.example.com");
      assertEquals(Optional.empty(), otherPreflight.headers().firstValue("Access-Control-Allow-Origin"));
      // the key is still required from an allowed origin
      HttpResponse<String> noKey = TestServers.HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
          + s.port() + "/v1/models")).header("Origin", APP).GET().build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(401, noKey.statusCode(), noKey.body());
    }
  }

  @Test
  void offByDefault() throws Exception {
    try (VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny").apiKey("k"))) {
      assertEquals(Optional.empty(), models(s, APP).headers().firstValue("Access-Control-Allow-Origin"));
      assertEquals(Optional.empty(), preflight(s, APP).headers().firstValue("Access-Control-Allow-Origin"));
    }
  }

  @Test
  void malformedOriginsAreRefusedNamingTheOption() {
    for (String bad : new String[] {"app.example.com", "https://app.example.com/path", "ftp://x", ""}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> ServerOptions.builder().corsOrigins(Set.of(bad)).build(), bad);
      assertTrue(e.getMessage().startsWith("corsOrigins must be"), e.getMessage());
    }
  }
}
