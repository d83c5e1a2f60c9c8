package io.github.vlm4j.vision;

import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.model.ModelLimits;
import java.util.Locale;

/**
 * transformers.js's {@code Qwen2VLImageProcessor} (Qwen2-VL, Qwen2.5-VL): RGB, {@link #smartResize}
 * to multiples of {@code patch_size * merge_size} within a pixel budget (Pillow-exact resampling with
 * the config's filter, none when the size is unchanged), rescale and normalise, the frame repeated
 * {@code temporal_patch_size} times, then cut into patches in the order the vision graph takes.
 *
 * <p>The {@link PreprocessedImage} this returns carries {@code frames = temporal_patch_size} and the
 * resized {@code height x width}, but its pixels are the <em>flattened patches</em> {@code [gh*gw,
 * C*T*P*P]} ({@code gh = H/P}, {@code gw = W/P}, {@code C = 3}, {@code T = temporal_patch_size},
 * {@code P = patch_size}): the same element count as {@code frames*3*H*W}, in the processor's order
 * (view {@code (grid_t, T, C, gh/m, m, P, gw/m, m, P)}, permute {@code (0,3,6,4,7,2,1,5,8)}). Feed
 * them to {@link PatchGridEncoder}.
 *
 * <p>Bounds: an aspect ratio above 200 (after the small-side upscale) is refused, as transformers.js
 * refuses it; more than {@link ModelLimits#MAX_IMAGE_TOKENS} image tokens are refused; a request's
 * {@link PixelBudget} (see {@link #withPixelBudget}) is honoured: an image that cannot be resized
 * within its {@code maxPixels} is refused. All refusals are {@link VlmInputException} with reason
 * {@link VlmInputException.Reason#IMAGE_TOO_LARGE}.
 *
 * <p>Immutable and thread-safe.
 */
public final class SmartResizePreprocessor implements ImagePreprocessor {
  /** Largest {@code max(h, w) / min(h, w)} smart_resize accepts (transformers.js: "must be smaller than 200"). */
  public static final double MAX_ASPECT_RATIO = 200;
  /** Upward search steps when computing the budget an image would need (error path only). */
  private static final int NEED_SEARCH_STEPS = 1 << 20;
  /** Largest float array this preprocessor allocates (a JVM array's length limit, with a margin). */
  private static final long MAX_FLOATS = Integer.MAX_VALUE - 16;

  private final PreprocessorConfig cfg;
  private final int patch;
  private final int merge;
  private final int temporal;
  private final PixelBudget budget;
  /** Whether {@link #budget} came from a request and must be honoured (not the config's own). */
  private final boolean requestBudget;

  /**
   * Creates the preprocessor from the model's preprocessing config.
   *
   * @param cfg the parsed {@code preprocessor_config.json}: {@code min_pixels}/{@code max_pixels}
   *     (else {@code size.shortest_edge}/{@code size.longest_edge}), {@code patch_size}, {@code
   *     merge_size}, {@code temporal_patch_size}, the filter, rescale and normalisation
   * @throws IllegalArgumentException if a field is missing or out of range (pixel bounds not in
   *     {@code 1 <= min <= max <= }{@link PixelBudget#MAX_PIXELS}, {@code max_pixels} below one
   *     merged patch, {@code patch_size*merge_size} above {@link ModelLimits#MAX_IMAGE_EDGE})
   */
  public SmartResizePreprocessor(PreprocessorConfig cfg) {
    this.cfg = cfg;
    this.patch = require("patch_size", cfg.patchSize(), ModelLimits.MAX_PATCH);
    this.merge = require("merge_size", cfg.mergeSize(), PreprocessorConfig.MAX_MERGE_SIZE);
    this.temporal = require("temporal_patch_size", cfg.temporalPatchSize(), PreprocessorConfig.MAX_TEMPORAL_PATCH_SIZE);
    if ((long) patch * merge > ModelLimits.MAX_IMAGE_EDGE) {
      throw new IllegalArgumentException("patch_size * merge_size must be at most " + ModelLimits.MAX_IMAGE_EDGE
          + ", got " + patch + " * " + merge);
    }
    if (cfg.minPixels() <= 0 || cfg.maxPixels() <= 0) {
      throw new IllegalArgumentException("a Qwen2-VL preprocessor needs min_pixels and max_pixels (or size.shortest_edge"
          + " and size.longest_edge as pixel counts), got min " + cfg.minPixels() + ", max " + cfg.maxPixels());
    }
    PixelBudget b;
    try {
      b = new PixelBudget(cfg.minPixels(), cfg.maxPixels());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("min_pixels/max_pixels: " + e.getMessage(), e);
    }
    checkFitsOnePatch(b, "max_pixels");
    this.budget = b;
    this.requestBudget = false;
  }

  private SmartResizePreprocessor(SmartResizePreprocessor base, PixelBudget budget) {
    this.cfg = base.cfg;
    this.patch = base.patch;
    this.merge = base.merge;
    this.temporal = base.temporal;
    this.budget = budget;
    this.requestBudget = true;
  }

  private static int require(String field, int value, int max) {
    if (value < 1 || value > max) {
      throw new IllegalArgumentException(field + " must be in [1, " + max + "], got "
          + (value == 0 ? "none" : Integer.toString(value)));
    }
    return value;
  }

  private void checkFitsOnePatch(PixelBudget b, String what) {
    long one = (long) factor() * factor();
    if (b.maxPixels() < one) {
      throw new IllegalArgumentException(what + " " + b.maxPixels() + " is less than one merged patch ("
          + factor() + "x" + factor() + " = " + one + " pixels): no image could be resized within it");
    }
  }

  private int factor() {
    return patch * merge;
  }

  /**
   * transformers.js 4.3.1's {@code smart_resize}: if a side is below {@code factor}, scale both up
   * so the smaller is {@code factor} (rounded); refuse an aspect ratio above 200; round both sides
   * to multiples of {@code factor}; if that exceeds {@code maxPixels}, scale down by {@code
   * sqrt(h*w/maxPixels)} and floor to multiples (at least {@code factor}); if it is below {@code
   * minPixels}, scale up by {@code sqrt(minPixels/(h*w))} and ceil to multiples. Double arithmetic;
   * rounding is JavaScript's {@code Math.round} (half up, {@code floor(x + 0.5)} for these values).
   *
   * <p>Because of the {@code max(factor, ...)} clamp, the result can exceed {@code maxPixels} for
   * extreme aspect ratios (e.g. 1x100 with factor 28, max 50,176: 28x2240 = 62,720 pixels).
   *
   * @param height image height, at least 1
   * @param width image width, at least 1
   * @param factor the side multiple ({@code patch_size * merge_size}), at least 1
   * @param minPixels lower pixel bound (not checked against {@code maxPixels}, as transformers.js)
   * @param maxPixels upper pixel bound
   * @return {@code {height, width}}, multiples of {@code factor}
   * @throws VlmInputException IMAGE_TOO_LARGE if the aspect ratio exceeds {@value #MAX_ASPECT_RATIO}
   *     or a side would not fit an {@code int}
   * @throws IllegalArgumentException if a size or {@code factor} is below 1 or a bound negative
   */
  public static int[] smartResize(int height, int width, int factor, long minPixels, long maxPixels) {
    if (height < 1 || width < 1 || factor < 1) {
      throw new IllegalArgumentException("height, width and factor must be at least 1, got " + height + ", " + width
          + ", " + factor);
    }
    if (minPixels < 0 || maxPixels < 0) {
      throw new IllegalArgumentException("pixel bounds must not be negative, got " + minPixels + ", " + maxPixels);
    }
    double h = height;
    double w = width;
    if (h < factor || w < factor) {
      double scale = Math.max(factor / h, factor / w);
      h = jsRound(h * scale);
      w = jsRound(w * scale);
    }
    double ratio = Math.max(h, w) / Math.min(h, w);
    if (ratio > MAX_ASPECT_RATIO) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_TOO_LARGE, String.format(Locale.ROOT,
          "this model accepts images with an aspect ratio up to %.0f:1, got a %dx%d image (%.1f:1%s); crop it",
          MAX_ASPECT_RATIO, width, height, ratio,
          h == height && w == width ? "" : String.format(Locale.ROOT, " after scaling up to %.0fx%.0f", w, h)));
    }
    double hBar = jsRound(h / factor) * factor;
    double wBar = jsRound(w / factor) * factor;
    if (hBar * wBar > maxPixels) {
      double beta = Math.sqrt(h * w / maxPixels);
      hBar = Math.max(factor, Math.floor(h / beta / factor) * factor);
      wBar = Math.max(factor, Math.floor(w / beta / factor) * factor);
    } else if (hBar * wBar < minPixels) {
      double beta = Math.sqrt(minPixels / (h * w));
      hBar = Math.ceil(h * beta / factor) * factor;
      wBar = Math.ceil(w * beta / factor) * factor;
    }
    if (hBar > Integer.MAX_VALUE || wBar > Integer.MAX_VALUE) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_TOO_LARGE, String.format(Locale.ROOT,
          "a %dx%d image would be resized to %.0fx%.0f, larger than any image can be", width, height, wBar, hBar));
    }
    return new int[] {(int) hBar, (int) wBar};
  }

  /** JavaScript {@code Math.round} for finite non-negative values: the nearest integer, ties up. */
  static double jsRound(double x) {
    double f = Math.floor(x);
    return x - f >= 0.5 ? f + 1 : f;
  }

  /**
   * Preprocesses one image (see the class description for the pixel layout).
   *
   * @param image the decoded image
   * @param splitOverride must be {@code null}: this processor does not tile
   * @return {@code temporal_patch_size} frames of the resized size, as flattened patches
   * @throws IllegalArgumentException if {@code splitOverride} is not null
   * @throws VlmInputException IMAGE_TOO_LARGE for an aspect ratio above 200, more than {@link
   *     ModelLimits#MAX_IMAGE_TOKENS} image tokens, or (request budgets only) more pixels than the
   *     budget's {@code maxPixels}; IMAGE_FORMAT_UNSUPPORTED if the config disables resizing and the
   *     image's sides are not multiples of {@code patch_size * merge_size}
   */
  @Override
  public PreprocessedImage preprocess(RgbImage image, Boolean splitOverride) {
    if (splitOverride != null) {
      throw new IllegalArgumentException("Qwen2-VL images are not split into tiles; the split override must be null, got "
          + splitOverride);
    }
    int[] hw = targetSize(image.height(), image.width());
    int h = hw[0];
    int w = hw[1];
    RgbImage img = Resampler.resize(image, w, h, cfg.resample());
    float[] chw = PixelOps.toNormalizedChw(img, cfg.doRescale(), cfg.rescaleFactor(), cfg.doNormalize(),
        cfg.imageMean(), cfg.imageStd());
    return new PreprocessedImage(patchify(chw, h, w, patch, merge, temporal), temporal, h, w, 0, 0);
  }

  /**
   * The size {@link #preprocess} resizes an image to, with every check {@link #preprocess} makes.
   *
   * @param height image height
   * @param width image width
   * @return {@code {height, width}}
   * @throws VlmInputException as {@link #preprocess}
   */
  public int[] targetSize(int height, int width) {
    int f = factor();
    int[] hw;
    if (cfg.doResize()) {
      hw = smartResize(height, width, f, budget.minPixels(), budget.maxPixels());
    } else {
      if (height % f != 0 || width % f != 0) {
        throw new VlmInputException(VlmInputException.Reason.IMAGE_FORMAT_UNSUPPORTED, "this model does not resize"
            + " (do_resize is false) and needs sides that are multiples of " + f + ", got " + width + "x" + height);
      }
      hw = new int[] {height, width};
    }
    long pixels = (long) hw[0] * hw[1];
    if (requestBudget && pixels > budget.maxPixels()) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_TOO_LARGE, overBudget(height, width, hw));
    }
    long tokens = pixels / ((long) f * f);
    if (tokens > ModelLimits.MAX_IMAGE_TOKENS) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_TOO_LARGE, "a " + width + "x" + height
          + " image would be resized to " + hw[1] + "x" + hw[0] + ", " + tokens + " image tokens; at most "
          + ModelLimits.MAX_IMAGE_TOKENS + " are accepted (" + (long) ModelLimits.MAX_IMAGE_TOKENS * f * f
          + " pixels); lower max_pixels or the request's pixel budget");
    }
    if (pixels > PixelBudget.MAX_PIXELS || (long) temporal * 3 * pixels > MAX_FLOATS) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_TOO_LARGE, "a " + width + "x" + height
          + " image would be resized to " + hw[1] + "x" + hw[0] + " = " + pixels + " pixels; at most "
          + Math.min(PixelBudget.MAX_PIXELS, MAX_FLOATS / (3L * temporal)) + " are accepted");
    }
    return hw;
  }

  private String overBudget(int height, int width, int[] hw) {
    long pixels = (long) hw[0] * hw[1];
    StringBuilder sb = new StringBuilder().append("a ").append(width).append('x').append(height)
        .append(" image would be resized to ").append(hw[1]).append('x').append(hw[0]).append(" = ").append(pixels)
        .append(" pixels (sides are whole multiples of the ").append(factor()).append("-pixel merged patch, at least one)")
        .append(", more than the request's maxPixels ").append(budget.maxPixels());
    long need = neededMaxPixels(height, width);
    if (need > 0) {
      sb.append("; at this aspect ratio it needs a maxPixels of at least ").append(need);
    }
    return sb.append("; raise the budget or crop the image to a less extreme aspect ratio").toString();
  }

  /** The smallest {@code maxPixels} above the budget's whose smart_resize fits within it, or 0 if none is found. */
  private long neededMaxPixels(int height, int width) {
    long m = budget.maxPixels();
    for (int i = 0; i < NEED_SEARCH_STEPS && m < PixelBudget.MAX_PIXELS; i++) {
      m++;
      int[] hw = smartResize(height, width, factor(), budget.minPixels(), m);
      if ((long) hw[0] * hw[1] <= m) {
        return m;
      }
    }
    return 0;
  }

  /**
   * Cuts planar pixels into the flattened patches of one image: the frame repeated {@code t}
   * times, patches ordered by {@code m x m} merge block, each patch {@code [C][T][P][P]}.
   */
  static float[] patchify(float[] chw, int h, int w, int p, int m, int t) {
    int gh = h / p;
    int gw = w / p;
    int pp = p * p;
    int row = 3 * t * pp;
    int plane = h * w;
    float[] out = new float[gh * gw * row];
    int o = 0;
    for (int bh = 0; bh < gh / m; bh++) {
      for (int bw = 0; bw < gw / m; bw++) {
        for (int i = 0; i < m; i++) {
          int y0 = (bh * m + i) * p;
          for (int j = 0; j < m; j++) {
            int x0 = (bw * m + j) * p;
            for (int c = 0; c < 3; c++) {
              int first = o;
              int src = c * plane + y0 * w + x0;
              for (int y = 0; y < p; y++) {
                System.arraycopy(chw, src + y * w, out, o, p);
                o += p;
              }
              for (int k = 1; k < t; k++) {
                System.arraycopy(out, first, out, o, pp);
                o += pp;
              }
            }
          }
        }
      }
    }
    return out;
  }

  /**
   * Returns a preprocessor with the same config that resizes within {@code budget} and honours it:
   * an image whose resized size would exceed {@code budget.maxPixels()} (possible for extreme aspect
   * ratios, where a side is clamped to one merged patch) is refused with IMAGE_TOO_LARGE saying how
   * many pixels it needs. This preprocessor (whose default budget keeps transformers.js's behaviour
   * of exceeding {@code max_pixels} in that case) is unchanged.
   *
   * @param budget the request's bounds
   * @return a new preprocessor; immutable and thread-safe
   * @throws IllegalArgumentException if {@code budget.maxPixels()} is less than one merged patch
   *     ({@code (patch_size*merge_size)²} pixels)
   */
  @Override
  public SmartResizePreprocessor withPixelBudget(PixelBudget budget) {
    checkFitsOnePatch(budget, "maxPixels");
    return new SmartResizePreprocessor(this, budget);
  }

  /**
   * Tells that {@link #withPixelBudget} is supported.
   *
   * @return {@code true}
   */
  @Override
  public boolean supportsPixelBudget() {
    return true;
  }

  /**
   * Returns the pixel bounds in use.
   *
   * @return the config's {@code min_pixels}/{@code max_pixels}, or the request budget this
   *     preprocessor was made with
   */
  public PixelBudget budget() {
    return budget;
  }

  /**
   * Returns the ViT patch side.
   *
   * @return {@code patch_size}
   */
  public int patchSize() {
    return patch;
  }

  /**
   * Returns how many patches per side are merged into one token.
   *
   * @return {@code merge_size}
   */
  public int mergeSize() {
    return merge;
  }

  /**
   * Returns how many frames make one temporal patch (a still image is repeated this many times).
   *
   * @return {@code temporal_patch_size}
   */
  public int temporalPatchSize() {
    return temporal;
  }

  /**
   * Counts the image tokens an image becomes: {@code (frames/T) * (H/P) * (W/P) / m²}.
   *
   * @param layout the layout {@link #preprocess} produced
   * @param patchSize {@code patch_size}
   * @param temporalPatchSize {@code temporal_patch_size}
   * @param mergeSize {@code merge_size}
   * @return the number of image tokens (rows of {@link PatchGridEncoder}'s output)
   * @throws IllegalArgumentException if the layout is not divisible into that grid
   */
  public static int imageTokens(ImageLayout layout, int patchSize, int temporalPatchSize, int mergeSize) {
    int[] g = gridThw(layout, patchSize, temporalPatchSize);
    if (mergeSize < 1 || g[1] % mergeSize != 0 || g[2] % mergeSize != 0) {
      throw new IllegalArgumentException("a patch grid of " + g[1] + "x" + g[2] + " cannot be merged " + mergeSize
          + "x" + mergeSize);
    }
    return Math.toIntExact((long) g[0] * g[1] * g[2] / ((long) mergeSize * mergeSize));
  }

  /**
   * Counts this preprocessor's image tokens for a layout it produced.
   *
   * @param layout the layout {@link #preprocess} produced
   * @return {@link #imageTokens(ImageLayout, int, int, int)} with this config's sizes
   */
  public int imageTokens(ImageLayout layout) {
    return imageTokens(layout, patch, temporal, merge);
  }

  /**
   * The vision graph's grid of an image: {@code {t, H/P, W/P}} with {@code t = frames/T} (1 for a
   * still image); the language model's M-RoPE grid is {@code {t, H/P/m, W/P/m}}.
   *
   * @param layout the layout {@link #preprocess} produced
   * @param patchSize {@code patch_size}
   * @param temporalPatchSize {@code temporal_patch_size}
   * @return {@code {grid_t, grid_h, grid_w}}
   * @throws IllegalArgumentException if the layout's sides or frames are not multiples of the patch sizes
   */
  public static int[] gridThw(ImageLayout layout, int patchSize, int temporalPatchSize) {
    if (patchSize < 1 || temporalPatchSize < 1 || layout.frames() % temporalPatchSize != 0
        || layout.height() % patchSize != 0 || layout.width() % patchSize != 0) {
      throw new IllegalArgumentException("a layout of " + layout.frames() + " frames of " + layout.width() + "x"
          + layout.height() + " is not a whole grid of " + temporalPatchSize + "x" + patchSize + "x" + patchSize
          + " patches");
    }
    return new int[] {layout.frames() / temporalPatchSize, layout.height() / patchSize, layout.width() / patchSize};
  }

  /**
   * Returns the side of the largest square image the budget's {@code maxPixels} allows (a multiple
   * of {@code patch_size*merge_size}). Used only in messages: frames vary per image.
   *
   * @return that side in pixels
   */
  @Override
  public int frameHeight() {
    return squareSide();
  }

  /**
   * Returns the same as {@link #frameHeight()} (used only in messages; frames vary per image).
   *
   * @return the side of the largest square image {@code maxPixels} allows
   */
  @Override
  public int frameWidth() {
    return squareSide();
  }

  private int squareSide() {
    int f = factor();
    return Math.max(f, (int) (Math.floor(Math.sqrt(budget.maxPixels()) / f) * f));
  }

  @Override
  public String toString() {
    return "SmartResizePreprocessor[pixels " + budget.minPixels() + ".." + budget.maxPixels() + ", patch " + patch
        + ", merge " + merge + ", temporal " + temporal + (requestBudget ? ", request budget]" : "]");
  }
}
