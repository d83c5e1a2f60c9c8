package io.github.vlm4j.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import io.github.vlm4j.ContextPolicy;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link Vlm4jChatModel} against the library on the same input (greedy): images as base64 data, data:
 * URIs and file: URIs, multi-turn with a system message, token usage, finish reasons and metadata.
 */
@Timeout(60)
class ChatModelTest {
  static final byte[] PNG = TestModels.picture(TestModels.PICTURE);
  static final Vlm4jChatModel CHAT = Vlm4jChatModel.builder().model(TestModels.model()).modelId("tiny")
      .maxTokens(24).build();

  static GenerationResult library(List<Message> messages, GenerationConfig config) {
    return TestModels.model().generate(messages, config, RequestOptions.DEFAULT, TokenStreamer.none());
  }

  static GenerationResult library(int maxTokens) {
    return library(List.of(Message.user(ImageInput.of(PNG), TestModels.PROMPT)), GenerationConfig.greedy(maxTokens));
  }

  static UserMessage imageQuestion(ImageContent image) {
    return UserMessage.from(image, TextContent.from(TestModels.PROMPT));
  }

  static void assertSameAnswer(GenerationResult expected, ChatResponse r) {
    assertEquals(expected.text(), r.aiMessage().text());
    assertEquals(expected.usage().promptTokens(), r.tokenUsage().inputTokenCount());
    assertEquals(expected.usage().generatedTokens(), r.tokenUsage().outputTokenCount());
    assertEquals(expected.usage().promptTokens() + expected.usage().generatedTokens(),
        r.tokenUsage().totalTokenCount());
    assertEquals(Responses.finishReason(expected.finishReason()), r.finishReason());
    assertEquals("tiny", r.modelName());
    Vlm4jChatResponseMetadata m = assertInstanceOf(Vlm4jChatResponseMetadata.class, r.metadata());
    assertEquals(expected, m.result());
    assertEquals(expected.usage().imageTokens(), m.result().usage().imageTokens());
  }

  @Test
  void base64ImageAnswerEqualsTheLibrarys() {
    GenerationResult expected = library(24);
    assertFalse(expected.text().isEmpty());
    assertTrue(expected.usage().imageTokens() > 0);
    ChatResponse r = CHAT.chat(imageQuestion(ImageContent.from(TestModels.base64(PNG), "image/png")));
    assertSameAnswer(expected, r);
  }

  @Test
  void fileAndDataUriImagesGiveTheSameAnswer() {
    GenerationResult expected = library(24);
    ChatResponse file = CHAT.chat(imageQuestion(ImageContent.from(
        TestModels.picturePath(TestModels.PICTURE).toAbsolutePath().toUri())));
    assertSameAnswer(expected, file);
    ChatResponse data = CHAT.chat(imageQuestion(ImageContent.from("data:image/png;base64," + TestModels.base64(PNG))));
    assertSameAnswer(expected, data);
  }

  @Test
  void multiTurnWithSystemMessageEqualsTheLibrarys() {
    byte[] other = TestModels.picture("scene_shapes_0.png");
    List<Message> lib = List.of(Message.system("You describe pictures."),
        Message.user(ImageInput.of(PNG), TestModels.PROMPT), Message.assistant("red and blue"),
        Message.user(ImageInput.of(other), "And in this one?"));
    GenerationResult expected = library(lib, GenerationConfig.greedy(20));
    List<ChatMessage> lc = List.of(SystemMessage.from("You describe pictures."),
        imageQuestion(ImageContent.from(TestModels.base64(PNG), "image/png")), AiMessage.from("red and blue"),
        UserMessage.from(ImageContent.from(TestModels.base64(other), "image/png"), TextContent.from("And in this one?")));
    ChatResponse r = CHAT.chat(ChatRequest.builder().messages(lc).maxOutputTokens(20).build());
    assertSameAnswer(expected, r);
    assertTrue(expected.usage().promptTokens() > library(20).usage().promptTokens(), "both images and turns count");
  }

  @Test
  void contextPolicyLeavesOutTheOldestTurnsAsTheLibraryDoes() {
    List<Message> lib = new ArrayList<>();
    List<ChatMessage> lc = new ArrayList<>();
    for (int t = 0; t < 12; t++) {
      String question = "Question " + t + ":" + " and then".repeat(40);
      lib.add(Message.user(question));
      lib.add(Message.assistant("answer " + t));
      lc.add(UserMessage.from(question));
      lc.add(AiMessage.from("answer " + t));
    }
    lib.add(Message.user(ImageInput.of(PNG), TestModels.PROMPT));
    lc.add(imageQuestion(ImageContent.from(TestModels.base64(PNG), "image/png")));
    GenerationResult expected = TestModels.model().generate(lib, GenerationConfig.greedy(8),
        RequestOptions.DEFAULT.withContextPolicy(ContextPolicy.dropOldestTurns()), TokenStreamer.none());
    assertTrue(expected.usage().dropped().turns() > 0, expected.usage().toString());
    Vlm4jChatModel dropping = Vlm4jChatModel.builder().model(TestModels.model()).modelId("tiny").maxTokens(8)
        .contextPolicy(ContextPolicy.dropOldestTurns()).build();
    ChatResponse r = dropping.chat(ChatRequest.builder().messages(lc).build());
    assertSameAnswer(expected, r);
    assertEquals(expected.usage().dropped(), ((Vlm4jChatResponseMetadata) r.metadata()).result().usage().dropped());
    InvalidRequestException refused = assertThrows(InvalidRequestException.class,
        () -> CHAT.chat(ChatRequest.builder().messages(lc).maxOutputTokens(8).build()));
    assertEquals(VlmInputException.Reason.PROMPT_TOO_LONG, ((VlmInputException) refused.getCause()).reason());
  }

  @Test
  void finishReasonsMapLengthAndStop() {
    GenerationResult tight = library(3);
    assertEquals(io.github.vlm4j.decoder.generation.FinishReason.LENGTH, tight.finishReason());
    ChatResponse r = CHAT.chat(ChatRequest.builder().messages(imageQuestion(ImageContent.from(
        TestModels.base64(PNG), "image/png"))).maxOutputTokens(3).build());
    assertEquals(FinishReason.LENGTH, r.finishReason());
    assertEquals(3, r.tokenUsage().outputTokenCount());

    // a stop string taken from the answer itself: the text ends before it and the reason is STOP
    String full = library(24).text();
    String stop = full.substring(full.length() / 2, full.length() / 2 + 2);
    assertFalse(stop.isBlank(), "stop string from \"" + full + "\"");
    GenerationResult stopped = library(List.of(Message.user(ImageInput.of(PNG), TestModels.PROMPT)),
        GenerationConfig.builder().maxNewTokens(24).stopStrings(List.of(stop)).build());
    assertEquals(io.github.vlm4j.decoder.generation.FinishReason.STOP_STRING, stopped.finishReason());
    ChatResponse s = CHAT.chat(ChatRequest.builder().messages(imageQuestion(ImageContent.from(
        TestModels.base64(PNG), "image/png"))).stopSequences(List.of(stop)).build());
    assertEquals(FinishReason.STOP, s.finishReason());
    assertEquals(stopped.text(), s.aiMessage().text());
    assertFalse(s.aiMessage().text().contains(stop));
  }

  @Test
  void presenceAndFrequencyPenaltiesEqualTheLibrarys() {
    GenerationConfig penalized = GenerationConfig.builder().maxNewTokens(24).presencePenalty(-2).frequencyPenalty(-2)
        .build();
    int compared = 0;
    boolean changed = false;
    for (String picture : List.of("scene_caption_tall_0.png", "scene_count_0.png", "scene_where_0.png", "inspection_0.png")) {
      for (String prompt : List.of("Describe the image.", TestModels.PROMPT)) {
        byte[] png = TestModels.picture(picture);
        List<Message> lib = List.of(Message.user(ImageInput.of(png), prompt));
        GenerationResult expected = library(lib, penalized);
        changed |= !expected.text().equals(library(lib, GenerationConfig.greedy(24)).text());
        ChatResponse r = CHAT.chat(ChatRequest.builder().messages(UserMessage.from(ImageContent.from(
            TestModels.base64(png), "image/png"), TextContent.from(prompt))).maxOutputTokens(24).presencePenalty(-2.0)
            .frequencyPenalty(-2.0).build());
        assertSameAnswer(expected, r);
        compared++;
      }
    }
    assertEquals(8, compared);
    assertTrue(changed, "the penalties change at least one of these answers, so the mapping is observable");
  }

  @Test
  void builderDefaultsAreTheRequestDefaults() {
    assertEquals("tiny", CHAT.defaultRequestParameters().modelName());
    assertEquals(24, CHAT.defaultRequestParameters().maxOutputTokens());
    assertEquals("tiny", CHAT.modelId());
    Vlm4jChatModel named = Vlm4jChatModel.builder().model(TestModels.model()).build();
    assertEquals("vlm4j-tiny-idefics3", named.modelId());
    VlmInputException e = assertThrows(VlmInputException.class,
        () -> Vlm4jChatModel.builder().model(TestModels.model()).maxTokens(0).build());
    assertTrue(e.getMessage().contains("maxNewTokens"), e.getMessage());
    assertThrows(VlmInputException.class, () -> Vlm4jChatModel.builder().model(TestModels.model()).topP(1.5).build());
    assertThrows(IllegalStateException.class, () -> Vlm4jChatModel.builder().build());
  }

  @Test
  void closeLeavesASharedModelOpen() {
    Vlm4jChatModel.builder().model(TestModels.model()).build().close();
    assertFalse(CHAT.chat(UserMessage.from("hello")).aiMessage().text() == null);
  }

  @Test
  void libraryInputErrorsBecomeInvalidRequestWithTheCause() {
    byte[] corrupt = java.util.Arrays.copyOf(PNG, 60);
    InvalidRequestException e = assertThrows(InvalidRequestException.class,
        () -> CHAT.chat(imageQuestion(ImageContent.from(TestModels.base64(corrupt), "image/png"))));
    VlmInputException cause = assertInstanceOf(VlmInputException.class, e.getCause());
    assertTrue(cause.reason().name().startsWith("IMAGE_"), cause.reason().name());
    assertSame(cause.getMessage(), e.getMessage());
    e = assertThrows(InvalidRequestException.class, () -> CHAT.chat(ChatRequest.builder()
        .messages(UserMessage.from("hi")).temperature(-1.0).build()));
    assertTrue(e.getMessage().contains("temperature"), e.getMessage());
    e = assertThrows(InvalidRequestException.class,
        () -> CHAT.chat(imageQuestion(ImageContent.from("@@not base64@@", "image/png"))));
    assertTrue(e.getMessage().contains("base64"), e.getMessage());
    e = assertThrows(InvalidRequestException.class, () -> CHAT.chat(imageQuestion(ImageContent.from(
        TestModels.models().resolve("no-such.png").toAbsolutePath().toUri()))));
    assertEquals(VlmInputException.Reason.IMAGE_NOT_FOUND, ((VlmInputException) e.getCause()).reason());
  }
}
