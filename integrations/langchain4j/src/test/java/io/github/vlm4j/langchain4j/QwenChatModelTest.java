package io.github.vlm4j.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A Qwen2-VL model through LangChain4j: the builder's pixel budget reaches the library (56 image tokens become 12). */
class QwenChatModelTest {
  @Test
  void pixelBudgetOfTheBuilderBoundsImageTokens() throws Exception {
    Path folder = TestModels.models().resolve("vlm4j-tiny-qwen2-vl");
    Path image = folder.resolve("goldens/large_no_resize_0.png");   // 224x196
    String question = "What colour is the circle?";
    try (VisionLanguageModel model = VisionLanguageModel.load(folder)) {
      List<Message> msgs = List.of(Message.user(ImageInput.of(image), question));
      GenerationResult expected = model.generate(msgs, GenerationConfig.greedy(8),
          RequestOptions.DEFAULT.withPixelBudget(784, 12544), TokenStreamer.none());
      assertEquals(12, expected.usage().imageTokens());
      Vlm4jChatModel chat = Vlm4jChatModel.builder().model(model).modelId("qwen").maxTokens(8)
          .pixelBudget(784, 12544).build();
      UserMessage user = UserMessage.from(ImageContent.from(Base64.getEncoder().encodeToString(Files.readAllBytes(image)),
          "image/png"), TextContent.from(question));
      ChatResponse r = chat.chat(ChatRequest.builder().messages(user).build());
      assertEquals(expected.text(), r.aiMessage().text());
      Vlm4jChatResponseMetadata m = assertInstanceOf(Vlm4jChatResponseMetadata.class, r.metadata());
      assertEquals(12, m.result().usage().imageTokens());
      assertThrows(RuntimeException.class, () -> Vlm4jChatModel.builder().model(model).pixelBudget(100, 10));
    }
  }
}
