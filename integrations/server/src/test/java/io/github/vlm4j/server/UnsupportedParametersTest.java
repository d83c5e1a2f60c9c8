package io.github.vlm4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * OpenAI parameters vlm4j does not implement are refused with 400 naming them, never silently
 * ignored; the penalties and logit bias it does implement give the library's answer.
 */
@Timeout(60)
class UnsupportedParametersTest {
  static final String MESSAGES = "\"messages\":[{\"role\":\"user\",\"content\":\"Say something.\"}],\"max_tokens\":3";

  @Test
  void parametersThatWouldChangeTheAnswerAreRefused() throws Exception {
    Map<String, String> refused = Map.ofEntries(
        Map.entry("n", "\"n\":2"),
        Map.entry("tools", "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]"),
        Map.entry("functions", "\"functions\":[{\"name\":\"f\"}]"),
        Map.entry("tool_choice", "\"tool_choice\":\"required\""),
        Map.entry("function_call", "\"function_call\":{\"name\":\"f\"}"),
        Map.entry("logprobs", "\"logprobs\":true"),
        Map.entry("top_logprobs", "\"top_logprobs\":3"),
        Map.entry("modalities", "\"modalities\":[\"text\",\"audio\"]"),
        Map.entry("audio", "\"audio\":{\"voice\":\"alloy\",\"format\":\"wav\"}"),
        Map.entry("prediction", "\"prediction\":{\"type\":\"content\",\"content\":\"x\"}"));
    try (VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny"))) {
      for (Map.Entry<String, String> e : refused.entrySet()) {
        HttpResponse<String> r = TestServers.post(s, "/v1/chat/completions", "{" + MESSAGES + "," + e.getValue() + "}",
            null);
        assertEquals(400, r.statusCode(), e.getKey() + ": " + r.body());
        JsonNode err = ServingTest.error(r);
        assertEquals("unsupported_parameter", err.get("code").asText(), r.body());
        assertEquals(e.getKey(), err.get("param").asText(), r.body());
        assertTrue(err.get("message").asText().contains("expected"), r.body());
      }
      // the neutral values clients send by default are accepted
      HttpResponse<String> ok = TestServers.post(s, "/v1/chat/completions", "{" + MESSAGES + ",\"n\":1,\"tools\":[],"
          + "\"tool_choice\":\"none\",\"logprobs\":false,\"top_logprobs\":0,\"presence_penalty\":0,"
          + "\"frequency_penalty\":0.0,\"logit_bias\":{},\"modalities\":[\"text\"],\"user\":\"u1\",\"store\":false}", null);
      assertEquals(200, ok.statusCode(), ok.body());
    }
  }

  @Test
  void penaltiesAndLogitBiasGiveTheLibrarysAnswer() throws Exception {
    List<Message> chat = List.of(Message.user("Say something."));
    try (VlmServer s = TestServers.start(ServerOptions.builder().modelId("tiny"))) {
      int id = TestServers.model().tokenizer().encode(" red")[0];
      record Case(String json, GenerationConfig config) {}
      for (Case c : List.of(
          new Case("\"logit_bias\":{\"" + id + "\":100}", GenerationConfig.builder().maxNewTokens(3)
              .logitBias(Map.of(id, 100.0)).build()),
          new Case("\"presence_penalty\":1.5,\"frequency_penalty\":2", GenerationConfig.builder().maxNewTokens(3)
              .presencePenalty(1.5).frequencyPenalty(2).build()))) {
        HttpResponse<String> r = TestServers.post(s, "/v1/chat/completions", "{" + MESSAGES + "," + c.json() + "}", null);
        assertEquals(200, r.statusCode(), r.body());
        String expected = TestServers.model().generate(chat, c.config()).text();
        assertEquals(expected, ServingTest.JSON.readTree(r.body()).get("choices").get(0).get("message").get("content")
            .asText(), c.json());
      }
      assertTrue(TestServers.model().generate(chat, GenerationConfig.builder().maxNewTokens(3)
          .logitBias(Map.of(id, 100.0)).build()).text().startsWith(" red red"), "the bias forces the token");
      for (String bad : List.of("\"presence_penalty\":3", "\"logit_bias\":{\"x\":1}", "\"logit_bias\":{\"1\":1000}",
          "\"logit_bias\":{\"99999999\":1}")) {
        HttpResponse<String> r = TestServers.post(s, "/v1/chat/completions", "{" + MESSAGES + "," + bad + "}", null);
        assertEquals(400, r.statusCode(), bad + ": " + r.body());
        String message = ServingTest.error(r).get("message").asText().toLowerCase(java.util.Locale.ROOT);
        assertTrue(message.contains("logit") || message.contains("presence"), "names the parameter: " + r.body());
      }
    }
  }
}
