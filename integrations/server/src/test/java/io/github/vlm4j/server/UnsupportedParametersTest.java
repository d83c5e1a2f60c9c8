package io.github.vlm4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** OpenAI parameters vlm4j does not implement are refused with 400 naming them, never silently ignored. */
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
        Map.entry("presence_penalty", "\"presence_penalty\":0.5"),
        Map.entry("frequency_penalty", "\"frequency_penalty\":-1"),
        Map.entry("logit_bias", "\"logit_bias\":{\"42\":100}"),
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
}
