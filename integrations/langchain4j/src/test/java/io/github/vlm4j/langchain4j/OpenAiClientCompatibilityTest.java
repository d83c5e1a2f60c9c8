package io.github.vlm4j.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.json.JsonEnumSchema;
import dev.langchain4j.model.chat.request.json.JsonIntegerSchema;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.request.json.JsonSchema;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import io.github.vlm4j.server.ServerOptions;
import io.github.vlm4j.server.VlmServer;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * LangChain4j's own {@code OpenAiChatModel} / {@code OpenAiStreamingChatModel} pointed at a running
 * {@link VlmServer} (loopback, ephemeral port) give the same text, usage and finish reason as the
 * in-process {@link Vlm4jChatModel} for the same request: greedy, with an image; also under a JSON
 * schema. (Not with {@code OpenAiChatModel.strictJsonSchema(true)}: it turns optional properties into
 * {@code "type": ["string", "null"]}, which the library's schema subset refuses.)
 */
@Timeout(60)
class OpenAiClientCompatibilityTest {
  static VlmServer server;
  static ChatModel openAi;
  static OpenAiStreamingChatModel openAiStreaming;

  @BeforeAll
  static void start() {
    server = VlmServer.start(TestModels.model(), ServerOptions.builder().host("127.0.0.1").port(0).modelId("tiny")
        .build(), false);
    String url = "http://127.0.0.1:" + server.port() + "/v1";
    openAi = OpenAiChatModel.builder().baseUrl(url).apiKey("unused").modelName("tiny").temperature(0.0)
        .timeout(Duration.ofSeconds(30)).maxRetries(0)
        .supportedCapabilities(Capability.RESPONSE_FORMAT_JSON_SCHEMA).build();
    openAiStreaming = OpenAiStreamingChatModel.builder().baseUrl(url).apiKey("unused").modelName("tiny")
        .temperature(0.0).timeout(Duration.ofSeconds(30)).build();
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  static ChatRequest imageRequest() {
    return ChatRequest.builder().messages(ChatModelTest.imageQuestion(ImageContent.from(
        TestModels.base64(ChatModelTest.PNG), "image/png"))).maxOutputTokens(24).build();
  }

  static void assertSameAnswer(ChatResponse inProcess, ChatResponse overHttp) {
    assertEquals(inProcess.aiMessage().text(), overHttp.aiMessage().text());
    assertEquals(inProcess.finishReason(), overHttp.finishReason());
    assertEquals(inProcess.tokenUsage().inputTokenCount(), overHttp.tokenUsage().inputTokenCount());
    assertEquals(inProcess.tokenUsage().outputTokenCount(), overHttp.tokenUsage().outputTokenCount());
    assertEquals("tiny", overHttp.modelName());
  }

  @Test
  void openAiChatModelThroughTheServerEqualsTheInProcessChatModel() {
    ChatResponse inProcess = ChatModelTest.CHAT.chat(imageRequest());
    assertFalse(inProcess.aiMessage().text().isEmpty());
    assertSameAnswer(inProcess, openAi.chat(imageRequest()));
  }

  @Test
  void streamingThroughTheServerEqualsTheInProcessStreamingModel() throws Exception {
    try (Vlm4jStreamingChatModel local = Vlm4jStreamingChatModel.builder().model(TestModels.model()).modelId("tiny")
        .maxTokens(24).build()) {
      StreamingChatModelTest.Collector in = StreamingChatModelTest.Collector.run(local, imageRequest());
      StreamingChatModelTest.Collector http = new StreamingChatModelTest.Collector();
      openAiStreaming.chat(imageRequest(), http);
      assertTrue(http.done.await(30, java.util.concurrent.TimeUnit.SECONDS));
      assertNull(http.error, String.valueOf(http.error));
      assertEquals(in.response.aiMessage().text(), http.response.aiMessage().text());
      assertEquals(String.join("", in.partials), String.join("", http.partials));
      assertEquals(in.response.finishReason(), http.response.finishReason());
    }
  }

  @Test
  void jsonSchemaThroughTheServerEqualsTheInProcessChatModel() {
    JsonSchema schema = JsonSchema.builder().name("answer").rootElement(JsonObjectSchema.builder()
        .addProperty("colour", JsonEnumSchema.builder().enumValues("red", "orange", "blue").build())
        .addProperty("count", new JsonIntegerSchema()).required("colour", "count").build()).build();
    ChatRequest request = imageRequest().toBuilder().maxOutputTokens(64)
        .responseFormat(ResponseFormat.builder().type(ResponseFormatType.JSON).jsonSchema(schema).build()).build();
    ChatResponse inProcess = ChatModelTest.CHAT.chat(request);
    assertTrue(inProcess.aiMessage().text().startsWith("{\"colour\":"), inProcess.aiMessage().text());
    assertSameAnswer(inProcess, openAi.chat(request));
  }
}
