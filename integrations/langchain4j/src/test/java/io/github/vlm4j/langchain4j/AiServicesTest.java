package io.github.vlm4j.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.listener.ChatModelResponseContext;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.service.AiServices;
import dev.langchain4j.service.UserMessage;
import io.github.vlm4j.decoder.generation.ConstraintStatus;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * LangChain4j's {@code AiServices} with a method that takes an image and returns a Java record: the
 * service asks for the record's JSON schema (the model declares the capability), the output is
 * constrained to it, and LangChain4j parses it into the record. The tiny model's content is
 * nonsense, but it is valid under the schema.
 */
@Timeout(60)
class AiServicesTest {
  /** Colours of the kit's pictures. */
  enum Colour { RED, ORANGE, BLUE, GREEN }

  /** What the service returns. */
  record Scene(Colour colour, long count, boolean outdoor) {}

  /** The service: an image in, a record out. */
  interface SceneReader {
    @UserMessage("What colours are in the image?")
    Scene read(@UserMessage ImageContent image);
  }

  @Test
  void aMethodTakingAnImageReturnsARecordParsedFromConstrainedOutput() throws Exception {
    AtomicReference<ChatRequest> request = new AtomicReference<>();
    AtomicReference<ChatResponse> response = new AtomicReference<>();
    ChatModelListener capture = new ChatModelListener() {
      @Override
      public void onResponse(ChatModelResponseContext context) {
        request.set(context.chatRequest());
        response.set(context.chatResponse());
      }
    };
    Vlm4jChatModel chat = Vlm4jChatModel.builder().model(TestModels.model()).maxTokens(64).strictJsonSchema(true)
        .listeners(List.of(capture)).build();
    SceneReader reader = AiServices.builder(SceneReader.class).chatModel(chat).build();

    Scene scene = reader.read(ImageContent.from(TestModels.base64(ChatModelTest.PNG), "image/png"));

    assertNotNull(scene.colour(), response.get().aiMessage().text());
    // the schema path, not prompt instructions: a JSON response format with the record's schema
    ChatRequest sent = request.get();
    assertEquals(ResponseFormatType.JSON, sent.responseFormat().type());
    String schema = JsonSchemas.toJson(sent.responseFormat().jsonSchema().rootElement(), true);
    JsonNode props = new ObjectMapper().readTree(schema).get("properties");
    assertEquals(List.of("colour", "count", "outdoor"), List.copyOf(iterable(props.fieldNames())));
    // the image reached the model after the template's text
    dev.langchain4j.data.message.UserMessage user = (dev.langchain4j.data.message.UserMessage) sent.messages()
        .get(sent.messages().size() - 1);
    assertInstanceOf(TextContent.class, user.contents().get(0));
    assertInstanceOf(ImageContent.class, user.contents().get(1));
    // a complete JSON document under the constraint, equal to what the record holds
    ChatResponse r = response.get();
    assertEquals(FinishReason.STOP, r.finishReason(), r.aiMessage().text());
    Vlm4jChatResponseMetadata m = (Vlm4jChatResponseMetadata) r.metadata();
    assertEquals(ConstraintStatus.COMPLETE, m.result().constraint());
    JsonNode json = new ObjectMapper().readTree(r.aiMessage().text());
    assertEquals(scene.colour().name(), json.get("colour").asText());
    assertEquals(scene.count(), json.get("count").asLong());
    assertEquals(scene.outdoor(), json.get("outdoor").asBoolean());
    assertTrue(r.aiMessage().text().startsWith("{"), r.aiMessage().text());
  }

  @Test
  void withoutStrictModeOptionalFieldsMayBeLeftOutAndTheRecordStillParses() {
    Vlm4jChatModel chat = Vlm4jChatModel.builder().model(TestModels.model()).maxTokens(64).build();
    SceneReader reader = AiServices.builder(SceneReader.class).chatModel(chat).build();
    Scene scene = reader.read(ImageContent.from(TestModels.base64(ChatModelTest.PNG), "image/png"));
    assertNotNull(scene); // valid JSON under the schema; which properties it has is the model's choice
  }

  static <T> List<T> iterable(java.util.Iterator<T> it) {
    List<T> out = new java.util.ArrayList<>();
    it.forEachRemaining(out::add);
    return out;
  }
}
