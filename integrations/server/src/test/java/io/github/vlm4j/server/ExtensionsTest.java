package io.github.vlm4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.vlm4j.ContextPolicy;
import io.github.vlm4j.Demo;
import io.github.vlm4j.FewShotPrompt;
import io.github.vlm4j.LabelScores;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * vlm4j's extensions: {@code /v1/vlm4j/classify} equals {@code model.classify}, {@code adapter} and
 * {@code context_policy} per request.
 */
@Timeout(60)
class ExtensionsTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final Path FEWSHOT = TestServers.models().getParent().resolve("fewshot/inspection");
  static final String QUESTION = "Is this part ok or defective?";

  static byte[] read(Path p) throws IOException {
    return Files.readAllBytes(p);
  }

  @Test
  void classifyEqualsTheLibrarysScores() throws Exception {
    byte[] ok = read(FEWSHOT.resolve("pool/ok/inspection-0001.png"));
    byte[] bad = read(FEWSHOT.resolve("pool/defective/inspection-0000.png"));
    byte[] query = read(FEWSHOT.resolve("queries/defective/inspection-0020.png"));
    FewShotPrompt prompt = FewShotPrompt.builder().question(QUESTION).demo(Demo.of(ImageInput.of(ok), "ok"))
        .demo(Demo.of(ImageInput.of(bad), "defective")).query(ImageInput.of(query)).build();
    List<String> labels = List.of("ok", "defective");
    RequestOptions options = RequestOptions.DEFAULT.withImageSplitting(false);
    LabelScores expected = TestServers.model().classify(prompt, labels, options);

    ObjectNode body = JSON.createObjectNode().put("question", QUESTION).put("image_splitting", false);
    body.putArray("demos").add(JSON.createObjectNode().put("image", TestServers.dataUri(ok)).put("answer", "ok"))
        .add(JSON.createObjectNode().put("image", TestServers.dataUri(bad)).put("answer", "defective"));
    body.putObject("query").put("image", TestServers.dataUri(query));
    body.putArray("labels").add("ok").add("defective");
    try (VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny"))) {
      HttpResponse<String> r = TestServers.post(s, "/v1/vlm4j/classify", body.toString(), null);
      assertEquals(200, r.statusCode(), r.body());
      JsonNode o = JSON.readTree(r.body());
      assertEquals(expected.best().label(), o.get("best").get("label").asText());
      for (int i = 0; i < labels.size(); i++) {
        JsonNode got = o.get("scores").get(i);
        assertEquals(labels.get(i), got.get("label").asText());
        assertEquals(expected.scores().get(i).logProb(), got.get("log_prob").asDouble(), 1e-4, r.body());
        assertEquals(expected.scores().get(i).probability(), got.get("probability").asDouble(), 1e-4);
      }
      assertEquals(expected.usage().promptTokens(), o.get("usage").get("prompt_tokens").asInt());
      assertTrue(o.get("vlm4j").get("cached_prefix_tokens").asInt() > 0, "the demo prefix came from the cache: "
          + r.body());

      body.putArray("labels").add("ok").add("ok");
      HttpResponse<String> dup = TestServers.post(s, "/v1/vlm4j/classify", body.toString(), null);
      assertEquals(400, dup.statusCode(), dup.body());
      assertEquals("invalid_labels", JSON.readTree(dup.body()).get("error").get("code").asText());
      body.putArray("labels").add("ok");
      body.put("adapter", "nope");
      HttpResponse<String> adapter = TestServers.post(s, "/v1/vlm4j/classify", body.toString(), null);
      assertEquals(400, adapter.statusCode(), adapter.body());
      assertEquals("unknown_adapter", JSON.readTree(adapter.body()).get("error").get("code").asText());
    }
  }

  @Test
  void adapterIsChosenPerRequest() throws Exception {
    Path dir = TestServers.models().resolve("vlm4j-tiny-modular");
    byte[] png = read(dir.resolve("goldens/adapter_inspection_0.png"));
    try (VisionLanguageModel model = VisionLanguageModel.load(dir);
        VlmServer s = VlmServer.start(model, ServerOptions.builder().host("127.0.0.1").port(0).modelId("modular")
            .build(), false)) {
      for (String adapter : List.of("inspection", "counting")) {
        String expected = model.generate(List.of(Message.user(ImageInput.of(png), QUESTION)), GenerationConfig.greedy(12),
            RequestOptions.DEFAULT.withAdapter(adapter), t -> { }).text();
        ObjectNode body = JSON.createObjectNode().put("max_tokens", 12).put("adapter", adapter);
        var content = body.putArray("messages").addObject().put("role", "user").putArray("content");
        content.addObject().put("type", "image_url").putObject("image_url").put("url", TestServers.dataUri(png));
        content.addObject().put("type", "text").put("text", QUESTION);
        HttpResponse<String> r = TestServers.post(s, "/v1/chat/completions", body.toString(), null);
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(expected, JSON.readTree(r.body()).get("choices").get(0).get("message").get("content").asText(),
            adapter);
      }
    }
  }

  @Test
  void contextPolicyDropsTheOldestTurnsPerRequest() throws Exception {
    List<Message> chat = new ArrayList<>();
    ObjectNode body = JSON.createObjectNode().put("max_tokens", 8);
    var messages = body.putArray("messages");
    for (int t = 0; t < 12; t++) {
      String question = "Question " + t + ":" + " and then".repeat(40);
      chat.add(Message.user(question));
      chat.add(Message.assistant("answer " + t));
      messages.addObject().put("role", "user").put("content", question);
      messages.addObject().put("role", "assistant").put("content", "answer " + t);
    }
    chat.add(Message.user("What colours are in the image?"));
    messages.addObject().put("role", "user").put("content", "What colours are in the image?");
    RequestOptions options = RequestOptions.DEFAULT.withContextPolicy(ContextPolicy.dropOldestTurns());
    var expected = TestServers.model().generate(chat, GenerationConfig.greedy(8), options, t -> { });
    assertTrue(expected.usage().dropped().turns() > 0, expected.usage().toString());
    try (VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny"))) {
      HttpResponse<String> refused = TestServers.post(s, "/v1/chat/completions", body.toString(), null);
      assertEquals(400, refused.statusCode(), refused.body());
      assertEquals("context_length_exceeded", JSON.readTree(refused.body()).get("error").get("code").asText());

      body.put("context_policy", "drop_oldest_turns");
      HttpResponse<String> r = TestServers.post(s, "/v1/chat/completions", body.toString(), null);
      assertEquals(200, r.statusCode(), r.body());
      JsonNode o = JSON.readTree(r.body());
      assertEquals(expected.text(), o.get("choices").get(0).get("message").get("content").asText());
      assertEquals(expected.usage().promptTokens(), o.get("usage").get("prompt_tokens").asInt());
      JsonNode dropped = o.get("vlm4j").get("dropped");
      assertEquals(expected.usage().dropped().turns(), dropped.get("turns").asInt(), r.body());
      assertEquals(expected.usage().dropped().tokens(), dropped.get("tokens").asInt(), r.body());

      body.put("context_policy", "drop_newest");
      HttpResponse<String> bad = TestServers.post(s, "/v1/chat/completions", body.toString(), null);
      assertEquals(400, bad.statusCode(), bad.body());
      JsonNode err = JSON.readTree(bad.body()).get("error");
      assertEquals("invalid_value", err.get("code").asText());
      assertEquals("context_policy", err.get("param").asText());
    }
  }
}
