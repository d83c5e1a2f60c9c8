package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.vlm4j.ContextPolicy;
import io.github.vlm4j.Demo;
import io.github.vlm4j.FewShotPrompt;
import io.github.vlm4j.PromptStats;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.DroppedContext;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ContentPart;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.ImagePart;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.core.prompt.TextPart;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Context-window policies (issue 17, item 4) on chats over the window: the prompt a policy keeps is
 * exactly a truncation of the chat built here by hand (the fewest oldest turns or images, found by a
 * linear scan over hand-built truncations), the reported counts are those of that truncation, greedy
 * ids equal the truncated chat's, and what cannot fit is refused naming the cause.
 */
class ContextPolicyTest {
  private static final int MAX_NEW = 8;
  private static VisionLanguageModel idefics;
  private static VisionLanguageModel llava;
  private static final List<Path> IMAGES = List.of("scene_shapes_0.png", "scene_colours_wide_0.png",
      "inspection_0.png", "interleaved_text_images_0.png").stream()
      .map(f -> Fixtures.model("vlm4j-tiny-idefics3").resolve("goldens").resolve(f)).toList();

  @BeforeAll
  static void load() throws Exception {
    idefics = VisionLanguageModel.load(Fixtures.model("vlm4j-tiny-idefics3"));
    llava = VisionLanguageModel.load(Fixtures.model("vlm4j-tiny-llava"));
  }

  @AfterAll
  static void close() {
    idefics.close();
    llava.close();
  }

  private static ImageInput image(int i) {
    return ImageInput.of(IMAGES.get(i % IMAGES.size()));
  }

  /**
   * A system message, {@code turns} earlier turns (user text with {@code imagesPerTurn} images and
   * {@code filler} words, then the assistant's answer), and a last user turn with one image.
   */
  private static List<Message> chat(int turns, int imagesPerTurn, int filler) {
    List<Message> out = new ArrayList<>();
    out.add(Message.system("Answer in a few words."));
    int img = 0;
    for (int t = 0; t < turns; t++) {
      List<Object> parts = new ArrayList<>();
      for (int k = 0; k < imagesPerTurn; k++) {
        parts.add(image(img++));
      }
      parts.add("Question " + t + ": what colours are in the image?" + " and then".repeat(filler));
      out.add(Message.user(parts.toArray()));
      out.add(Message.assistant("red, orange " + t));
    }
    out.add(Message.user(image(img), "What colours are in the image?"));
    return out;
  }

  /** {@code chat} without its first {@code turns} user+assistant pairs (built by hand: system, then pairs). */
  private static List<Message> withoutTurns(List<Message> chat, int turns) {
    List<Message> out = new ArrayList<>();
    out.add(chat.get(0));
    out.addAll(chat.subList(1 + 2 * turns, chat.size()));
    return out;
  }

  /** {@code chat} with its first {@code images} images outside the last message replaced by {@code marker}. */
  private static List<Message> withoutImages(List<Message> chat, int images, String marker) {
    List<Message> out = new ArrayList<>();
    int left = images;
    for (int i = 0; i < chat.size(); i++) {
      List<ContentPart> parts = new ArrayList<>();
      for (ContentPart p : chat.get(i).content()) {
        if (p instanceof ImagePart && left > 0 && i < chat.size() - 1) {
          parts.add(new TextPart(marker));
          left--;
        } else {
          parts.add(p);
        }
      }
      out.add(new Message(chat.get(i).role(), parts));
    }
    return out;
  }

  private static int length(VisionLanguageModel model, List<Message> chat) {
    return model.tokenize(chat, RequestOptions.DEFAULT).length();
  }

  /** Whether the hand-built truncation leaves MAX_NEW tokens free. */
  private static boolean fits(VisionLanguageModel model, List<Message> truncation) {
    return length(model, truncation) + MAX_NEW <= model.textConfig().maxPositions();
  }

  /**
   * The number of images the policy reports, checked to be the fewest: its hand-built truncation
   * fits and the one with an image less does not (scanning all would decode every image each time).
   */
  private static int fewestImages(VisionLanguageModel model, List<Message> chat, ContextPolicy policy, String marker) {
    int n = model.countTokens(chat, RequestOptions.DEFAULT.withContextPolicy(policy), MAX_NEW).dropped().images();
    assertTrue(n >= 2, "dropped " + n);
    assertTrue(fits(model, withoutImages(chat, n, marker)), n + " images replaced must fit");
    assertTrue(!fits(model, withoutImages(chat, n - 1, marker)), (n - 1) + " images replaced must not fit");
    return n;
  }

  /** The reference: the first n in [0, max] whose hand-built truncation leaves MAX_NEW tokens free. */
  private static int fewestByScan(VisionLanguageModel model, int max, IntFunction<List<Message>> truncation) {
    int window = model.textConfig().maxPositions();
    for (int n = 0; n <= max; n++) {
      if (length(model, truncation.apply(n)) + MAX_NEW <= window) {
        return n;
      }
    }
    throw new AssertionError("no truncation up to " + max + " fits");
  }

  /** The policy's prompt, counts and greedy ids equal those of {@code manual}, the hand-built truncation. */
  private static void assertKeeps(VisionLanguageModel model, List<Message> chat, ContextPolicy policy,
      List<Message> manual, int turns, int images) {
    RequestOptions options = RequestOptions.DEFAULT.withContextPolicy(policy);
    int[] expected = model.tokenize(manual, RequestOptions.DEFAULT).ids();
    assertArrayEquals(expected, model.tokenize(chat, options, MAX_NEW).ids());
    DroppedContext dropped = new DroppedContext(length(model, chat) - expected.length, turns, images);
    PromptStats stats = model.countTokens(chat, options, MAX_NEW);
    assertEquals(dropped, stats.dropped(), stats.toString());
    assertEquals(expected.length, stats.promptTokens());
    GenerationResult r = model.generate(chat, GenerationConfig.greedy(MAX_NEW), options, TokenStreamer.none());
    GenerationResult reference = model.generate(manual, GenerationConfig.greedy(MAX_NEW));
    assertArrayEquals(reference.tokenIds(), r.tokenIds());
    assertEquals(expected.length, r.usage().promptTokens());
    assertEquals(dropped, r.usage().dropped());
    assertEquals(DroppedContext.NONE, reference.usage().dropped());
  }

  private static VlmInputException tooLong(VisionLanguageModel model, List<Message> chat, ContextPolicy policy) {
    VlmInputException e = assertThrows(VlmInputException.class, () -> model.generate(chat,
        GenerationConfig.greedy(MAX_NEW), RequestOptions.DEFAULT.withContextPolicy(policy), TokenStreamer.none()));
    assertEquals(VlmInputException.Reason.PROMPT_TOO_LONG, e.reason(), e.getMessage());
    return e;
  }

  @Test
  void dropOldestTurnsKeepsTheSystemTextAndTheLastTurns() {
    for (VisionLanguageModel model : List.of(idefics, llava)) {
      List<Message> chat = chat(16, 1, 12);
      int window = model.textConfig().maxPositions();
      assertTrue(length(model, chat) > window, "the chat must be over the window: " + length(model, chat));
      tooLong(model, chat, ContextPolicy.REFUSE);   // the default refuses it, as before
      int turns = fewestByScan(model, 16, n -> withoutTurns(chat, n));
      assertTrue(turns >= 2, "the search must drop several turns: " + turns);
      assertKeeps(model, chat, ContextPolicy.dropOldestTurns(), withoutTurns(chat, turns), turns, turns);
    }
  }

  @Test
  void theBudgetIsTheWindowMinusMaxNewTokens() {
    // a chat that fits the window but not with room for the reply: one turn less (exactly) leaves the room
    List<Message> chat = chat(3, 1, 0);
    int window = idefics.textConfig().maxPositions();
    int maxNew = window - length(idefics, withoutTurns(chat, 1));
    RequestOptions options = RequestOptions.DEFAULT.withContextPolicy(ContextPolicy.dropOldestTurns());
    PromptStats stats = idefics.countTokens(chat, options, maxNew);
    assertEquals(1, stats.dropped().turns(), stats.toString());
    assertEquals(length(idefics, withoutTurns(chat, 1)), stats.promptTokens());
    int room = window - length(idefics, chat);
    assertEquals(DroppedContext.NONE, idefics.countTokens(chat, options, room).dropped());   // fits as it is
    assertEquals(1, idefics.countTokens(chat, options, room + 1).dropped().turns());
    assertEquals(DroppedContext.NONE, idefics.countTokens(chat, options).dropped());
  }

  @Test
  void dropOldestImagesReplacesThemWithTheMarker() {
    String marker = "(picture removed)";
    List<Message> chat = chat(4, 16, 0);
    int images = 4 * 16;
    for (VisionLanguageModel model : List.of(llava, idefics)) {
      assertTrue(length(model, chat) > model.textConfig().maxPositions(), "the chat must be over the window: "
          + length(model, chat) + ", all replaced " + length(model, withoutImages(chat, images, marker)));
      String m = model == llava ? marker : ContextPolicy.DEFAULT_IMAGE_MARKER;
      ContextPolicy policy = ContextPolicy.dropOldestImages().withImageMarker(m);
      int dropped = fewestImages(model, chat, policy, m);
      assertTrue(dropped < images, "dropped " + dropped);
      assertKeeps(model, chat, policy, withoutImages(chat, dropped, m), 0, dropped);
    }
  }

  @Test
  void dropImagesThenTurnsDropsTurnsOnceEveryImageIsReplaced() {
    List<Message> chat = chat(10, 2, 30);   // mostly text: replacing all 20 images is not enough
    List<Message> noImages = withoutImages(chat, 20, ContextPolicy.DEFAULT_IMAGE_MARKER);
    int window = idefics.textConfig().maxPositions();
    assertTrue(length(idefics, noImages) + MAX_NEW > window, "replacing the images must not be enough");
    int turns = fewestByScan(idefics, 10, n -> withoutTurns(noImages, n));
    assertTrue(turns >= 1, "turns " + turns);
    assertKeeps(idefics, chat, ContextPolicy.dropImagesThenTurns(), withoutTurns(noImages, turns), turns, 20);
    // images alone, the images-only policy refuses it, naming the cause
    VlmInputException e = tooLong(idefics, chat, ContextPolicy.dropOldestImages());
    assertTrue(e.getMessage().contains("with all 20 images before the last user turn replaced by \"[image omitted]\""
        + " the conversation still needs " + length(idefics, noImages) + " tokens"), e.getMessage());
    assertTrue(e.getMessage().contains("DROP_OLDEST_IMAGES leaves out no turn"), e.getMessage());
  }

  @Test
  void whatCannotFitEvenAfterThePolicyIsRefusedNamingTheCause() {
    List<Message> chat = new ArrayList<>(chat(3, 1, 0));
    chat.set(chat.size() - 1, Message.user(image(0), "What colours are in the image?" + " and then".repeat(600)));
    int window = idefics.textConfig().maxPositions();
    int alone = length(idefics, withoutTurns(chat, 3));
    assertTrue(alone + 1 > window, "the last turn alone must be over the window: " + alone);
    for (ContextPolicy policy : List.of(ContextPolicy.dropOldestTurns(), ContextPolicy.dropImagesThenTurns())) {
      VlmInputException e = tooLong(idefics, chat, policy);
      assertTrue(e.getMessage().contains("the system text and the last user turn alone need " + alone + " tokens"),
          e.getMessage());
      assertTrue(e.getMessage().contains("left out 3 turns and 3 images"), e.getMessage());
      assertTrue(e.getMessage().contains("the budget is " + (window - 1) + " tokens"), e.getMessage());
    }
    // a history over the character bound is refused before the policy tokenizes any of it
    List<Message> huge = new ArrayList<>(chat(3, 1, 0));
    huge.add(1, Message.user("and then ".repeat(4000)));
    huge.add(2, Message.assistant("ok"));
    VlmInputException chars = tooLong(idefics, huge, ContextPolicy.dropOldestTurns());
    assertTrue(chars.getMessage().contains("characters can fit")
        && chars.getMessage().contains("the context policy DROP_OLDEST_TURNS runs only on conversations within this"
            + " bound"), chars.getMessage());
    // counting reports what the policy keeps (everything droppable dropped), without refusing
    PromptStats stats = idefics.countTokens(chat, RequestOptions.DEFAULT.withContextPolicy(
        ContextPolicy.dropOldestTurns()), MAX_NEW);
    assertEquals(alone, stats.promptTokens());
    assertEquals(3, stats.dropped().turns());
  }

  @Test
  void aChatThatFitsIsLeftWholeAndTheMarkerIsCallerText() {
    List<Message> chat = chat(2, 1, 0);
    RequestOptions options = RequestOptions.DEFAULT.withContextPolicy(ContextPolicy.dropImagesThenTurns());
    assertArrayEquals(idefics.tokenize(chat, RequestOptions.DEFAULT).ids(), idefics.tokenize(chat, options).ids());
    assertEquals(DroppedContext.NONE, idefics.countTokens(chat, options, MAX_NEW).dropped());
    // a marker spelling a special token is text, never that token: the image tokens are those of the kept images
    List<Message> big = chat(4, 16, 0);
    RequestOptions special = RequestOptions.DEFAULT.withContextPolicy(
        ContextPolicy.dropOldestImages().withImageMarker("<image>"));
    PromptStats stats = idefics.countTokens(big, special, MAX_NEW);
    int kept = 4 * 16 + 1 - stats.dropped().images();
    assertEquals(kept, stats.imageTokensPerImage().length, stats.toString());
    assertArrayEquals(idefics.tokenize(withoutImages(big, stats.dropped().images(), "<image>"), RequestOptions.DEFAULT)
        .ids(), idefics.tokenize(big, special, MAX_NEW).ids());
  }

  @Test
  void fewShotPromptsAndClassifyRefuseDroppingPolicies() {
    FewShotPrompt prompt = FewShotPrompt.builder().demo(Demo.of(image(0), "ok")).query(image(1)).build();
    RequestOptions options = RequestOptions.DEFAULT.withContextPolicy(ContextPolicy.dropOldestTurns());
    for (Runnable r : List.<Runnable>of(
        () -> idefics.generate(prompt, GenerationConfig.greedy(2), options),
        () -> idefics.classify(prompt, List.of("ok", "defective"), options),
        () -> idefics.classify(chat(1, 1, 0), List.of("ok", "defective"), options),
        () -> idefics.countTokens(prompt, options))) {
      VlmInputException e = assertThrows(VlmInputException.class, r::run);
      assertEquals(VlmInputException.Reason.INVALID_OPTION, e.reason());
      assertTrue(e.getMessage().contains("applies to chats only"), e.getMessage());
    }
    assertEquals(VlmInputException.Reason.INVALID_OPTION,
        assertThrows(VlmInputException.class, () -> ContextPolicy.parse("drop_newest")).reason());
    assertEquals(ContextPolicy.dropImagesThenTurns(), ContextPolicy.parse("drop-images-then-turns"));
  }
}
