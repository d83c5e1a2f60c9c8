package io.github.vlm4j.it.fuzz;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.onnx.Dtype;
import io.github.vlm4j.core.onnx.SessionSettings;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.text.AddedToken;
import io.github.vlm4j.core.text.TextTokenizer;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import io.github.vlm4j.florence.FlorenceAnswer;
import io.github.vlm4j.florence.FlorenceBox;
import io.github.vlm4j.florence.FlorenceInput;
import io.github.vlm4j.florence.FlorenceModel;
import io.github.vlm4j.florence.FlorencePostProcessor;
import io.github.vlm4j.florence.FlorenceQuad;
import io.github.vlm4j.florence.FlorenceRegion;
import io.github.vlm4j.florence.FlorenceResult;
import io.github.vlm4j.florence.FlorenceTask;
import io.github.vlm4j.it.Fixtures;
import io.github.vlm4j.it.RecordingStreamer;
import io.github.vlm4j.vision.ImageDecoder;
import io.github.vlm4j.vision.RgbImage;
import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;

/**
 * Hostile Florence-2 requests → {@link FlorenceModel#promptIds(FlorenceTask, FlorenceInput)} and
 * {@link FlorenceModel#run(FlorenceTask, ImageInput, FlorenceInput, GenerationConfig, TokenStreamer)}
 * of the committed tiny model ({@code vlm4j-tiny-florence2}, greedy, 1 to 4 new tokens mostly).
 * Properties:
 *
 * <ol>
 *   <li>only {@link VlmInputException} escapes, within the per-input watchdog, and {@link
 *       IllegalArgumentException} only where {@link FlorenceRegion}'s constructor documents it: it is
 *       thrown exactly when a bin lies outside {@code [0, 999]} (the harness checks both ways);
 *   <li>user text never becomes a special or location token: {@code promptIds} is the tokenizer's
 *       post-processor prefix, the prompt, then its suffix, and the prompt holds no added-token id
 *       but a {@link FlorenceRegion}'s four location tokens ({@link FlorenceRegion#tokens()} looked
 *       up with {@link TextTokenizer#idOf}), in order and adjacent; {@code run} refuses what {@code
 *       promptIds} refuses, with the same reason;
 *   <li>an answer is consistent with its raw text and the image: it has a result exactly for the
 *       {@linkplain FlorenceTask.AnswerKind#supported() supported} answer kinds, of the kind's type,
 *       equal to {@link FlorencePostProcessor#parse} of its raw text at the image's decoded size; a
 *       text result is the raw text without {@code <s>} and {@code </s>}; every box or quad
 *       coordinate is {@code (N + 0.5) / 1000 × side} for a {@code <loc_N>} of the raw text, hence
 *       inside {@code (0, side)} unless the raw text spells a {@code <loc_N>} with N ≥ 1000 out of
 *       text pieces (documented on {@link FlorenceBox}: not clamped); at most one box per four
 *       location tokens (quad per eight); box labels hold no {@code <}, quad labels no line break,
 *       non-empty labels occur in the raw text; the streamed text and ids equal the generation's,
 *       which has at most {@code maxNewTokens} ids; the answer's prompt is the task's prompt text.
 * </ol>
 *
 * <p>Input format (bytes; missing bytes read as 0): byte 0 the task ({@link FlorenceTask#values()}
 * index, modulo), byte 1 the input kind (modulo 5: none, UTF-8 text, UTF-16 text of arbitrary
 * chars including lone surrogates, a region of four big-endian 32-bit ints taken as they are, a
 * region of four big-endian 16-bit values modulo 1000), byte 2 {@code maxNewTokens} ({@link
 * #BUDGETS}, modulo), byte 3 the image (modulo 18: 0-14 {@link SeedImages#all()}, 15/16 an RGB/ARGB
 * {@code BufferedImage} of bytes 5 and 6 plus 1 pixels, 17 the payload's image bytes), byte 4 the
 * text's repeat count ({@code 2^(b mod 13)}, at most {@link #MAX_TEXT_CHARS} chars in all). Then,
 * for a region, its 16 or 8 bytes; then the text, up to the first NUL byte; after it the image
 * bytes.
 */
class FlorenceFuzzTest {
  private static final FuzzRun RUN = new FuzzRun("florence", 20);
  static final String MODEL = "vlm4j-tiny-florence2";
  static final int HEADER = 7;
  static final int NONE = 0;
  static final int TEXT_UTF8 = 1;
  static final int TEXT_UTF16 = 2;
  static final int REGION_INTS = 3;
  static final int REGION_BINS = 4;
  static final int KINDS = 5;
  /**
   * maxNewTokens by byte 2: mostly 1-4 (fast); 6 and 32 (1 in 16 each) let boxes and quads form (with
   * the forced first and last tokens, 4 new tokens leave 2 free, too few for one box; the tiny model
   * wrote no quad within 12 tokens for any seed image, and does within 32); 0 and -1 are refused.
   */
  static final int[] BUDGETS = {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 6, 32, 0, -1};
  static final int IMAGE_RGB = SeedImages.all().size();
  static final int IMAGE_ARGB = IMAGE_RGB + 1;
  static final int IMAGE_BYTES = IMAGE_RGB + 2;
  /** Repeated text is cut at this many chars (well above the prompt's character bound). */
  static final int MAX_TEXT_CHARS = 1 << 17;
  private static final Pattern LOC = Pattern.compile("<loc_(\\d+)>");

  /** The model, loaded lazily inside the first input (after Jazzer installed its agent), once per JVM. */
  private static final class Base {
    static final FlorenceModel MODEL = load();
    static final TextTokenizer TOKENIZER = MODEL.tokenizer();
    static final Set<Integer> ADDED = addedIds();
    static final int[] PREFIX = TOKENIZER.postProcessorPrefix();
    static final int[] SUFFIX = TOKENIZER.postProcessorSuffix();
    static final List<byte[]> IMAGES = SeedImages.all();
    static final ImageDecoder DECODER = new ImageDecoder();

    private static FlorenceModel load() {
      try {
        return FlorenceModel.load(Fixtures.model(FlorenceFuzzTest.MODEL), Dtype.FP32,
            SessionSettings.builder().intraOpThreads(1).build());
      } catch (ModelLoadException e) {
        throw new IllegalStateException("committed tiny model " + FlorenceFuzzTest.MODEL + " must load", e);
      }
    }

    private static Set<Integer> addedIds() {
      Set<Integer> out = TOKENIZER.addedTokens().stream().map(AddedToken::id).collect(Collectors.toSet());
      for (String t : List.of("<s>", "</s>", "<loc_0>", "<loc_999>")) {
        int id = TOKENIZER.idOf(t).orElseThrow(() -> new IllegalStateException(MODEL + " lacks " + t));
        if (!out.contains(id)) {
          throw new IllegalStateException(t + " is no added token of " + MODEL + ": property 2 would check nothing");
        }
      }
      return Set.copyOf(out);
    }
  }

  /** A decoded input (see the class comment); the region's values as given, not yet checked. */
  record Request(FlorenceTask task, int kind, int[] region, String text, int maxNewTokens, int image, int width,
      int height, byte[] imageBytes) {}

  static Request parse(byte[] b) {
    int[] h = new int[HEADER];
    for (int i = 0; i < HEADER; i++) {
      h[i] = i < b.length ? b[i] & 0xFF : 0;
    }
    FlorenceTask[] tasks = FlorenceTask.values();
    int kind = h[1] % KINDS;
    int at = Math.min(HEADER, b.length);
    int[] region = null;
    if (kind == REGION_INTS || kind == REGION_BINS) {
      int width = kind == REGION_INTS ? 4 : 2;
      region = new int[4];
      for (int k = 0; k < 4; k++) {
        int v = 0;
        for (int j = 0; j < width; j++) {
          v = v << 8 | (at < b.length ? b[at] & 0xFF : 0);
          at++;
        }
        region[k] = kind == REGION_INTS ? v : v % FlorenceRegion.BINS;
      }
      at = Math.min(at, b.length);
    }
    int nul = at;
    while (nul < b.length && b[nul] != 0) {
      nul++;
    }
    String text;
    if (kind == TEXT_UTF16) {
      char[] cs = new char[(nul - at) / 2];
      for (int i = 0; i < cs.length; i++) {
        cs[i] = (char) ((b[at + 2 * i] & 0xFF) << 8 | (b[at + 2 * i + 1] & 0xFF));
      }
      text = new String(cs);
    } else {
      text = new String(b, at, nul - at, StandardCharsets.UTF_8);
    }
    int repeat = 1 << (h[4] % 13);
    if (!text.isEmpty() && (long) text.length() * repeat > MAX_TEXT_CHARS) {
      repeat = Math.max(1, MAX_TEXT_CHARS / text.length());
    }
    byte[] image = nul < b.length ? Arrays.copyOfRange(b, nul + 1, b.length) : new byte[0];
    return new Request(tasks[h[0] % tasks.length], kind, region, text.repeat(repeat), BUDGETS[h[2] % BUDGETS.length],
        h[3] % (IMAGE_BYTES + 1), 1 + h[5], 1 + h[6], image);
  }

  @DictionaryEntries({"<OCR>", "<OCR_WITH_REGION>", "<CAPTION>", "<DETAILED_CAPTION>", "<MORE_DETAILED_CAPTION>",
      "<OD>", "<DENSE_REGION_CAPTION>", "<REGION_PROPOSAL>", "<CAPTION_TO_PHRASE_GROUNDING>",
      "<REFERRING_EXPRESSION_SEGMENTATION>", "<REGION_TO_SEGMENTATION>", "<OPEN_VOCABULARY_DETECTION>",
      "<REGION_TO_CATEGORY>", "<REGION_TO_DESCRIPTION>", "<REGION_TO_OCR>", "<loc_0>", "<loc_5>", "<loc_500>",
      "<loc_999>", "<loc_1000>", "<loc_", "<s>", "</s>", "<pad>", "<unk>", "<mask>", "<od>", "</od>", "<ocr>",
      "<poly>", "<sep>", "<and>", "{input}", "{{ }}", "{{", "}}", "$&", "$$", "$'", "\u2028", "\uFEFF",
      "\u00A0", "\uD83D\uDE00", "\u0000"})
  @FuzzTest(maxDuration = "60s")
  void request(byte[] bytes) {
    Base.DECODER.getClass(); // one-time model loading outside the per-input watchdog
    RUN.runLabelled(() -> check(parse(bytes)));
  }

  /** Runs one request and checks the properties; returns the outcome to count. */
  static String check(Request r) throws Exception {
    FlorenceModel model = Base.MODEL;
    FlorenceInput input;
    switch (r.kind()) {
      case NONE -> input = null;
      case TEXT_UTF8, TEXT_UTF16 -> input = FlorenceInput.text(r.text());
      default -> {
        int[] v = r.region();
        boolean inRange = Arrays.stream(v).allMatch(x -> x >= 0 && x < FlorenceRegion.BINS);
        try {
          input = new FlorenceRegion(v[0], v[1], v[2], v[3]);
        } catch (IllegalArgumentException e) {
          if (inRange) {
            throw new AssertionError("FlorenceRegion refused bins in [0, 999]: " + Arrays.toString(v), e);
          }
          return "IllegalArgumentException.FlorenceRegion";
        }
        if (!inRange) {
          throw new AssertionError("FlorenceRegion accepted bins outside [0, 999]: " + Arrays.toString(v));
        }
      }
    }
    int[] ids;
    try {
      ids = model.promptIds(r.task(), input);
    } catch (VlmInputException refused) {
      try {
        model.run(r.task(), image(r), input, GenerationConfig.greedy(1), TokenStreamer.none());
      } catch (VlmInputException e) {
        if (e.reason() != refused.reason()) {
          throw new AssertionError(r.task() + " with " + describe(input) + ": promptIds refused it ("
              + refused.reason() + ") but run with " + e.reason() + ": " + e.getMessage(), e);
        }
        throw refused;
      }
      throw new AssertionError(r.task() + " with " + describe(input) + ": promptIds refused it (" + refused.reason()
          + ") but run answered", refused);
    }
    checkPromptIds(r.task(), input, ids);
    GenerationConfig config = GenerationConfig.greedy(r.maxNewTokens());
    RecordingStreamer streamed = new RecordingStreamer();
    FlorenceAnswer a = model.run(r.task(), image(r), input, config, streamed);
    RgbImage rgb;
    try {
      rgb = Base.DECODER.decode(image(r));
    } catch (VlmInputException e) {
      throw new AssertionError("the model answered for an image the default ImageDecoder refuses", e);
    }
    checkAnswer(r, input, a, streamed, rgb.width(), rgb.height());
    return "ok." + a.result().map(x -> x.getClass().getSimpleName()).orElse("unparsed");
  }

  static ImageInput image(Request r) {
    if (r.image() < IMAGE_RGB) {
      return ImageInput.of(Base.IMAGES.get(r.image()).clone());
    }
    if (r.image() == IMAGE_BYTES) {
      return ImageInput.of(r.imageBytes().clone());
    }
    int type = r.image() == IMAGE_RGB ? BufferedImage.TYPE_INT_RGB : BufferedImage.TYPE_INT_ARGB;
    return ImageInput.of(SeedImages.pattern(type, r.width(), r.height()));
  }

  /** Property 2 on the ids of an accepted prompt. */
  static void checkPromptIds(FlorenceTask task, FlorenceInput input, int[] ids) {
    int[] pre = Base.PREFIX;
    int[] suf = Base.SUFFIX;
    int n = ids.length;
    if (n < pre.length + suf.length || !Arrays.equals(ids, 0, pre.length, pre, 0, pre.length)
        || !Arrays.equals(ids, n - suf.length, n, suf, 0, suf.length)) {
      throw new AssertionError(task + " with " + describe(input) + ": prompt ids " + Arrays.toString(ids)
          + " do not start with the post-processor prefix " + Arrays.toString(pre) + " and end with its suffix "
          + Arrays.toString(suf));
    }
    int[] at = IntStream.range(pre.length, n - suf.length).filter(i -> Base.ADDED.contains(ids[i])).toArray();
    int[] got = Arrays.stream(at).map(i -> ids[i]).toArray();
    int[] want = input instanceof FlorenceRegion region ? regionIds(region) : new int[0];
    if (!Arrays.equals(got, want) || (at.length > 0 && at[at.length - 1] - at[0] != at.length - 1)) {
      throw new AssertionError(task + " with " + describe(input) + ": added-token ids " + names(got) + " at "
          + Arrays.toString(at) + " inside the prompt, expected only " + names(want)
          + " (a FlorenceRegion's location tokens, adjacent); prompt ids " + Arrays.toString(ids));
    }
  }

  /** The ids of {@code <loc_x1><loc_y1><loc_x2><loc_y2>}, looked up in the tokenizer. */
  static int[] regionIds(FlorenceRegion region) {
    return Arrays.stream(region.tokens().split("(?<=>)")).mapToInt(t -> Base.TOKENIZER.idOf(t)
        .orElseThrow(() -> new AssertionError(MODEL + " has no token " + t))).toArray();
  }

  /** Property 3. */
  static void checkAnswer(Request r, FlorenceInput input, FlorenceAnswer a, RecordingStreamer streamed, int width,
      int height) {
    FlorenceTask task = r.task();
    String where = task + " with " + describe(input) + " on a " + width + "x" + height + " image, raw text "
        + quote(a.rawText()) + ": ";
    String template = task.template();
    String prompt = input == null ? task.prompt() : input instanceof FlorenceInput.Text t ? task.prompt(t.text())
        : template.substring(0, template.indexOf("{input}"));
    if (a.task() != task || !a.prompt().equals(prompt)) {
      throw new AssertionError(where + "answer for " + a.task() + " with prompt " + quote(a.prompt()) + ", expected "
          + quote(prompt));
    }
    int[] gen = a.generation().tokenIds();
    if (gen.length > r.maxNewTokens() || !Arrays.equals(gen, streamed.ids())
        || !a.generation().text().equals(streamed.text())) {
      throw new AssertionError(where + "generated " + Arrays.toString(gen) + " (" + quote(a.generation().text())
          + ") with maxNewTokens " + r.maxNewTokens() + ", streamed " + Arrays.toString(streamed.ids()) + " ("
          + quote(streamed.text()) + ")");
    }
    FlorenceTask.AnswerKind kind = task.answerKind();
    if (a.result().isPresent() != kind.supported()) {
      throw new AssertionError(where + "result " + a.result() + " for answer kind " + kind);
    }
    if (a.result().isEmpty()) {
      return;
    }
    FlorenceResult result = a.result().get();
    FlorenceResult reparsed = FlorencePostProcessor.parse(a.rawText(), task, width, height);
    if (!result.equals(reparsed)) {
      throw new AssertionError(where + "result " + result + " but the raw text parses at the image's size to "
          + reparsed);
    }
    String clean = a.rawText().replace("<s>", "").replace("</s>", "");
    Locs locs = Locs.of(a.rawText());
    if (result instanceof FlorenceResult.Text t) {
      if (kind != FlorenceTask.AnswerKind.PURE_TEXT || !t.text().equals(clean)) {
        throw new AssertionError(where + "text result " + quote(t.text()) + " for kind " + kind);
      }
    } else if (result instanceof FlorenceResult.Boxes b) {
      if (kind == FlorenceTask.AnswerKind.PURE_TEXT || kind == FlorenceTask.AnswerKind.OCR
          || b.boxes().size() > locs.count() / 4) {
        throw new AssertionError(where + b.boxes().size() + " boxes from " + locs.count() + " location tokens, kind "
            + kind);
      }
      for (FlorenceBox box : b.boxes()) {
        checkLabel(where, box.label(), clean, box.label().indexOf('<') >= 0);
        checkCoordinates(where, box.coordinates(), width, height, locs);
      }
    } else {
      FlorenceResult.Quads q = (FlorenceResult.Quads) result;
      if (kind != FlorenceTask.AnswerKind.OCR || q.quads().size() > locs.count() / 8) {
        throw new AssertionError(where + q.quads().size() + " quads from " + locs.count() + " location tokens, kind "
            + kind);
      }
      for (FlorenceQuad quad : q.quads()) {
        checkLabel(where, quad.label(), clean, quad.label().chars().anyMatch(c -> c == '\n' || c == '\r'
            || c == '\u2028' || c == '\u2029'));
        checkCoordinates(where, quad.coordinates(), width, height, locs);
      }
    }
  }

  private static void checkLabel(String where, String label, String clean, boolean forbidden) {
    if (forbidden || (!label.isEmpty() && !clean.contains(label))) {
      throw new AssertionError(where + "label " + quote(label) + " is not a part of the text its kind allows");
    }
  }

  private static void checkCoordinates(String where, double[] c, int width, int height, Locs locs) {
    for (int i = 0; i < c.length; i++) {
      double side = i % 2 == 0 ? width : height;
      double bin = c[i] / side * 1000 - 0.5;
      long k = Math.round(bin);
      boolean fromToken = Math.abs(bin - k) <= 1e-6 * Math.max(1, Math.abs(bin))
          ? (k < 1000 ? locs.bins().contains((int) k) : locs.beyond()) : locs.beyond();
      boolean inside = c[i] > 0 && c[i] < side;
      if (!fromToken || (!inside && !locs.beyond())) {
        throw new AssertionError(where + "coordinate " + i + " = " + c[i] + " of " + Arrays.toString(c)
            + " is not (N + 0.5) / 1000 * " + side + " of a <loc_N> of the raw text, or lies outside (0, " + side
            + ") though every <loc_N> there has N < 1000");
      }
    }
  }

  /** The {@code <loc_N>} tokens of a raw text: their count, the bins below 1000, whether any is larger. */
  record Locs(int count, Set<Integer> bins, boolean beyond) {
    static Locs of(String raw) {
      Matcher m = LOC.matcher(raw);
      int count = 0;
      Set<Integer> bins = new HashSet<>();
      boolean beyond = false;
      while (m.find()) {
        count++;
        String digits = m.group(1).replaceFirst("^0+(?=.)", "");
        if (digits.length() > 3) {
          beyond = true;
        } else {
          bins.add(Integer.parseInt(digits));
        }
      }
      return new Locs(count, bins, beyond);
    }
  }


  static String describe(FlorenceInput input) {
    if (input instanceof FlorenceInput.Text t) {
      return "text " + quote(t.text());
    }
    return input == null ? "no input" : input.toString();
  }

  private static String names(int[] ids) {
    return Arrays.stream(ids).mapToObj(id -> id + "=" + Base.TOKENIZER.addedTokens().stream()
        .filter(t -> t.id() == id).map(AddedToken::content).findFirst().orElse("?"))
        .collect(Collectors.joining(", ", "[", "]"));
  }

  private static String quote(String s) {
    String cut = s.length() > 300 ? s.substring(0, 300) + "... (" + s.length() + " chars)" : s;
    return '"' + cut.replace("\n", "\\n") + '"';
  }

  @AfterAll
  static void summary() {
    RUN.writeSummary();
    System.out.println(RUN.line());
  }
}
