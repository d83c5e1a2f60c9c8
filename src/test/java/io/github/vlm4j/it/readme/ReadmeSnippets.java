package io.github.vlm4j.it.readme;

import io.github.vlm4j.ContextPolicy;
import io.github.vlm4j.Demo;
import io.github.vlm4j.FewShotPrompt;
import io.github.vlm4j.LabelScores;
import io.github.vlm4j.PromptStats;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import io.github.vlm4j.florence.FlorenceAnswer;
import io.github.vlm4j.florence.FlorenceBox;
import io.github.vlm4j.florence.FlorenceModel;
import io.github.vlm4j.florence.FlorencePostProcessor;
import io.github.vlm4j.florence.FlorenceResult;
import io.github.vlm4j.florence.FlorenceTask;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The README's Java blocks as methods, so that they compile with the project and run in the test
 * suite ({@link ReadmeSnippetsTest}). Each region between a {@code // README java block N} line and
 * the next {@code // end of README java block} line must equal the README's block N without its
 * imports (every import of the block must be one of this file's). {@code .ci/consumer-check} also
 * compiles the README text itself, verbatim, in a project outside the reactor.
 *
 * <p>{@code main("N")} runs block N in the current working directory, which must hold the files
 * the README names ({@code src/test/resources/readme/workdir.tsv}).
 */
public final class ReadmeSnippets {
  private ReadmeSnippets() {}

  static void block1() throws Exception {
    // README java block 1
    try (VisionLanguageModel model = VisionLanguageModel.builder(Path.of("SmolVLM-256M-Instruct"))
            .dtype("q8").threads(4).build()) {
        List<Message> chat = List.of(Message.user(
            ImageInput.of(Path.of("part.png")), "Is this part ok or defective?"));
        GenerationResult r = model.generate(chat, GenerationConfig.greedy(64),
            RequestOptions.DEFAULT, System.out::print);                // streams text as it comes
        System.out.println("\n" + r.finishReason() + " " + r.usage().timings());
    }
    // end of README java block
  }

  static void block2() throws Exception {
    // README java block 2
    try (VisionLanguageModel model = VisionLanguageModel.load(Path.of("SmolVLM-256M-Instruct"))) {
        FewShotPrompt prompt = FewShotPrompt.builder()
            .question("Is this part ok or defective?")
            .demo(Demo.of(ImageInput.of(Path.of("ok-1.png")), "ok"))
            .demo(Demo.of(ImageInput.of(Path.of("scratch-1.png")), "defective"))
            .query(ImageInput.of(Path.of("new-part.png")))
            .build();                                      // Style.TURNS (default) or Style.SINGLE_TURN
        LabelScores s = model.classify(prompt, List.of("ok", "defective"), RequestOptions.DEFAULT);
        System.out.println(s.best().label() + " p=" + s.best().probability());
        GenerationResult open = model.generate(prompt, GenerationConfig.greedy(16), RequestOptions.DEFAULT,
            System.out::print);                           // streams, like the chat above
    }
    // end of README java block
  }

  static void block3() throws Exception {
    // README java block 3
    try (VisionLanguageModel model = VisionLanguageModel.load(Path.of("my-modular-model"))) {
        System.out.println(model.adapterNames());                      // [counting, inspection]
        List<Message> chat = List.of(Message.user(ImageInput.of(Path.of("part.png")), "Is this part defective?"));
        model.generate(chat, GenerationConfig.greedy(16), RequestOptions.DEFAULT.withAdapter("inspection"),
            TokenStreamer.none());
        model.registerAdapter("scratches", Path.of("scratches.onnx"), "fine-tuned on line 3");   // live
        model.unregisterAdapter("scratches");     // requests still using it finish first
    }
    // end of README java block
  }

  static void block4() throws Exception {
    // README java block 4
    try (VisionLanguageModel model = VisionLanguageModel.load(Path.of("SmolVLM-256M-Instruct"))) {
        List<Message> chat = new ArrayList<>(List.of(Message.system("Answer in a few words.")));
        for (int i = 0; i < 30; i++) {                           // a long history, a picture in every turn
            chat.add(Message.user(ImageInput.of(Path.of("part.png")), "Is this part ok or defective?"));
            chat.add(Message.assistant("defective"));
        }
        chat.add(Message.user(ImageInput.of(Path.of("new-part.png")), "And this one?"));
        RequestOptions options = RequestOptions.DEFAULT.withContextPolicy(ContextPolicy.dropOldestTurns());
        PromptStats kept = model.countTokens(chat, options, 16);   // what the policy keeps, without running
        GenerationResult r = model.generate(chat, GenerationConfig.greedy(16), options, TokenStreamer.none());
        System.out.println(kept.promptTokens() + " of " + kept.contextWindow() + " tokens; " + r.usage().dropped());
    }
    // end of README java block
  }

  static void block5() throws Exception {
    // README java block 5
    try (VisionLanguageModel model = VisionLanguageModel.load(Path.of("Qwen2.5-VL-3B-Instruct"))) {
        List<Message> chat = List.of(Message.user(ImageInput.of(Path.of("photo.png")), "Describe this image."));
        RequestOptions small = RequestOptions.DEFAULT.withPixelBudget(28 * 28 * 4, 28 * 28 * 16);
        System.out.println(model.countTokens(chat, RequestOptions.DEFAULT).imageTokens() + " image tokens, "
            + model.countTokens(chat, small).imageTokens() + " within the budget");
        model.generate(chat, GenerationConfig.greedy(64), small, TokenStreamer.none());
    }
    // end of README java block
  }

  static void block7() throws Exception {
    // README java block 7
    FlorenceTask task = FlorenceTask.CAPTION_TO_PHRASE_GROUNDING;
    System.out.println(task.prompt("a green car"));
    // the generation decoded with its special tokens, here one as Florence-2 writes it for a 640x480 image
    String generated = "</s><s>a green car<loc_52><loc_334><loc_932><loc_774></s>";
    FlorenceResult result = FlorencePostProcessor.parse(generated, task, 640, 480);
    if (result instanceof FlorenceResult.Boxes boxes) {
        for (FlorenceBox b : boxes.boxes()) {
            System.out.println(b.label() + ": " + b.x1() + "," + b.y1() + " " + b.x2() + "," + b.y2());
        }
    }
    // end of README java block
  }

  static void block6() throws Exception {
    // README java block 6
    try (FlorenceModel florence = FlorenceModel.load(Path.of("Florence-2-base-ft"))) {
        FlorenceAnswer answer = florence.run(FlorenceTask.OD, ImageInput.of(Path.of("street.png")));
        if (answer.result().orElseThrow() instanceof FlorenceResult.Boxes boxes) {
            System.out.println(boxes.boxes().size() + " objects");
            boxes.boxes().forEach(b -> System.out.println(b.label() + " " + b.x1() + "," + b.y1() + " " + b.x2() + "," + b.y2()));
        }
        System.out.println(answer.generation().usage().timings().totalMs() + " ms");
        // the same image again: its features come from the image cache
        System.out.println(florence.classify(FlorenceTask.CAPTION, ImageInput.of(Path.of("street.png")), null,
            List.of("a busy street", "an empty beach")).best().label());
    }
    // end of README java block
  }

  /**
   * @param args the block number (1-based)
   * @throws Exception what the block throws
   */
  public static void main(String[] args) throws Exception {
    switch (Integer.parseInt(args[0])) {
      case 1 -> block1();
      case 2 -> block2();
      case 3 -> block3();
      case 4 -> block4();
      case 5 -> block5();
      case 6 -> block6();
      case 7 -> block7();
      default -> throw new IllegalArgumentException("the README has no java block " + args[0]);
    }
  }
}
