package io.github.vlm4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A Qwen2-VL model behind the server: answers equal the library's, and the {@code min_pixels} /
 * {@code max_pixels} extension bounds the image tokens (and is refused alone, or on a fixed-frame model).
 */
@Timeout(60)
class QwenServerTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String QUESTION = "What colour is the circle?";

  static ObjectNode chat(byte[] png) {
    ObjectNode body = JSON.createObjectNode().put("model", "qwen").put("max_tokens", 8);
    ObjectNode user = body.putArray("messages").addObject().put("role", "user");
    var content = user.putArray("content");
    content.addObject().put("type", "image_url").putObject("image_url").put("url", TestServers.dataUri(png));
    content.addObject().put("type", "text").put("text", QUESTION);
    return body;
  }

  @Test
  void pixelBudgetBoundsImageTokensOverHttp() throws Exception {
    Path folder = TestServers.models().resolve("vlm4j-tiny-qwen2-vl");
    Path image = folder.resolve("goldens/large_no_resize_0.png");   // 224x196: 56 image tokens
    byte[] png = Files.readAllBytes(image);
    try (VisionLanguageModel model = VisionLanguageModel.load(folder);
        VlmServer s = VlmServer.start(model, ServerOptions.builder().modelId("qwen").host("127.0.0.1").port(0).build(),
            false)) {
      List<Message> msgs = List.of(Message.user(ImageInput.of(image), QUESTION));
      RequestOptions small = RequestOptions.DEFAULT.withPixelBudget(784, 12544);
      GenerationResult full = model.generate(msgs, GenerationConfig.greedy(8), RequestOptions.DEFAULT,
          TokenStreamer.none());
      GenerationResult bounded = model.generate(msgs, GenerationConfig.greedy(8), small, TokenStreamer.none());
      assertEquals(56 - 12, full.usage().promptTokens() - bounded.usage().promptTokens());

      HttpResponse<String> r = TestServers.post(s, "/v1/chat/completions", chat(png).toString(), null);
      assertEquals(200, r.statusCode(), r.body());
      JsonNode o = JSON.readTree(r.body());
      assertEquals(full.text(), o.get("choices").get(0).get("message").get("content").asText());
      assertEquals(full.usage().promptTokens(), o.get("usage").get("prompt_tokens").asInt());

      HttpResponse<String> b = TestServers.post(s, "/v1/chat/completions",
          chat(png).put("min_pixels", 784).put("max_pixels", 12544).toString(), null);
      assertEquals(200, b.statusCode(), b.body());
      JsonNode ob = JSON.readTree(b.body());
      assertEquals(bounded.text(), ob.get("choices").get(0).get("message").get("content").asText());
      assertEquals(bounded.usage().promptTokens(), ob.get("usage").get("prompt_tokens").asInt());

      HttpResponse<String> alone = TestServers.post(s, "/v1/chat/completions",
          chat(png).put("max_pixels", 12544).toString(), null);
      assertEquals(400, alone.statusCode(), alone.body());
      assertTrue(alone.body().contains("min_pixels and max_pixels go together"), alone.body());
      HttpResponse<String> inverted = TestServers.post(s, "/v1/chat/completions",
          chat(png).put("min_pixels", 12544).put("max_pixels", 784).toString(), null);
      assertEquals(400, inverted.statusCode(), inverted.body());
    }
    try (VlmServer fixed = TestServers.start(ServerOptions.builder().modelId("tiny"))) {
      HttpResponse<String> r = TestServers.post(fixed, "/v1/chat/completions",
          chat(TestServers.picture("scene_shapes_0.png")).put("model", "tiny").put("min_pixels", 784)
              .put("max_pixels", 12544).toString(), null);
      assertEquals(400, r.statusCode(), r.body());
      assertTrue(r.body().contains("pixel budget is not an option"), r.body());
    }
  }
}
