package io.github.vlm4j.family;

import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ConfigReader;
import io.github.vlm4j.vision.PreprocessorConfig;
import io.github.vlm4j.vision.ResampleFilter;
import io.github.vlm4j.vision.multi.CombineMode;
import io.github.vlm4j.vision.multi.EncoderGraph;
import io.github.vlm4j.vision.multi.FeatureLayout;
import io.github.vlm4j.vision.multi.ViewSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads the image stage of a version-2 {@code vlm4j.json}: {@code "encoders"} (each with its file,
 * pixel input, preprocessing, optional scales, outputs, layer combination and grid) and {@code
 * "combine"}. Checks everything that can be checked without the graphs, naming the key; the graphs
 * are checked when {@link EncodersPlan#open} opens them.
 */
final class EncodersManifest {
  /** Most encoders, outputs per encoder and scales per encoder a manifest may list. */
  static final int MAX_ENCODERS = 8;
  static final int MAX_OUTPUTS = 16;
  static final int MAX_SCALES = 4;
  /** Largest view side and grid side accepted. */
  static final int MAX_VIEW_SIDE = 2048;
  /**
   * Most floats the views of one image may take: views × 3 × the largest height × the largest width
   * (frames share one size), 2^25 (128 MiB); a manifest asking for more is refused at load.
   */
  static final long MAX_VIEW_FLOATS = 1L << 25;
  static final int MAX_GRID_SIDE = 256;

  private EncodersManifest() {}

  /** One encoder as the manifest describes it. */
  record Encoder(String file, String input, FeatureLayout inputLayout, List<ViewSpec> views,
      List<EncoderGraph.Output> outputs, CombineMode layers, int[] grid, String key) {}

  /**
   * Parses {@code encoders} and {@code combine}.
   *
   * @param m the manifest
   * @return the plan
   * @throws ModelLoadException MALFORMED_CONFIG naming the key, what is accepted and what was found
   */
  static EncodersPlan read(ConfigReader m) throws ModelLoadException {
    if (m.has("vision_encoder")) {
      throw m.malformed("vision_encoder", "is version 1; a version-2 manifest lists \"encoders\" instead");
    }
    ConfigReader combine = m.object("combine");
    CombineMode mode = combine.has("mode") ? enumValue(combine, "mode", CombineMode.parse(
        combine.requireText("mode")), "[channels, tokens]") : CombineMode.CHANNELS;
    int[] grid = combine.has("grid") ? pair(combine, "grid", MAX_GRID_SIDE) : null;
    List<Encoder> encoders = new ArrayList<>();
    for (ConfigReader e : m.objects("encoders", 1, MAX_ENCODERS)) {
      encoders.add(encoder(e, mode, grid));
    }
    long views = 0;
    long maxH = 0;
    long maxW = 0;
    for (Encoder e : encoders) {
      for (ViewSpec v : e.views()) {
        views++;
        maxH = Math.max(maxH, v.height());
        maxW = Math.max(maxW, v.width());
      }
    }
    if (views * 3 * maxH * maxW > MAX_VIEW_FLOATS) {
      throw m.malformed("encoders", "ask for " + views + " views of up to " + maxW + "x" + maxH + " pixels per image ("
          + views * 3 * maxH * maxW + " floats); at most " + MAX_VIEW_FLOATS + " are accepted");
    }
    return new EncodersPlan(encoders, mode, m.source() + " \"" + combine.path("mode") + "\"");
  }

  private static Encoder encoder(ConfigReader e, CombineMode mode, int[] combineGrid) throws ModelLoadException {
    String file = e.requireFileName("file");
    ConfigReader in = e.object("input");
    String input = in.optText("name").orElse("pixel_values");
    FeatureLayout inputLayout = in.has("layout")
        ? enumValue(in, "layout", FeatureLayout.parse(in.requireText("layout")), FeatureLayout.accepted(true))
        : FeatureLayout.NCHW;
    if (inputLayout == FeatureLayout.TOKENS) {
      throw in.malformed("layout", "must be one of " + FeatureLayout.accepted(true) + " for pixels, found \"tokens\"");
    }
    ConfigReader pre = e.object("preprocess");
    int[] size = pair(pre, "size", MAX_VIEW_SIDE);
    ResampleFilter filter = pre.has("resample") ? filter(pre) : ResampleFilter.BILINEAR;
    double[] mean = pre.doubles("mean", 3, -PreprocessorConfig.MAX_MEAN_STD, PreprocessorConfig.MAX_MEAN_STD, 0);
    double[] std = pre.doubles("std", 3, PreprocessorConfig.MIN_STD, PreprocessorConfig.MAX_MEAN_STD, 1);
    List<ViewSpec> views = new ArrayList<>();
    if (e.has("scales")) {
      if (!e.get("scales").isArray() || e.get("scales").size() < 1 || e.get("scales").size() > MAX_SCALES) {
        throw e.malformed("scales", "must be an array of 1 to " + MAX_SCALES + " [height, width] sizes, found "
            + abbreviate(e.get("scales")));
      }
      for (int i = 0; i < e.get("scales").size(); i++) {
        int[] s = pair(e, "scales[" + i + "]", e.get("scales").get(i), MAX_VIEW_SIDE);
        views.add(new ViewSpec(s[0], s[1], filter, mean, std));
      }
    } else {
      views.add(new ViewSpec(size[0], size[1], filter, mean, std));
    }
    List<EncoderGraph.Output> outputs = new ArrayList<>();
    for (ConfigReader o : e.objects("outputs", 1, MAX_OUTPUTS)) {
      FeatureLayout layout = enumValue(o, "layout", FeatureLayout.parse(o.requireText("layout")),
          FeatureLayout.accepted(false));
      String key = o.path("");
      outputs.add(new EncoderGraph.Output(o.requireText("name"), layout, key.substring(0, key.length() - 1)));
    }
    CombineMode layers = e.has("layers")
        ? enumValue(e, "layers", CombineMode.parse(e.requireText("layers")), "[channels, tokens]")
        : CombineMode.CHANNELS;
    if (mode == CombineMode.CHANNELS && layers == CombineMode.TOKENS && outputs.size() > 1) {
      throw e.malformed("layers", "is \"tokens\" but \"combine.mode\" is \"channels\": several layers kept as "
          + "separate tokens cannot be concatenated with other encoders on channels");
    }
    int[] grid = e.has("grid") ? pair(e, "grid", MAX_GRID_SIDE) : combineGrid;
    if (grid == null) {
      throw e.malformed("grid", "is missing and so is \"combine.grid\": the token grid the features are pooled to "
          + "must be given");
    }
    if (mode == CombineMode.CHANNELS && combineGrid != null && (grid[0] != combineGrid[0] || grid[1] != combineGrid[1])) {
      throw e.malformed("grid", "is [" + grid[0] + ", " + grid[1] + "] but \"combine.grid\" is [" + combineGrid[0]
          + ", " + combineGrid[1] + "]; encoders combined on channels share one grid");
    }
    String key = e.path("");
    return new Encoder(file, input, inputLayout, views, outputs, layers, grid, key.substring(0, key.length() - 1));
  }

  private static <T> T enumValue(ConfigReader r, String field, java.util.Optional<T> v, String accepted)
      throws ModelLoadException {
    if (v.isEmpty()) {
      throw r.malformed(field, "must be one of " + accepted + ", found " + abbreviate(r.get(field)));
    }
    return v.get();
  }

  private static ResampleFilter filter(ConfigReader pre) throws ModelLoadException {
    String name = pre.requireText("resample");
    for (ResampleFilter f : ResampleFilter.values()) {
      if (f.name().equalsIgnoreCase(name)) {
        return f;
      }
    }
    List<String> names = new ArrayList<>();
    for (ResampleFilter f : ResampleFilter.values()) {
      names.add(f.name().toLowerCase(Locale.ROOT));
    }
    throw pre.malformed("resample", "must be one of " + names + ", found \"" + name + "\"");
  }

  /** Reads {@code [height, width]}, each in {@code [1, max]}. */
  static int[] pair(ConfigReader r, String field, int max) throws ModelLoadException {
    return pair(r, field, r.get(field), max);
  }

  private static int[] pair(ConfigReader r, String field, com.fasterxml.jackson.databind.JsonNode n, int max)
      throws ModelLoadException {
    if (!n.isArray() || n.size() != 2 || !n.get(0).canConvertToInt() || !n.get(1).canConvertToInt()
        || !n.get(0).isIntegralNumber() || !n.get(1).isIntegralNumber()
        || n.get(0).intValue() < 1 || n.get(1).intValue() < 1 || n.get(0).intValue() > max || n.get(1).intValue() > max) {
      throw r.malformed(field, "must be [height, width] with each in [1, " + max + "], found " + abbreviate(n));
    }
    return new int[] {n.get(0).intValue(), n.get(1).intValue()};
  }

  private static String abbreviate(com.fasterxml.jackson.databind.JsonNode n) {
    String t = n.toString();
    return t.length() > 80 ? t.substring(0, 77) + "..." : t;
  }
}
