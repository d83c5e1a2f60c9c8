package io.github.vlm4j.langchain4j;

import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.service.AiServices;
import dev.langchain4j.service.UserMessage;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.langchain4j.Vlm4jChatModel;
import java.util.Base64;

/**
 * The README's LangChain4j block 3 (AiServices), verbatim between the region markers; in a file of
 * its own because it imports {@code dev.langchain4j.service.UserMessage}, whose simple name the
 * other blocks use for {@code dev.langchain4j.data.message.UserMessage}.
 */
final class ReadmeAiServicesExample {
  private ReadmeAiServicesExample() {}

  static void block3(VisionLanguageModel model, byte[] png) {
    // README LangChain4j block 3
    enum Verdict { OK, DEFECTIVE }
    record Inspection(Verdict verdict, boolean scratched) {}
    interface Inspector {
      @UserMessage("Is this part ok or defective?")
      Inspection inspect(@UserMessage ImageContent image);
    }

    Inspector inspector = AiServices.builder(Inspector.class)
        .chatModel(Vlm4jChatModel.builder().model(model).strictJsonSchema(true).build()).build();
    Inspection result = inspector.inspect(ImageContent.from(Base64.getEncoder().encodeToString(png), "image/png"));
    System.out.println(result);
    // end of README LangChain4j block
  }
}
