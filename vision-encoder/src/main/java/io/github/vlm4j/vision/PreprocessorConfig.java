package io.github.vlm4j.vision;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.core.ModelLoadException;
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
 */
public record PreprocessorConfig(
    boolean doResize, int sizeHeight, int sizeWidth, int shortestEdge, int longestEdge, int maxImageSize,
    boolean doImageSplitting, ResampleFilter resample, boolean doRescale, double rescaleFactor,
    boolean doNormalize, double[] imageMean, double[] imageStd, boolean doCenterCrop, int cropHeight,
    int cropWidth) {

  /** The file name inside a model folder. */
  public static final String FILE = "preprocessor_config.json";

  /** Copies the arrays. */
  public PreprocessorConfig {
    imageMean = imageMean.clone();
    imageStd = imageStd.clone();
  }

  @Override
  public double[] imageMean() {
    return imageMean.clone();
  }

  @Override
  public double[] imageStd() {
    return imageStd.clone();
  }

  /**
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

  /**
   * @param j the JSON object
   * @param source where it came from, for messages
   * @return the config
   * @throws ModelLoadException MALFORMED_CONFIG
   */
  public static PreprocessorConfig parse(JsonNode j, String source) throws ModelLoadException {
    JsonNode size = j.path("size");
    int h = size.path("height").asInt(0);
    int w = size.path("width").asInt(0);
    if (size.isIntegralNumber()) {
      h = w = 0;
    }
    int shortest = size.isIntegralNumber() ? size.asInt() : size.path("shortest_edge").asInt(0);
    int longest = size.path("longest_edge").asInt(0);
    JsonNode crop = j.path("crop_size");
    int ch = crop.isIntegralNumber() ? crop.asInt() : crop.path("height").asInt(0);
    int cw = crop.isIntegralNumber() ? crop.asInt() : crop.path("width").asInt(0);
    ResampleFilter filter;
    try {
      filter = ResampleFilter.fromPillowCode(j.path("resample").asInt(2));
    } catch (IllegalArgumentException e) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, source + ": " + e.getMessage(), e);
    }
    boolean doResize = j.has("do_resize") ? j.path("do_resize").asBoolean() : !size.isMissingNode();
    if (doResize && h <= 0 && w <= 0 && shortest <= 0 && longest <= 0) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
          source + ": do_resize is set but \"size\" gives no height/width, shortest_edge or longest_edge");
    }
    return new PreprocessorConfig(doResize, h, w, shortest, longest, j.path("max_image_size").path("longest_edge").asInt(0),
        j.path("do_image_splitting").asBoolean(false), filter, j.path("do_rescale").asBoolean(true),
        j.path("rescale_factor").asDouble(1.0 / 255.0), j.path("do_normalize").asBoolean(false),
        triple(j.get("image_mean"), source, "image_mean"), triple(j.get("image_std"), source, "image_std"),
        j.path("do_center_crop").asBoolean(false), ch, cw);
  }

  private static double[] triple(JsonNode n, String source, String key) throws ModelLoadException {
    if (n == null || n.isNull()) {
      return key.equals("image_std") ? new double[] {1, 1, 1} : new double[] {0, 0, 0};
    }
    if (n.isNumber()) {
      return new double[] {n.asDouble(), n.asDouble(), n.asDouble()};
    }
    if (n.isArray() && n.size() == 3) {
      return new double[] {n.get(0).asDouble(), n.get(1).asDouble(), n.get(2).asDouble()};
    }
    throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
        source + ": \"" + key + "\" must be a number or 3 numbers, found " + n);
  }
}
