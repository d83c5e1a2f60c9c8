package io.github.vlm4j.vision;

import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.model.ConfigReader;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.model.ModelLimits;
import java.util.ArrayList;
import java.util.List;

/**
 * LFM2-VL's image processing, as transformers.js 4.3.1's {@code Lfm2VlImageProcessor} does it: the
 * image is rescaled and normalised at its own size, then
 * <ul>
 *   <li>resized (ONNX {@code Resize} linear, half-pixel, on the normalised floats: {@link
 *       PixelOps#resizeBilinear}) to {@code smart_resize}'s size in multiples of {@code
 *       encoder_patch_size × downsample_factor} within {@code [min_image_tokens, max_image_tokens]};
 *       or, when that is too coarse (more than {@code max_image_tokens × max_pixels_tolerance}
 *       tokens at its own size) and splitting is on,</li>
 *   <li>resized to a grid of {@code tile_size} tiles whose aspect ratio is closest to the image's
 *       ({@code min_tiles} to {@code max_tiles} tiles), cut into the tiles (row-major), plus the
 *       smart-resized image as a thumbnail when {@code use_thumbnail}.</li>
 * </ul>
 * Each frame is stored as flattened patches {@code [rows·cols, P·P·3]} (inside a patch: row, column,
 * channel), frames of their own sizes ({@link PreprocessedImage#frameSizes()}); {@link
 * PaddedPatchEncoder} pads them to the graph's patch count. Frame sizes are multiples of {@code
 * encoder_patch_size}.
 *
 * <p>A request's {@link PixelBudget} ({@link #withPixelBudget}) replaces {@code [min_image_tokens,
 * max_image_tokens] × (encoder_patch_size × downsample_factor)²} as smart_resize's pixel bounds and
 * makes every image one frame (no tiles): the budget then bounds the image's tokens, as it does for
 * Qwen-VL. It can lower the image's tokens or raise them up to the padded frame the vision graph takes
 * ({@link #maxPatches()} patches).
 *
 * <p>Immutable and thread-safe.
 */
public final class Lfm2VlPreprocessor implements ImagePreprocessor {
  /** Tiles per side the LFM2-VL prompt format has tokens for ({@code <|img_row_r_col_c|>}); bounds {@code max_tiles}. */
  public static final int MAX_TILES = 64;
  private static final long MAX_FLOATS = Integer.MAX_VALUE - 16;

  private final PreprocessorConfig cfg;
  private final int patch;
  private final int downsample;
  private final boolean splitting;
  private final int minTiles;
  private final int maxTiles;
  private final boolean thumbnail;
  private final int minTokens;
  private final int maxTokens;
  private final int tile;
  private final double tolerance;
  private final int maxPatches;
  private final List<int[]> ratios;
  /** A request's pixel bounds, or null for the config's token bounds (and tiling). */
  private final PixelBudget requestBudget;

  private Lfm2VlPreprocessor(Lfm2VlPreprocessor base, PixelBudget budget) {
    this.cfg = base.cfg;
    this.patch = base.patch;
    this.downsample = base.downsample;
    this.splitting = base.splitting;
    this.minTiles = base.minTiles;
    this.maxTiles = base.maxTiles;
    this.thumbnail = base.thumbnail;
    this.minTokens = base.minTokens;
    this.maxTokens = base.maxTokens;
    this.tile = base.tile;
    this.tolerance = base.tolerance;
    this.maxPatches = base.maxPatches;
    this.ratios = base.ratios;
    this.requestBudget = budget;
  }

  private Lfm2VlPreprocessor(PreprocessorConfig cfg, ConfigReader r, String source) throws ModelLoadException {
    this.cfg = cfg;
    this.downsample = r.intOr("downsample_factor", 1, 16, 2);
    this.splitting = r.boolOr("do_image_splitting", true);
    this.minTiles = r.intOr("min_tiles", 1, MAX_TILES, 2);
    this.maxTiles = r.intOr("max_tiles", 1, MAX_TILES, 10);
    this.thumbnail = r.boolOr("use_thumbnail", true);
    this.minTokens = r.intOr("min_image_tokens", 1, ModelLimits.MAX_IMAGE_TOKENS, 64);
    this.maxTokens = r.intOr("max_image_tokens", 1, ModelLimits.MAX_IMAGE_TOKENS, 256);
    this.patch = r.has("encoder_patch_size") ? r.requireInt("encoder_patch_size", 1, ModelLimits.MAX_PATCH)
        : r.intOr("patch_size", 1, ModelLimits.MAX_PATCH, 16);
    this.tile = r.intOr("tile_size", 1, ModelLimits.MAX_IMAGE_EDGE, 512);
    this.tolerance = r.doubleOr("max_pixels_tolerance", 0.01, 1000, 2.0);
    if (minTiles > maxTiles) {
      throw r.malformed("min_tiles", "(" + minTiles + ") must not exceed max_tiles (" + maxTiles + ")");
    }
    if (minTokens > maxTokens) {
      throw r.malformed("min_image_tokens", "(" + minTokens + ") must not exceed max_image_tokens (" + maxTokens + ")");
    }
    if (tile % (patch * downsample) != 0) {
      throw r.malformed("tile_size", "(" + tile + ") must be a multiple of encoder_patch_size x downsample_factor ("
          + patch + " x " + downsample + ")");
    }
    long factor = (long) patch * downsample;
    if (factor > ModelLimits.MAX_IMAGE_EDGE) {
      throw r.malformed("encoder_patch_size", "x downsample_factor must be at most " + ModelLimits.MAX_IMAGE_EDGE
          + ", got " + patch + " x " + downsample);
    }
    long thumbPatches = (long) maxTokens * downsample * downsample;
    long tilePatches = (long) (tile / patch) * (tile / patch);
    long most = Math.max(thumbPatches, splitting ? tilePatches : 0);
    long tokens = (long) maxTiles * tokensPerTile() + (thumbnail ? maxTokens : 0);
    if (Math.max(thumbPatches, tilePatches) * patch * patch * 3 > MAX_FLOATS / (maxTiles + 1L)
        || tokens > ModelLimits.MAX_IMAGE_TOKENS) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, source + ": max_tiles " + maxTiles
          + ", tile_size " + tile + ", max_image_tokens " + maxTokens + " allow " + tokens + " image tokens per image;"
          + " at most " + ModelLimits.MAX_IMAGE_TOKENS + " are accepted");
    }
    this.maxPatches = (int) most;
    this.ratios = targetRatios(minTiles, maxTiles);
    this.requestBudget = null;
  }

  /**
   * Returns a preprocessor with the same config that resizes every image to one frame within {@code
   * budget} (see the class description). An image whose resized size would still exceed {@code
   * budget.maxPixels()} (an extreme aspect ratio, where a side is clamped to one token) is refused
   * with IMAGE_TOO_LARGE; a request that also asks for image splitting is refused with
   * INVALID_OPTION. This preprocessor is unchanged.
   *
   * @param budget the request's bounds
   * @return a new preprocessor; immutable and thread-safe
   * @throws IllegalArgumentException if {@code budget.maxPixels()} is less than one image token
   *     ({@code (encoder_patch_size × downsample_factor)²} pixels) or more than the vision graph's
   *     padded frame holds ({@link #maxPatches()} × {@code encoder_patch_size²} pixels)
   */
  @Override
  public Lfm2VlPreprocessor withPixelBudget(PixelBudget budget) {
    long f = (long) patch * downsample;
    if (budget.maxPixels() < f * f) {
      throw new IllegalArgumentException("maxPixels " + budget.maxPixels() + " is less than one image token ("
          + f + "x" + f + " = " + f * f + " pixels): no image could be resized within it");
    }
    long most = (long) maxPatches * patch * patch;
    if (budget.maxPixels() > most) {
      throw new IllegalArgumentException("maxPixels " + budget.maxPixels() + " is more than this model's vision graph"
          + " takes in one frame (" + maxPatches + " patches of " + patch + "x" + patch + " = " + most + " pixels)");
    }
    return new Lfm2VlPreprocessor(this, budget);
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
   * Returns the request's pixel budget.
   *
   * @return the budget this preprocessor was made with by {@link #withPixelBudget}, or empty for the
   *     config's token bounds
   */
  public java.util.Optional<PixelBudget> requestBudget() {
    return java.util.Optional.ofNullable(requestBudget);
  }

  /**
   * Reads the preprocessor from a model folder's {@code preprocessor_config.json} (transformers.js's
   * defaults for missing fields).
   *
   * @param folder the model folder
   * @return the preprocessor
   * @throws ModelLoadException MISSING_FILE, or MALFORMED_CONFIG naming the field, its range and the
   *     value found
   */
  public static Lfm2VlPreprocessor read(ModelFolder folder) throws ModelLoadException {
    PreprocessorConfig cfg = PreprocessorConfig.read(folder);
    String source = folder.describe(PreprocessorConfig.FILE);
    return new Lfm2VlPreprocessor(cfg, ConfigReader.of(folder.readJson(PreprocessorConfig.FILE), source), source);
  }

  /** transformers.js {@code get_target_ratios}: (w, h) with min..max tiles, by tile count (stable). */
  private static List<int[]> targetRatios(int min, int max) {
    List<int[]> out = new ArrayList<>();
    java.util.Set<Long> seen = new java.util.HashSet<>();
    for (int n = min; n <= max; n++) {
      for (int w = 1; w <= n; w++) {
        for (int h = 1; h <= n; h++) {
          if (w * h >= min && w * h <= max && seen.add(((long) w << 32) | h)) {
            out.add(new int[] {w, h});
          }
        }
      }
    }
    out.sort(java.util.Comparator.comparingInt(r -> r[0] * r[1]));
    return List.copyOf(out);
  }

  /**
   * The frames an image of this size becomes: {@code {rows, cols, thumbHeight, thumbWidth}} where
   * rows = cols = 0 means one frame of {@code thumbHeight x thumbWidth}.
   */
  int[] plan(int height, int width, boolean split) {
    int f = patch * downsample;
    long minPixels = requestBudget != null ? requestBudget.minPixels() : (long) minTokens * f * f;
    long maxPixels = requestBudget != null ? requestBudget.maxPixels() : (long) maxTokens * f * f;
    int[] hw = SmartResizePreprocessor.smartResize(Math.max(f, height), Math.max(f, width), f, minPixels, maxPixels);
    int nh = Math.max(f, hw[0]);
    int nw = Math.max(f, hw[1]);
    if (requestBudget != null && (long) nh * nw > maxPixels) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_TOO_LARGE, "a " + width + "x" + height
          + " image needs at least " + (long) nh * nw + " pixels (" + nw + "x" + nh + ", sides in multiples of " + f
          + ") but the request's pixel budget allows at most " + maxPixels + "; crop it or raise the budget");
    }
    long hBar = Math.max(patch, (long) SmartResizePreprocessor.jsRound((double) height / f) * f);
    long wBar = Math.max(patch, (long) SmartResizePreprocessor.jsRound((double) width / f) * f);
    boolean large = hBar * wBar > maxTokens * (double) f * f * tolerance;
    if (large && split && !(minTiles == 1 && maxTiles == 1)) {
      int[] grid = closestRatio((double) width / height, width, height);
      return new int[] {grid[1], grid[0], nh, nw};
    }
    return new int[] {0, 0, nh, nw};
  }

  /** transformers.js {@code find_closest_aspect_ratio}: (w, h) tiles. */
  private int[] closestRatio(double aspect, int width, int height) {
    double bestDiff = Double.POSITIVE_INFINITY;
    int[] best = {1, 1};
    double area = (double) width * height;
    for (int[] r : ratios) {
      double diff = Math.abs(aspect - (double) r[0] / r[1]);
      if (diff < bestDiff) {
        bestDiff = diff;
        best = r;
      } else if (diff == bestDiff && area > 0.5 * tile * tile * r[0] * r[1]) {
        best = r;
      }
    }
    return best;
  }

  /**
   * Preprocesses one image (see the class description).
   *
   * @param image the decoded image
   * @param splitOverride force tiling on or off for large images; null for {@code do_image_splitting}
   * @return the frames: the tiles row by row then the thumbnail, or one frame
   * @throws VlmInputException IMAGE_TOO_LARGE for an aspect ratio above 200:1 or an image that does
   *     not fit the request's pixel budget; INVALID_OPTION for splitting forced on with a pixel budget
   */
  @Override
  public PreprocessedImage preprocess(RgbImage image, Boolean splitOverride) {
    if (requestBudget != null && Boolean.TRUE.equals(splitOverride)) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "a pixel budget resizes each image to one"
          + " frame within it; it cannot be combined with image splitting (" + tile + "-pixel tiles): set one of them");
    }
    boolean split = requestBudget == null && (splitOverride != null ? splitOverride : splitting);
    int h = image.height();
    int w = image.width();
    int[] plan = plan(h, w, split);
    int rows = plan[0];
    int cols = plan[1];
    List<float[]> frames = new ArrayList<>();
    List<int[]> sizes = new ArrayList<>();
    if (rows > 0) {
      int bh = rows * tile;
      int bw = cols * tile;
      float[] big = resize(image, bh, bw);
      for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
          float[] t = new float[3 * tile * tile];
          PixelOps.crop(big, 3, bh, bw, r * tile, c * tile, tile, tile, t, 0);
          frames.add(patches(t, tile, tile));
          sizes.add(new int[] {tile, tile});
        }
      }
    }
    if (rows == 0 || (thumbnail && rows * cols != 1)) {
      frames.add(patches(resize(image, plan[2], plan[3]), plan[2], plan[3]));
      sizes.add(new int[] {plan[2], plan[3]});
    }
    int n = frames.stream().mapToInt(a -> a.length).sum();
    float[] all = new float[n];
    int at = 0;
    int[] frameSizes = new int[2 * sizes.size()];
    for (int i = 0; i < frames.size(); i++) {
      System.arraycopy(frames.get(i), 0, all, at, frames.get(i).length);
      at += frames.get(i).length;
      frameSizes[2 * i] = sizes.get(i)[0];
      frameSizes[2 * i + 1] = sizes.get(i)[1];
    }
    int[] last = sizes.get(sizes.size() - 1);
    return new PreprocessedImage(all, frames.size(), last[0], last[1], rows, cols, frameSizes);
  }

  private float[] resize(RgbImage image, int outH, int outW) {
    return PixelOps.normalizedResizeBilinear(image, cfg.doRescale(), cfg.rescaleFactor(), cfg.doNormalize(),
        cfg.imageMean(), cfg.imageStd(), outH, outW);
  }

  /** {@code [C, h, w]} to {@code [h/P * w/P, P*P*C]}: patches row-major, inside a patch (dy, dx, c). */
  private float[] patches(float[] chw, int h, int w) {
    int ph = h / patch;
    int pw = w / patch;
    float[] out = new float[ph * pw * patch * patch * 3];
    int plane = h * w;
    int o = 0;
    for (int py = 0; py < ph; py++) {
      for (int px = 0; px < pw; px++) {
        for (int dy = 0; dy < patch; dy++) {
          int row = (py * patch + dy) * w + px * patch;
          for (int dx = 0; dx < patch; dx++) {
            for (int c = 0; c < 3; c++) {
              out[o++] = chw[c * plane + row + dx];
            }
          }
        }
      }
    }
    return out;
  }

  /**
   * Counts the image tokens of one frame: {@code ceil((side / P) / downsample)} per side.
   *
   * @param layout the image's layout
   * @param frame frame index
   * @return the frame's image tokens
   */
  public int frameTokens(ImageLayout layout, int frame) {
    return side(layout.frameHeight(frame)) * side(layout.frameWidth(frame));
  }

  private int side(int pixels) {
    return (pixels / patch + downsample - 1) / downsample;
  }

  /**
   * Returns the image tokens of one tile.
   *
   * @return {@code ceil((tile_size / P) / downsample)²}
   */
  public int tokensPerTile() {
    return side(tile) * side(tile);
  }

  /**
   * Returns the patch side.
   *
   * @return {@code encoder_patch_size}
   */
  public int patchSize() {
    return patch;
  }

  /**
   * Returns the pixel-unshuffle factor of the projector.
   *
   * @return {@code downsample_factor}
   */
  public int downsampleFactor() {
    return downsample;
  }

  /**
   * Returns the patch rows every frame is padded to for the vision graph.
   *
   * @return {@code max(max_image_tokens × downsample², (tile_size / P)²)} (the latter only when
   *     {@code do_image_splitting}), as transformers.js computes {@code max_num_patches}; a request
   *     that turns splitting on for such a model gets tiles of {@code (tile_size / P)²} patches, and
   *     the encoder pads to the larger
   */
  public int maxPatches() {
    return maxPatches;
  }

  /**
   * Returns the largest tile grid side.
   *
   * @return {@code max_tiles} (a grid has at most that many tiles, so no side is longer)
   */
  public int maxTiles() {
    return maxTiles;
  }

  @Override
  public boolean splitsImages() {
    return true;
  }

  /**
   * Returns the tile side.
   *
   * @return {@code tile_size}
   */
  @Override
  public int frameHeight() {
    return tile;
  }

  /**
   * Returns the tile side.
   *
   * @return {@code tile_size}
   */
  @Override
  public int frameWidth() {
    return tile;
  }

  @Override
  public String toString() {
    return "Lfm2VlPreprocessor[patch " + patch + ", downsample " + downsample + ", tile " + tile + ", tiles " + minTiles
        + ".." + maxTiles + ", tokens " + minTokens + ".." + maxTokens + (thumbnail ? ", thumbnail" : "")
        + (requestBudget == null ? "" : ", pixels " + requestBudget.minPixels() + ".." + requestBudget.maxPixels()) + "]";
  }
}
