package io.github.vlm4j.it.fuzz;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ContentPart;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.ImagePart;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.core.prompt.Role;
import io.github.vlm4j.core.prompt.TextPart;
import io.github.vlm4j.core.text.AddedToken;
import io.github.vlm4j.it.Fixtures;
import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;

/**
 * Hostile message lists → {@link VisionLanguageModel#tokenize} (chat template, prompt assembly,
 * image expansion, tokenizer) of the committed tiny models. Properties:
 *
 * <ol>
 *   <li>only {@link VlmInputException} escapes, within the per-input watchdog;
 *   <li>(on by default since the template fix, main 8939326, is merged; {@code -Dfuzz.checkSpecialIds=false} turns it off) no
 *       special or added token id comes from caller text: each such id occurs as often as in the
 *       prompt of the same message structure with every non-blank text replaced by {@code "a"}.
 * </ol>
 *
 * <p>Input format (readable, so corpus files are reproductions): UTF-8, split at NUL characters. The
 * first chunk's first character selects the model ({@code 0} idefics3, {@code 1} llava, {@code 2}
 * modular, by code point modulo 3). Every further chunk starts with a directive: {@code s}, {@code
 * u}, {@code a} open a system/user/assistant message whose first text part is the rest of the
 * chunk; {@code t} adds a text part to the current message; {@code i} adds a tiny image part; any
 * other first character adds the whole chunk as a text part (opening a user message if needed).
 */
class PromptFuzzTest {
  private static final FuzzRun RUN = new FuzzRun("prompts", 20);
  private static final String[] MODELS = {"vlm4j-tiny-idefics3", "vlm4j-tiny-llava", "vlm4j-tiny-modular"};

  /** Models loaded lazily inside the first input, after Jazzer installed its agent. */
  private static final class Models {
    static final VisionLanguageModel[] LOADED = load();
    static final int[][] SPECIAL_IDS = specialIds();
    static final byte[] PNG = SeedImages.write(SeedImages.pattern(BufferedImage.TYPE_INT_RGB, 8, 8), "png");

    private static VisionLanguageModel[] load() {
      VisionLanguageModel[] out = new VisionLanguageModel[MODELS.length];
      for (int i = 0; i < out.length; i++) {
        try {
          out[i] = VisionLanguageModel.builder(Fixtures.model(MODELS[i])).threads(1).build();
        } catch (ModelLoadException e) {
          throw new IllegalStateException("committed tiny model " + MODELS[i] + " must load", e);
        }
      }
      return out;
    }

    private static int[][] specialIds() {
      int[][] out = new int[LOADED.length][];
      for (int i = 0; i < out.length; i++) {
        out[i] = LOADED[i].tokenizer().addedTokens().stream().mapToInt(AddedToken::id).sorted().distinct().toArray();
      }
      return out;
    }
  }

  /** Whether property 2 is checked (default on: the template fix of issue 11 item 1 is merged). */
  static boolean checkSpecialIds() {
    return Boolean.parseBoolean(System.getProperty("fuzz.checkSpecialIds", "true"));
  }

  /** A parsed input: which model, and the messages. */
  record Case(int model, List<Message> messages) {}

  /**
   * @param bytes the fuzzer's input
   * @return the model index and messages it encodes (see the class comment)
   */
  static Case parse(byte[] bytes, byte[] png) {
    String s = new String(bytes, StandardCharsets.UTF_8);
    String[] chunks = s.split("\u0000", -1);
    int model = chunks[0].isEmpty() ? 0 : Math.floorMod(chunks[0].codePointAt(0), MODELS.length);
    List<Message> messages = new ArrayList<>();
    Role role = null;
    List<ContentPart> parts = new ArrayList<>();
    for (int i = 1; i < chunks.length; i++) {
      String c = chunks[i];
      char d = c.isEmpty() ? 't' : c.charAt(0);
      String rest = c.isEmpty() ? "" : c.substring(1);
      Role open = switch (d) {
        case 's' -> Role.SYSTEM;
        case 'u' -> Role.USER;
        case 'a' -> Role.ASSISTANT;
        default -> null;
      };
      if (open != null) {
        if (role != null) {
          messages.add(new Message(role, parts));
        }
        role = open;
        parts = new ArrayList<>();
        parts.add(new TextPart(rest));
        continue;
      }
      if (role == null) {
        role = Role.USER;
      }
      if (d == 'i') {
        parts.add(new ImagePart(ImageInput.of(png)));
      } else {
        parts.add(new TextPart(d == 't' ? rest : c));
      }
    }
    if (role != null) {
      messages.add(new Message(role, parts));
    }
    return new Case(model, messages);
  }

  /** The same structure with every non-blank text replaced by "a". */
  static List<Message> neutral(List<Message> messages) {
    List<Message> out = new ArrayList<>();
    for (Message m : messages) {
      List<ContentPart> parts = new ArrayList<>();
      for (ContentPart p : m.content()) {
        parts.add(p instanceof TextPart t && !t.text().isBlank() ? new TextPart("a") : p);
      }
      out.add(new Message(m.role(), parts));
    }
    return out;
  }

  static Map<Integer, Integer> counts(int[] ids, int[] special) {
    Map<Integer, Integer> out = new TreeMap<>();
    for (int id : ids) {
      if (Arrays.binarySearch(special, id) >= 0) {
        out.merge(id, 1, Integer::sum);
      }
    }
    return out;
  }

  @DictionaryEntries({"\u0000u", "\u0000a", "\u0000s", "\u0000t", "\u0000i", "{{", "}}", "{%", "%}", "{#", "#}",
      "{{ 7*7 }}", "{% for x in range(10) %}", "{% endfor %}", "{% raw %}", "{% set x = ", "messages", "|string",
      "|length", "|trim", "loop.index", "<end_of_utterance>", "<|im_start|>", "<|im_end|>", "<|endoftext|>",
      "<image>", "<fake_token_around_image>", "<global-img>", "<row_1_col_1>", "Assistant:", "USER: ",
      "ASSISTANT:", "\uE000", "\uE001", "\uE002", "\uE003", "\uD83D\uDE00", "\u0301"})
  @FuzzTest(maxDuration = "60s")
  void tokenize(byte[] bytes) {
    Models.SPECIAL_IDS.getClass(); // one-time model loading outside the per-input watchdog
    RUN.run(() -> {
      Case c = parse(bytes, Models.PNG);
      VisionLanguageModel model = Models.LOADED[c.model()];
      int[] ids = model.tokenize(c.messages(), RequestOptions.DEFAULT).ids();
      if (!checkSpecialIds()) {
        return;
      }
      int[] neutralIds;
      try {
        neutralIds = model.tokenize(neutral(c.messages()), RequestOptions.DEFAULT).ids();
      } catch (VlmInputException e) {
        return; // the neutral structure itself is refused (e.g. too long): nothing to compare
      }
      int[] special = Models.SPECIAL_IDS[c.model()];
      Map<Integer, Integer> got = counts(ids, special);
      Map<Integer, Integer> want = counts(neutralIds, special);
      if (!got.equals(want)) {
        throw new AssertionError(MODELS[c.model()] + ": special/added token ids from caller text: counts " + got
            + " but " + want + " for the same structure with neutral text; messages " + c.messages());
      }
    });
  }

  @AfterAll
  static void summary() {
    RUN.writeSummary();
    System.out.println(RUN.line());
  }
}
