package io.github.vlm4j.server;

import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;

/** The kit's tiny SmolVLM/Idefics3 model (loaded once per test JVM), its pictures, and a raw HTTP client. */
final class TestServers {
  private static VisionLanguageModel model;

  private TestServers() {}

  /** @return the reference models folder, relative to the reactor root as the other modules find it */
  static Path models() {
    return Path.of(System.getProperty("vlm4j.root", "../..")).resolve("src/test/resources/models");
  }

  static synchronized VisionLanguageModel model() {
    if (model == null) {
      try {
        model = VisionLanguageModel.load(models().resolve("vlm4j-tiny-idefics3"));
      } catch (ModelLoadException e) {
        throw new IllegalStateException(e);
      }
    }
    return model;
  }

  /** @param name a picture of the tiny model's goldens folder @return its bytes */
  static byte[] picture(String name) {
    try {
      return Files.readAllBytes(models().resolve("vlm4j-tiny-idefics3/goldens").resolve(name));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String dataUri(byte[] png) {
    return "data:image/png;base64," + Base64.getEncoder().encodeToString(png);
  }

  static VlmServer start(ServerOptions.Builder options) {
    return VlmServer.start(model(), options.host("127.0.0.1").port(0).build(), false);
  }

  static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  static HttpResponse<String> post(VlmServer s, String path, String body, String key) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + path))
        .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body));
    if (key != null) {
      b.header("Authorization", "Bearer " + key);
    }
    return send(b.build());
  }

  static HttpResponse<String> get(VlmServer s, String path) {
    return send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + path))
        .timeout(Duration.ofSeconds(30)).GET().build());
  }

  private static HttpResponse<String> send(HttpRequest r) {
    try {
      return HTTP.send(r, HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
