package io.github.vlm4j.langchain4j;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.AudioContent;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.PdfFileContent;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.data.message.VideoContent;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

/**
 * What vlm4j cannot do fails loudly with LangChain4j's {@link UnsupportedFeatureException}, naming
 * the content or parameter, where it is, and what is supported. Nothing here reaches the model.
 */
@Timeout(30)
class UnsupportedFeaturesTest {
  static final Vlm4jChatModel CHAT = Vlm4jChatModel.builder().model(TestModels.model()).modelId("tiny").build();
  static final String B64 = "AAAA";

  static void refused(Executable call, String... named) {
    UnsupportedFeatureException e = assertThrows(UnsupportedFeatureException.class, call);
    for (String n : named) {
      assertTrue(e.getMessage().contains(n), "\"" + n + "\" not in: " + e.getMessage());
    }
  }

  static UserMessage question(dev.langchain4j.data.message.Content c) {
    return UserMessage.from(TextContent.from("What is it?"), c);
  }

  @Test
  void audioVideoAndPdfContentAreRefusedNamingTypeAndPosition() {
    refused(() -> CHAT.chat(question(AudioContent.from(B64, "audio/wav"))), "messages[0].contents[1]", "AudioContent",
        "TextContent", "ImageContent");
    refused(() -> CHAT.chat(question(VideoContent.from(B64, "video/mp4"))), "VideoContent", "ImageContent");
    refused(() -> CHAT.chat(question(PdfFileContent.from(B64, "application/pdf"))), "PdfFileContent");
  }

  @Test
  void toolsAreRefusedInEveryForm() {
    ToolSpecification tool = ToolSpecification.builder().name("weather").description("gets the weather").build();
    refused(() -> CHAT.chat(ChatRequest.builder().messages(UserMessage.from("hi")).toolSpecifications(tool).build()),
        "toolSpecifications", "function calling");
    ToolExecutionRequest call = ToolExecutionRequest.builder().id("1").name("weather").arguments("{}").build();
    refused(() -> CHAT.chat(UserMessage.from("hi"), AiMessage.from(call), UserMessage.from("and?")),
        "messages[1]", "tool execution requests");
    refused(() -> CHAT.chat(UserMessage.from("hi"), ToolExecutionResultMessage.from(call, "sunny")),
        "messages[1]", "ToolExecutionResultMessage");
  }

  @Test
  void remoteImagesAndOtherSchemesAreRefused() {
    refused(() -> CHAT.chat(question(ImageContent.from("https://example.com/cat.png"))), "https://example.com/cat.png",
        "does not fetch remote images", "file: URI");
    refused(() -> CHAT.chat(question(ImageContent.from("ftp://example.com/cat.png"))), "\"ftp\"");
    refused(() -> CHAT.chat(question(ImageContent.from(B64, "application/pdf"))), "application/pdf", "image/*");
  }

  @Test
  void unsupportedParametersAreRefusedByName() {
    refused(() -> CHAT.chat(ChatRequest.builder().messages(UserMessage.from("hi")).modelName("gpt-4o").build()),
        "gpt-4o", "\"tiny\"");
  }

  @Test
  void theStreamingModelRefusesTheSameThroughOnError() throws Exception {
    try (Vlm4jStreamingChatModel streaming = Vlm4jStreamingChatModel.builder().model(TestModels.model()).build()) {
      Throwable t = StreamingChatModelTest.Collector.run(streaming, ChatRequest.builder()
          .messages(question(AudioContent.from(B64, "audio/wav"))).build()).error();
      assertTrue(t instanceof UnsupportedFeatureException && t.getMessage().contains("AudioContent"), String.valueOf(t));
    }
  }
}
