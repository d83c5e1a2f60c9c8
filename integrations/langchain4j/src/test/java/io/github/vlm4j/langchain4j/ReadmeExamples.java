package io.github.vlm4j.langchain4j;

import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.langchain4j.Vlm4jChatModel;
import io.github.vlm4j.langchain4j.Vlm4jStreamingChatModel;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The README's LangChain4j blocks 1 (synchronous) and 2 (streaming), verbatim between the region
 * markers ({@link ReadmeExamplesTest} compares them with the README and runs them).
 */
final class ReadmeExamples {
  private ReadmeExamples() {}

  static void block1(VisionLanguageModel model, byte[] png) {
    // README LangChain4j block 1
    ChatModel chat = Vlm4jChatModel.builder().model(model).maxTokens(64).build();   // greedy by default
    ChatResponse r = chat.chat(UserMessage.from(
        ImageContent.from(Base64.getEncoder().encodeToString(png), "image/png"),
        TextContent.from("Is this part ok or defective?")));
    System.out.println(r.aiMessage().text() + " " + r.finishReason() + " " + r.tokenUsage());
    // end of README LangChain4j block
  }

  static void block2(VisionLanguageModel model, byte[] png) {
    // README LangChain4j block 2
    try (Vlm4jStreamingChatModel chat = Vlm4jStreamingChatModel.builder().model(model).maxTokens(64).build()) {
      CompletableFuture<ChatResponse> done = new CompletableFuture<>();
      chat.chat(List.of(UserMessage.from(
          ImageContent.from(Base64.getEncoder().encodeToString(png), "image/png"),
          TextContent.from("Describe this image."))), new StreamingChatResponseHandler() {
        @Override public void onPartialResponse(String text) { System.out.print(text); }
        @Override public void onCompleteResponse(ChatResponse response) { done.complete(response); }
        @Override public void onError(Throwable error) { done.completeExceptionally(error); }
      });
      System.out.println("\n" + done.join().finishReason());
    }
    // end of README LangChain4j block
  }
}
