package io.github.vlm4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.errors.OpenAIServiceException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.ResponseFormatJsonObject;
import com.openai.models.ResponseFormatJsonSchema;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionContentPart;
import com.openai.models.chat.completions.ChatCompletionContentPartImage;
import com.openai.models.chat.completions.ChatCompletionContentPartText;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The official OpenAI Java client against the server: answers equal the library's on the same
 * input (greedy), streamed deltas concatenate to the same text, usage equals the library's, JSON
 * output validates, and errors come back typed with the right status and code.
 */
@Timeout(60)
class OpenAiClientTest {
  static final String KEY = "test-key-5f0c8e2a";
  static final String PROMPT = "What colours are in the image?";
  static VlmServer server;
  static OpenAIClient client;
  static byte[] png;

  @BeforeAll
  static void start() {
    server = TestServers.start(ServerOptions.builder().modelId("tiny").apiKey(KEY).maxImages(2));
    client = client(KEY);
    png = TestServers.picture("scene_colours_wide_0.png");
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  static OpenAIClient client(String key) {
    return OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1").apiKey(key)
        .maxRetries(0).timeout(Duration.ofSeconds(30)).build();
  }

  static List<ChatCompletionContentPart> parts(String text, String... imageUrls) {
    List<ChatCompletionContentPart> parts = new ArrayList<>();
    for (String url : imageUrls) {
      parts.add(ChatCompletionContentPart.ofImageUrl(ChatCompletionContentPartImage.builder()
          .imageUrl(ChatCompletionContentPartImage.ImageUrl.builder().url(url).build()).build()));
    }
    parts.add(ChatCompletionContentPart.ofText(ChatCompletionContentPartText.builder().text(text).build()));
    return parts;
  }

  static ChatCompletionCreateParams.Builder request(int maxTokens, String... imageUrls) {
    return ChatCompletionCreateParams.builder().model("tiny").addUserMessageOfArrayOfContentParts(
        parts(PROMPT, imageUrls)).maxCompletionTokens(maxTokens).temperature(0.0);
  }

  static GenerationResult library(int maxTokens) {
    return TestServers.model().generate(List.of(Message.user(ImageInput.of(png), PROMPT)),
        GenerationConfig.greedy(maxTokens));
  }

  @Test
  void greedyAnswerAndUsageEqualTheLibrarys() {
    GenerationResult expected = library(24);
    ChatCompletion c = client.chat().completions().create(request(24, TestServers.dataUri(png)).build());
    assertEquals(expected.text(), c.choices().get(0).message().content().orElseThrow());
    assertFalse(expected.text().isEmpty());
    assertEquals("tiny", c.model());
    assertTrue(c.id().startsWith("chatcmpl-"), c.id());
    String finish = c.choices().get(0).finishReason().toString();
    assertEquals(expected.finishReason().name().equals("LENGTH") ? "length" : "stop", finish);
    assertEquals(expected.usage().promptTokens(), c.usage().orElseThrow().promptTokens());
    assertEquals(expected.usage().generatedTokens(), c.usage().orElseThrow().completionTokens());
    assertEquals(expected.usage().promptTokens() + expected.usage().generatedTokens(),
        c.usage().orElseThrow().totalTokens());
    // the vlm4j extension field: the library's finish reason, image tokens and stage timings
    Map<String, JsonValue> extra = c._allProperties();
    JsonNode ext = new ObjectMapper().valueToTree(extra.get("vlm4j").convert(Object.class));
    assertEquals(expected.finishReason().name(), ext.get("finish_reason").asText());
    assertEquals(expected.usage().imageTokens(), ext.get("image_tokens").asInt());
    assertTrue(ext.get("timings_ms").get("total").asDouble() > 0, ext.toString());
  }

  @Test
  void streamedDeltasConcatenateToTheLibrarysAnswer() {
    GenerationResult expected = library(24);
    StringBuilder text = new StringBuilder();
    List<String> finishReasons = new ArrayList<>();
    long[] usage = {-1, -1};
    int chunks = 0;
    try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(
        request(24, TestServers.dataUri(png)).streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true)
            .build()).build())) {
      for (ChatCompletionChunk c : (Iterable<ChatCompletionChunk>) s.stream()::iterator) {
        chunks++;
        assertEquals("chat.completion.chunk", c._object_().convert(String.class));
        for (ChatCompletionChunk.Choice ch : c.choices()) {
          ch.delta().content().ifPresent(text::append);
          ch.finishReason().ifPresent(f -> finishReasons.add(f.toString()));
        }
        c.usage().ifPresent(u -> {
          usage[0] = u.promptTokens();
          usage[1] = u.completionTokens();
        });
      }
    }
    assertEquals(expected.text(), text.toString());
    assertTrue(chunks >= 3, chunks + " chunks");
    assertEquals(1, finishReasons.size(), finishReasons.toString());
    assertEquals(expected.usage().promptTokens(), usage[0]);
    assertEquals(expected.usage().generatedTokens(), usage[1]);
  }

  @Test
  void jsonSchemaAnswerValidates() throws Exception {
    assertAnswerValidates("{\"type\":\"object\",\"properties\":{\"colour\":{\"type\":\"string\",\"enum\":[\"red\","
        + "\"orange\",\"blue\"]},\"count\":{\"type\":\"integer\"}},\"required\":[\"colour\",\"count\"]}");
  }

  /** What the OpenAI Python SDK sends for a Pydantic model with a nested model and optional fields. */
  @Test
  void pydanticStyleSchemaWithDefsRefsAndNullablesValidates() throws Exception {
    assertAnswerValidates("{\"$defs\":{\"Spot\":{\"title\":\"Spot\",\"type\":\"object\",\"properties\":{"
        + "\"colour\":{\"type\":\"string\",\"enum\":[\"red\",\"orange\",\"blue\"]},\"size\":{\"type\":[\"integer\","
        + "\"null\"]}},\"required\":[\"colour\",\"size\"],\"additionalProperties\":false}},\"title\":\"Scene\","
        + "\"type\":\"object\",\"properties\":{\"main\":{\"$ref\":\"#/$defs/Spot\"},\"other\":{\"anyOf\":[{\"$ref\":"
        + "\"#/$defs/Spot\"},{\"type\":\"null\"}]}},\"required\":[\"main\",\"other\"],\"additionalProperties\":false}");
  }

  private void assertAnswerValidates(String schema) throws Exception {
    ResponseFormatJsonSchema.JsonSchema.Schema.Builder sb = ResponseFormatJsonSchema.JsonSchema.Schema.builder();
    new ObjectMapper().readTree(schema).properties().forEach(e -> sb.putAdditionalProperty(e.getKey(),
        JsonValue.from(new ObjectMapper().convertValue(e.getValue(), Object.class))));
    ChatCompletion c = client.chat().completions().create(request(96, TestServers.dataUri(png))
        .responseFormat(ResponseFormatJsonSchema.builder().jsonSchema(ResponseFormatJsonSchema.JsonSchema.builder()
            .name("answer").schema(sb.build()).build()).build()).build());
    String text = c.choices().get(0).message().content().orElseThrow();
    assertEquals("stop", c.choices().get(0).finishReason().toString(), text);
    Schema validator = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12)
        .getSchema(schema, InputFormat.JSON);
    var errors = validator.validate(text, InputFormat.JSON);
    assertTrue(errors.isEmpty(), text + ": " + errors);
  }

  @Test
  void jsonObjectAnswerIsAJsonObject() throws Exception {
    ChatCompletion c = client.chat().completions().create(request(96, TestServers.dataUri(png))
        .responseFormat(ResponseFormatJsonObject.builder().build()).build());
    String text = c.choices().get(0).message().content().orElseThrow();
    if (c.choices().get(0).finishReason().toString().equals("stop")) {
      assertTrue(new ObjectMapper().readTree(text).isObject(), text);
    } else {
      assertTrue(text.startsWith("{"), text); // the token limit came first: a prefix of an object
    }
  }

  static OpenAIServiceException fails(Class<? extends OpenAIServiceException> type, ChatCompletionCreateParams p) {
    return assertThrows(type, () -> client.chat().completions().create(p));
  }

  @Test
  void badInputIsTypedWithStatusAndCode() {
    OpenAIServiceException e = fails(BadRequestException.class, request(8, "data:image/png;base64,@@not-base64@@")
        .build());
    assertEquals("invalid_base64", e.code().orElseThrow());
    assertEquals("messages[0].content[0].image_url.url", e.param().orElseThrow());
    e = fails(BadRequestException.class, request(8, "file:///etc/passwd").build());
    assertEquals("invalid_image_url", e.code().orElseThrow());
    assertTrue(e.getMessage().contains("never reads local files"), e.getMessage());
    e = fails(BadRequestException.class, request(8, "https://example.com/cat.png").build());
    assertEquals("image_url_not_allowed", e.code().orElseThrow());
    String uri = TestServers.dataUri(png);
    e = fails(BadRequestException.class, request(8, uri, uri, uri).build());
    assertEquals("too_many_images", e.code().orElseThrow());
    e = fails(BadRequestException.class, request(8, "data:text/plain;base64,aGVsbG8=").build());
    assertEquals("unsupported_media_type", e.code().orElseThrow());
    e = fails(BadRequestException.class, request(8, "data:image/png;base64,aGVsbG8gd29ybGQ=").build());
    assertTrue(e.code().orElseThrow().startsWith("image_"), e.code().orElseThrow());
    e = fails(NotFoundException.class, request(8, uri).model("gpt-4o").build());
    assertEquals("model_not_found", e.code().orElseThrow());
    e = fails(BadRequestException.class, request(8, uri).n(2).build());
    assertEquals("unsupported_parameter", e.code().orElseThrow());
    assertEquals("n", e.param().orElseThrow());
    e = fails(BadRequestException.class, request(8, uri).topP(0.5).temperature(-1.0).build());
    assertEquals("temperature", e.param().orElseThrow());
  }

  @Test
  void wrongOrMissingKeyIs401() {
    OpenAIClient wrong = client("not-the-key");
    UnauthorizedException e = assertThrows(UnauthorizedException.class,
        () -> wrong.chat().completions().create(request(8).build()));
    assertEquals("invalid_api_key", e.code().orElseThrow());
    assertThrows(UnauthorizedException.class, () -> wrong.models().list());
    assertEquals(401, TestServers.post(server, "/v1/chat/completions", "{}", null).statusCode());
    assertEquals(401, TestServers.get(server, "/metrics").statusCode());
    assertEquals(200, TestServers.get(server, "/health").statusCode());
  }

  @Test
  void modelsListsTheServedId() {
    var page = client.models().list();
    assertEquals(List.of("tiny"), page.data().stream().map(m -> m.id()).toList());
    assertEquals("tiny", client.models().retrieve("tiny").id());
    assertThrows(NotFoundException.class, () -> client.models().retrieve("other"));
  }
}
