package io.github.vlm4j.vision;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ConfigReader;
import io.github.vlm4j.core.model.ModelLimits;
import io.github.vlm4j.core.model.ModelFolder;

/**
 * The parts of a HuggingFace {@code preprocessor_config.json} vlm4j uses. Immutable.
 *
 * @param doResize resize the image
 * @param sizeHeight target height for {@code size: {height, width}}, else 0
 * @param sizeWidth target width for {@code size: {height, width}}, else 0
 * @param shortestEdge {@code size.shortest_edge}, else 0
 * @param longestEdge {@code size.longest_edge}, else 0
 * @param maxImageSize {@code max_image_size.longest_edge} (tile size for Idefics3), else 0
 * @param doImageSplitting Idefics3 tiling
 * @param resample resampling filter
 * @param doRescale multiply by {@code rescaleFactor}
 * @param rescaleFactor usually 1/255
 * @param doNormalize apply mean/std
 * @param imageMean per-channel mean
 * @param imageStd per-channel std
 * @param doCenterCrop crop the centre
 * @param cropHeight crop height
 * @param cropWidth crop width
 * @param minPixels pixel-budget processors (Qwen2-VL): {@code min_pixels}, else {@code
 *     size.shortest_edge} (a pixel count there), else 0
 * @param maxPixels pixel-budget processors: {@code max_pixels}, else {@code size.longest_edge}, else 0
 * @param patchSize pixel-budget processors: {@code patch_size}, else 0
 * @param mergeSize pixel-budget processors: {@code merge_size}, else 0
 * @param temporalPatchSize pixel-budget processors: {@code temporal_patch_size}, else 0
 */
public record PreprocessorConfig(
    boolean doResize, int sizeHeight, int sizeWidth, int shortestEdge, int longestEdge, int maxImageSize,
    boolean doImageSplitting, ResampleFilter resample, boolean doRescale, double rescaleFactor,
    boolean doNormalize, double[] imageMean, double[] imageStd, boolean doCenterCrop, int cropHeight,
    int cropWidth, int minPixels, int maxPixels, int patchSize, int mergeSize, int temporalPatchSize) {

  /** The file name inside a model folder. */
  public static final String FILE = "preprocessor_config.json";

  /**
   * Copies the arrays.
   *
   * @param doResize resize the image
   * @param sizeHeight target height for {@code size: {height, width}}, else 0
   * @param sizeWidth target width for {@code size: {height, width}}, else 0
   * @param shortestEdge {@code size.shortest_edge}, else 0
   * @param longestEdge {@code size.longest_edge}, else 0
   * @param maxImageSize {@code max_image_size.longest_edge} (tile size for Idefics3), else 0
   * @param doImageSplitting Idefics3 tiling
   * @param resample resampling filter
   * @param doRescale multiply by {@code rescaleFactor}
   * @param rescaleFactor usually 1/255
   * @param doNormalize apply mean/std
   * @param imageMean per-channel mean (copied)
   * @param imageStd per-channel std (copied)
   * @param doCenterCrop crop the centre
   * @param cropHeight crop height
   * @param cropWidth crop width
   * @param minPixels pixel-budget processors: smallest target pixel count, else 0
   * @param maxPixels pixel-budget processors: largest target pixel count, else 0
   * @param patchSize pixel-budget processors: ViT patch side, else 0
   * @param mergeSize pixel-budget processors: patches merged per side into one token, else 0
   * @param temporalPatchSize pixel-budget processors: frames per temporal patch, else 0
   */
  public PreprocessorConfig {
    imageMean = imageMean.clone();
    imageStd = imageStd.clone();
  }

  /**
   * A config without the pixel-budget fields (all 0), as for every processor but Qwen2-VL's.
   *
   * @param doResize resize the image
   * @param sizeHeight target height for {@code size: {height, width}}, else 0
   * @param sizeWidth target width for {@code size: {height, width}}, else 0
   * @param shortestEdge {@code size.shortest_edge}, else 0
   * @param longestEdge {@code size.longest_edge}, else 0
   * @param maxImageSize {@code max_image_size.longest_edge} (tile size for Idefics3), else 0
   * @param doImageSplitting Idefics3 tiling
   * @param resample resampling filter
   * @param doRescale multiply by {@code rescaleFactor}
   * @param rescaleFactor usually 1/255
   * @param doNormalize apply mean/std
   * @param imageMean per-channel mean (copied)
   * @param imageStd per-channel std (copied)
   * @param doCenterCrop crop the centre
   * @param cropHeight crop height
   * @param cropWidth crop width
   */
  public PreprocessorConfig(
      boolean doResize, int sizeHeight, int sizeWidth, int shortestEdge, int longestEdge, int maxImageSize,
      boolean doImageSplitting, ResampleFilter resample, boolean doRescale, double rescaleFactor,
      boolean doNormalize, double[] imageMean, double[] imageStd, boolean doCenterCrop, int cropHeight,
      int cropWidth) {
    this(doResize, sizeHeight, sizeWidth, shortestEdge, longestEdge, maxImageSize, doImageSplitting, resample,
        doRescale, rescaleFactor, doNormalize, imageMean, imageStd, doCenterCrop, cropHeight, cropWidth, 0, 0, 0, 0, 0);
  }

  /**
   * Returns the normalisation mean of each channel.
   *
   * @return a copy of the per-channel mean
   */
  @Override
  public double[] imageMean() {
    return imageMean.clone();
  }

  /**
   * Returns the normalisation standard deviation of each channel.
   *
   * @return a copy of the per-channel std
   */
  @Override
  public double[] imageStd() {
    return imageStd.clone();
  }

  /**
   * Reads the folder's {@code preprocessor_config.json}.
   *
   * @param folder the model folder
   * @return the parsed config
   * @throws ModelLoadException MISSING_FILE or MALFORMED_CONFIG
   */
  public static PreprocessorConfig read(ModelFolder folder) throws ModelLoadException {
    if (!folder.exists(FILE)) {
      throw new ModelLoadException(ModelLoadException.Reason.MISSING_FILE,
          "missing " + folder.describe(FILE) + "; it states how images are resized and normalised");
    }
    return parse(folder.readJson(FILE), folder.describe(FILE));
  }

  /** Smallest {@code image_std} element accepted: 1e-3 (real models: 0.26 and up; 0 would divide by zero). */
  public static final double MIN_STD = 1e-3;
  /** Largest magnitude of an {@code image_mean} / {@code image_std} element: 1e4 (0-255 scale configs: ~125). */
  public static final double MAX_MEAN_STD = 1e4;
  /**
   * Largest {@code min_pixels} / {@code max_pixels} (and {@code size.shortest_edge/longest_edge} of a
   * pixel-budget processor): {@link ModelLimits#MAX_IMAGE_EDGE}² = 67,108,864 (Qwen2-VL's default
   * {@code max_pixels}: 12,845,056).
   */
  public static final int MAX_PIXEL_BUDGET = ModelLimits.MAX_IMAGE_EDGE * ModelLimits.MAX_IMAGE_EDGE;
  /** Largest {@code merge_size}: 16 (released: 2). */
  public static final int MAX_MERGE_SIZE = 16;
  /** Largest {@code temporal_patch_size}: 16 (released: 2). */
  public static final int MAX_TEMPORAL_PATCH_SIZE = 16;

  /**
   * Parses and range-checks the config: edges ({@code size.height/width/shortest_edge/longest_edge},
   * {@code size} as a number, {@code crop_size}, {@code max_image_size.longest_edge}) in [1, {@value
   * ModelLimits#MAX_IMAGE_EDGE}]; {@code resample} a Pillow code [0, 5]; {@code rescale_factor} in
   * [1e-6, 10]; {@code image_mean} in [-{@value #MAX_MEAN_STD}, {@value #MAX_MEAN_STD}]; {@code image_std}
   * in [{@value #MIN_STD}, {@value #MAX_MEAN_STD}]; flags booleans. A pixel-budget config (one with
   * {@code min_pixels} or {@code max_pixels}, or an {@code image_processor_type} starting with {@code
   * Qwen2VLImageProcessor}) reads {@code size.shortest_edge/longest_edge} and {@code min/max_pixels}
   * as pixel counts in [1, {@value #MAX_PIXEL_BUDGET}], {@code patch_size} in [1, {@value
   * ModelLimits#MAX_PATCH}], {@code merge_size} in [1, {@value #MAX_MERGE_SIZE}] and {@code
   * temporal_patch_size} in [1, {@value #MAX_TEMPORAL_PATCH_SIZE}]; other configs leave those fields 0.
   *
   * @param j the JSON object
   * @param source where it came from, for messages
   * @return the config
   * @throws ModelLoadException MALFORMED_CONFIG naming the field, the accepted range and the value found
   */
  public static PreprocessorConfig parse(JsonNode j, String source) throws ModelLoadException {
    ConfigReader r = ConfigReader.of(j, source);
    int edge = ModelLimits.MAX_IMAGE_EDGE;
    int h = 0;
    int w = 0;
    int shortest;
    int longest = 0;
    boolean pixelBudget = r.has("min_pixels") || r.has("max_pixels")
        || (r.has("image_processor_type") && r.get("image_processor_type").isTextual()
            && r.get("image_processor_type").textValue().startsWith("Qwen2VLImageProcessor"));
    int sizeEdge = pixelBudget ? MAX_PIXEL_BUDGET : edge;
    if (r.has("size") && r.get("size").isNumber()) {
      shortest = r.requireInt("size", 1, edge);
    } else {
      ConfigReader size = r.object("size");
      h = size.intOr("height", 1, edge, 0);
      w = size.intOr("width", 1, edge, 0);
      shortest = size.intOr("shortest_edge", 1, sizeEdge, 0);
      longest = size.intOr("longest_edge", 1, sizeEdge, 0);
    }
    int minPixels = 0;
    int maxPixels = 0;
    int patch = 0;
    int merge = 0;
    int temporal = 0;
    if (pixelBudget) {
      minPixels = r.intOr("min_pixels", 1, MAX_PIXEL_BUDGET, shortest);
      maxPixels = r.intOr("max_pixels", 1, MAX_PIXEL_BUDGET, longest);
      patch = r.intOr("patch_size", 1, ModelLimits.MAX_PATCH, 0);
      merge = r.intOr("merge_size", 1, MAX_MERGE_SIZE, 0);
      temporal = r.intOr("temporal_patch_size", 1, MAX_TEMPORAL_PATCH_SIZE, 0);
    }
    int ch;
    int cw;
    if (r.has("crop_size") && r.get("crop_size").isNumber()) {
      ch = cw = r.requireInt("crop_size", 1, edge);
    } else {
      ConfigReader crop = r.object("crop_size");
      ch = crop.intOr("height", 1, edge, 0);
      cw = crop.intOr("width", 1, edge, 0);
    }
    ResampleFilter filter;
    try {
      filter = ResampleFilter.fromPillowCode(r.intOr("resample", 0, 5, 2));
    } catch (IllegalArgumentException e) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, source + ": " + e.getMessage(), e);
    }
    boolean doResize = r.boolOr("do_resize", r.has("size"));
    if (doResize && h <= 0 && w <= 0 && shortest <= 0 && longest <= 0) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
          source + ": do_resize is set but \"size\" gives no height/width, shortest_edge or longest_edge");
    }
    boolean doCenterCrop = r.boolOr("do_center_crop", false);
    return new PreprocessorConfig(doResize, h, w, shortest, longest,
        r.object("max_image_size").intOr("longest_edge", 1, edge, 0),
        r.boolOr("do_image_splitting", false), filter, r.boolOr("do_rescale", true),
        r.doubleOr("rescale_factor", 1e-6, 10, 1.0 / 255.0), r.boolOr("do_normalize", false),
        r.doubles("image_mean", 3, -MAX_MEAN_STD, MAX_MEAN_STD, 0),
        r.doubles("image_std", 3, MIN_STD, MAX_MEAN_STD, 1),
        doCenterCrop, ch, cw, minPixels, maxPixels, patch, merge, temporal);
  }
}
