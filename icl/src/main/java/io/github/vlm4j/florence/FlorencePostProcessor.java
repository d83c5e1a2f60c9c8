package io.github.vlm4j.florence;

import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.VlmInputException.Reason;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Turns a Florence-2 generation into a typed {@link FlorenceResult}, as transformers.js 4.3.1's
 * {@code Florence2Processor.post_process_generation} does. Stateless; the static methods are
 * thread-safe.
 *
 * <p>What it does, in transformers.js's terms:
 *
 * <ul>
 *   <li>Every {@code <s>}, then every {@code </s>}, is removed; nothing else ({@code <pad>} stays).
 *   <li>Pure-text tasks return that text as it is (not trimmed).
 *   <li>Box tasks ({@code description_with_bboxes}, {@code bboxes}, {@code phrase_grounding}) find,
 *       left to right, the matches of {@code ([^<]+)?<loc_(\d+)>} followed by three more location
 *       tokens: the label is the text since the previous match or the last {@code <} (so text in
 *       front of a {@code <} is dropped and a label never contains {@code <}); a fifth, sixth or
 *       seventh location token is not part of a box, and its text from {@code loc_} on becomes part
 *       of the next label (transformers.js's leftmost-match rule); an absent label repeats the
 *       previous box's label (empty for the first box); a label of only whitespace becomes empty.
 *   <li>{@code <OCR_WITH_REGION>} finds the matches of {@code (.+?)} followed by eight location
 *       tokens: the label is at least one character, may contain {@code <} and earlier location
 *       tokens, and never a line break ({@code \n}, {@code \r}, U+2028, U+2029, JavaScript's
 *       {@code .}); eight location tokens with no character in front of them, or right after the
 *       previous region, are therefore no region.
 *   <li>Labels are trimmed of JavaScript's whitespace ({@code String.prototype.trim}: Unicode space
 *       separators, tab, line breaks, VT, FF, U+FEFF), not Java's.
 *   <li>A location token's number {@code N} gives {@code (N + 0.5) / 1000 * size} in double
 *       precision, size the width for x (even positions) and the height for y. N is any ASCII digit
 *       string, so {@code <loc_1000>} and {@code <loc_123456>} give coordinates beyond the image,
 *       exactly as in transformers.js (not clamped).
 * </ul>
 *
 * <p>Bounds, where transformers.js has none (typed errors, never silent truncation):
 *
 * <ul>
 *   <li>Parsing is linear in the text length (a single scan; no backtracking regular expression,
 *       whereas transformers.js's label groups are quadratic on long text without a box).
 *   <li>Text longer than {@link #MAX_TEXT_CHARS} characters, or with more than {@link #MAX_REGIONS}
 *       boxes or quadrilaterals: {@link VlmInputException} with {@link Reason#INVALID_GENERATION}.
 *   <li>A location token so large that a coordinate is not finite (a number of about 309 digits or
 *       more; transformers.js returns {@code Infinity}): {@link Reason#INVALID_GENERATION}.
 *   <li>Width or height below 1: {@link Reason#IMAGE_EMPTY} (transformers.js would return zeros or
 *       negative coordinates).
 *   <li>The two polygon answer kinds transformers.js 4.3.1 does not implement:
 *       {@link UnsupportedOperationException}, as it throws.
 * </ul>
 */
public final class FlorencePostProcessor {
  /** The longest generated text accepted, in UTF-16 chars (far above 1024 generated tokens). */
  public static final int MAX_TEXT_CHARS = 1 << 20;

  /** The most boxes or quadrilaterals accepted in one generation. */
  public static final int MAX_REGIONS = 1 << 14;

  /** transformers.js's {@code size_per_bin}: the number of location bins per image side. */
  static final double BINS = 1000;

  private static final int BOX_TOKENS = 4;
  private static final int QUAD_TOKENS = 8;

  private FlorencePostProcessor() {}

  /**
   * Parses one generation.
   *
   * @param generatedTextWithSpecialTokens the decoded generation with its special tokens kept (the
   *     location tokens must be there); not null
   * @param task the task the prompt was built for; not null
   * @param imageWidth the original image's width in pixels (x coordinates scale with it), at least 1
   * @param imageHeight the original image's height in pixels, at least 1
   * @return {@link FlorenceResult.Text}, {@link FlorenceResult.Boxes} or {@link FlorenceResult.Quads},
   *     by {@code task.answerKind()}
   * @throws VlmInputException {@link Reason#IMAGE_EMPTY} for a size below 1; {@link
   *     Reason#INVALID_GENERATION} for a text over {@link #MAX_TEXT_CHARS}, more regions than
   *     {@link #MAX_REGIONS}, or a coordinate that is not finite
   * @throws UnsupportedOperationException for the polygon kinds (see {@link
   *     FlorenceTask.AnswerKind#supported()})
   */
  public static FlorenceResult parse(String generatedTextWithSpecialTokens, FlorenceTask task, int imageWidth,
      int imageHeight) {
    Objects.requireNonNull(generatedTextWithSpecialTokens, "generatedTextWithSpecialTokens");
    Objects.requireNonNull(task, "task");
    if (imageWidth < 1 || imageHeight < 1) {
      throw new VlmInputException(Reason.IMAGE_EMPTY,
          "Florence-2 post-processing needs an image size of at least 1x1 pixels, found " + imageWidth + "x"
              + imageHeight);
    }
    if (generatedTextWithSpecialTokens.length() > MAX_TEXT_CHARS) {
      throw new VlmInputException(Reason.INVALID_GENERATION,
          "Florence-2 generation of at most " + MAX_TEXT_CHARS + " chars expected, found "
              + generatedTextWithSpecialTokens.length());
    }
    FlorenceTask.AnswerKind kind = task.answerKind();
    if (!kind.supported()) {
      throw new UnsupportedOperationException("Florence-2 task " + task.token() + " (answer kind " + kind
          + ") has no post-processing; transformers.js 4.3.1 does not implement it either");
    }
    String text = generatedTextWithSpecialTokens.replace("<s>", "").replace("</s>", "");
    switch (kind) {
      case PURE_TEXT:
        return new FlorenceResult.Text(task, text);
      case OCR:
        return new FlorenceResult.Quads(task, quads(text, imageWidth, imageHeight));
      default:
        return new FlorenceResult.Boxes(task, boxes(text, imageWidth, imageHeight));
    }
  }

  private static List<FlorenceBox> boxes(String text, int width, int height) {
    LocationTokens tokens = new LocationTokens(text);
    List<FlorenceBox> out = new ArrayList<>();
    String previous = "";
    int n = text.length();
    int p = 0;
    while (p < n) {
      int locs;
      String label;
      if (text.charAt(p) == '<') {
        if (!tokens.run(p, BOX_TOKENS)) {
          p++;
          continue;
        }
        locs = p;
        label = null;
      } else {
        int q = text.indexOf('<', p);
        if (q < 0) {
          break;
        }
        if (!tokens.run(q, BOX_TOKENS)) {
          p = q;
          continue;
        }
        locs = q;
        label = text.substring(p, q);
      }
      checkRegionCount(out.size());
      double[] c = new double[BOX_TOKENS];
      p = coordinates(tokens, locs, c, width, height);
      previous = label != null ? JsWhitespace.trim(label) : previous;
      out.add(new FlorenceBox(previous, c[0], c[1], c[2], c[3]));
    }
    return out;
  }

  private static List<FlorenceQuad> quads(String text, int width, int height) {
    LocationTokens tokens = new LocationTokens(text);
    List<FlorenceQuad> out = new ArrayList<>();
    int n = text.length();
    int p = 0;
    while (p < n) {
      if (JsWhitespace.isLineTerminator(text.charAt(p))) {
        p++;
        continue;
      }
      // the lazy label (.+?): the shortest non-empty run without a line break that eight tokens follow
      int k = p + 1;
      while (k < n && !tokens.run(k, QUAD_TOKENS) && !JsWhitespace.isLineTerminator(text.charAt(k))) {
        k++;
      }
      if (k >= n || !tokens.run(k, QUAD_TOKENS)) {
        // no later start on this line can match either: its candidates are a subset of p's
        p = k;
        continue;
      }
      checkRegionCount(out.size());
      String label = JsWhitespace.trim(text.substring(p, k));
      double[] c = new double[QUAD_TOKENS];
      p = coordinates(tokens, k, c, width, height);
      out.add(new FlorenceQuad(label, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]));
    }
    return out;
  }

  /** Fills {@code out} from the tokens starting at {@code at}; returns the index after the last. */
  private static int coordinates(LocationTokens tokens, int at, double[] out, int width, int height) {
    int p = at;
    for (int i = 0; i < out.length; i++) {
      double size = i % 2 == 0 ? width : height;
      double v = ((tokens.value(p) + 0.5) / BINS) * size;
      if (!Double.isFinite(v)) {
        throw new VlmInputException(Reason.INVALID_GENERATION,
            "Florence-2 location token with a finite pixel coordinate expected, found a "
                + (tokens.endOf(p) - p - 6) + "-digit bin at char " + p + " (coordinate " + v + ")");
      }
      out[i] = v;
      p = tokens.endOf(p);
    }
    return p;
  }

  private static void checkRegionCount(int found) {
    if (found >= MAX_REGIONS) {
      throw new VlmInputException(Reason.INVALID_GENERATION,
          "Florence-2 generation with at most " + MAX_REGIONS + " regions expected, found more");
    }
  }
}
