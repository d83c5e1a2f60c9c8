package io.github.vlm4j.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.model.ModelLimits;
import io.github.vlm4j.core.prompt.ImageInput;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link SmartResizePreprocessor} against the Qwen kit (src/test/python/refmodels/qwen2_vl.py): the
 * goldens' resized sizes, grids and pixel_values checksums for every image case of both tiny Qwen
 * folders, and {@code smart_resize} on a table the kit computed (qwen_resize_table.py); then the
 * bounds (aspect ratio, token cap, request budgets).
 */
class SmartResizePreprocessorTest {
  static final Path ROOT = Path.of(System.getProperty("vlm4j.root", ".."), "src", "test", "resources");
  static final List<String> MODELS = List.of("vlm4j-tiny-qwen2-vl", "vlm4j-tiny-qwen2_5-vl");
  static final ObjectMapper JSON = new ObjectMapper();

  static JsonNode json(Path p) {
    try {
      return JSON.readTree(p.toFile());
    } catch (IOException e) {
      throw new IllegalStateException("fixture missing at " + p, e);
    }
  }

  static SmartResizePreprocessor preprocessor(String model) throws Exception {
    return new SmartResizePreprocessor(PreprocessorConfig.read(ModelFolder.of(ROOT.resolve("models").resolve(model))));
  }

  static Stream<Arguments> imageCases() {
    List<Arguments> out = new ArrayList<>();
    for (String model : MODELS) {
      for (JsonNode c : json(ROOT.resolve("models").resolve(model).resolve("goldens.json")).get("cases")) {
        if (c.get("images").size() > 0) {
          out.add(Arguments.of(model, c.get("name").asText(), c));
        }
      }
    }
    return out.stream();
  }

  /** Concatenates the preprocessed images of a case, as the kit concatenates pixel_values. */
  static float[] concat(List<PreprocessedImage> images) {
    int n = images.stream().mapToInt(i -> i.pixels().length).sum();
    float[] all = new float[n];
    int o = 0;
    for (PreprocessedImage i : images) {
      System.arraycopy(i.pixels(), 0, all, o, i.pixels().length);
      o += i.pixels().length;
    }
    return all;
  }

  static List<PreprocessedImage> preprocessCase(String model, JsonNode c) throws Exception {
    SmartResizePreprocessor p = preprocessor(model);
    Path dir = ROOT.resolve("models").resolve(model);
    List<PreprocessedImage> out = new ArrayList<>();
    for (int k = 0; k < c.get("images").size(); k++) {
      RgbImage img = new ImageDecoder().decode(ImageInput.of(dir.resolve(c.get("images").get(k).asText())));
      assertEquals(c.get("image_sizes").get(k).get(0).asInt(), img.width(), "decoded width of image " + k);
      assertEquals(c.get("image_sizes").get(k).get(1).asInt(), img.height(), "decoded height of image " + k);
      out.add(p.preprocess(img, null));
    }
    return out;
  }

  /** Checks sum, sum of squares (relative 1e-6) and the first values (1e-6) against a kit checksum. */
  static void assertStats(JsonNode ck, float[] v, double relTol, double headTol, String what) {
    long n = 1;
    for (JsonNode d : ck.get("shape")) {
      n *= d.asLong();
    }
    assertEquals(n, v.length, what + ": element count for shape " + ck.get("shape"));
    double sum = 0;
    double sq = 0;
    for (float x : v) {
      sum += x;
      sq += (double) x * x;
    }
    double sumSq = ck.get("sum_sq").asDouble();
    assertEquals(ck.get("sum").asDouble(), sum, relTol * Math.max(sumSq, 1), what + ": sum");
    assertEquals(sumSq, sq, relTol * Math.max(sumSq, 1), what + ": sum of squares");
    for (int i = 0; i < ck.get("head").size(); i++) {
      assertEquals(ck.get("head").get(i).asDouble(), v[i], headTol, what + ": value " + i);
    }
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("imageCases")
  void pixelValuesMatchTheKit(String model, String name, JsonNode c) throws Exception {
    List<PreprocessedImage> images = preprocessCase(model, c);
    SmartResizePreprocessor p = preprocessor(model);
    for (int k = 0; k < images.size(); k++) {
      PreprocessedImage im = images.get(k);
      assertEquals(c.get("resized_sizes").get(k).get(0).asInt(), im.width(), "resized width of image " + k);
      assertEquals(c.get("resized_sizes").get(k).get(1).asInt(), im.height(), "resized height of image " + k);
      assertEquals(2, im.frames(), "frames = temporal_patch_size");
      int[] grid = SmartResizePreprocessor.gridThw(im.layout(), p.patchSize(), p.temporalPatchSize());
      int[] expected = new int[3];
      for (int d = 0; d < 3; d++) {
        expected[d] = c.get("image_grid_thw").get(k).get(d).asInt();
      }
      assertArrayEquals(expected, grid, "image_grid_thw of image " + k);
      assertEquals(expected[0] * expected[1] * expected[2] / 4, p.imageTokens(im.layout()), "image tokens of image " + k);
    }
    assertStats(c.get("pixel_values"), concat(images), 1e-6, 1e-6, "pixel_values");
  }

  @Test
  void smartResizeMatchesTheKitTable() {
    JsonNode table = json(ROOT.resolve("fixtures").resolve("qwen_smart_resize.json")).get("cases");
    assertTrue(table.size() > 300, "table has " + table.size() + " cases");
    List<String> wrong = new ArrayList<>();
    int raised = 0;
    int overMax = 0;
    for (JsonNode r : table) {
      int h = r.get("height").asInt();
      int w = r.get("width").asInt();
      int f = r.get("factor").asInt();
      long min = r.get("min_pixels").asLong();
      long max = r.get("max_pixels").asLong();
      String c = h + "x" + w + " factor " + f + " [" + min + ", " + max + "]";
      if (r.has("raises")) {
        raised++;
        try {
          int[] got = SmartResizePreprocessor.smartResize(h, w, f, min, max);
          wrong.add(c + ": expected a refusal, got " + got[0] + "x" + got[1]);
        } catch (VlmInputException e) {
          if (e.reason() != VlmInputException.Reason.IMAGE_TOO_LARGE || !e.getMessage().contains("aspect ratio")) {
            wrong.add(c + ": " + e.reason() + " " + e.getMessage());
          }
        }
        continue;
      }
      int[] got = SmartResizePreprocessor.smartResize(h, w, f, min, max);
      int[] exp = {r.get("result").get(0).asInt(), r.get("result").get(1).asInt()};
      if (got[0] != exp[0] || got[1] != exp[1]) {
        wrong.add(c + ": expected " + exp[0] + "x" + exp[1] + ", got " + got[0] + "x" + got[1]);
      }
      if (r.get("over_max").asBoolean()) {
        overMax++;
      }
    }
    assertEquals(List.of(), wrong);
    assertTrue(raised > 0 && overMax > 0, "the table covers refusals (" + raised + ") and clamped results (" + overMax + ")");
  }

  static ObjectNode config() throws Exception {
    return (ObjectNode) JSON.readTree(ROOT.resolve("models/vlm4j-tiny-qwen2-vl/preprocessor_config.json").toFile());
  }

  static SmartResizePreprocessor of(Consumer<ObjectNode> edit) throws Exception {
    ObjectNode c = config();
    edit.accept(c);
    return new SmartResizePreprocessor(PreprocessorConfig.parse(c, "test"));
  }

  static RgbImage grey(int w, int h) {
    byte[] b = new byte[w * h * 3];
    new Random(w * 31L + h).nextBytes(b);
    return new RgbImage(w, h, b);
  }

  @Test
  void readsTheConfigAndFallsBackToSizeEdges() throws Exception {
    SmartResizePreprocessor p = preprocessor("vlm4j-tiny-qwen2-vl");
    assertEquals(new PixelBudget(3136, 50176), p.budget());
    assertEquals(14, p.patchSize());
    assertEquals(2, p.mergeSize());
    assertEquals(2, p.temporalPatchSize());
    assertEquals(224, p.frameHeight(), "largest square within max_pixels 50176 = 224²");
    assertEquals(224, p.frameWidth());
    SmartResizePreprocessor sized = of(c -> {
      c.remove("min_pixels");
      c.remove("max_pixels");
      ((ObjectNode) c.get("size")).put("shortest_edge", 1000).put("longest_edge", 12845056);
    });
    assertEquals(new PixelBudget(1000, 12845056), sized.budget(), "size.shortest_edge/longest_edge as pixel counts");
  }

  @Test
  void refusesMissingOrAbsurdConfigs() throws Exception {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> of(c -> c.remove("patch_size")));
    assertTrue(e.getMessage().contains("patch_size") && e.getMessage().contains("none"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> of(c -> c.remove("merge_size")));
    assertTrue(e.getMessage().contains("merge_size"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> of(c -> c.remove("temporal_patch_size")));
    assertTrue(e.getMessage().contains("temporal_patch_size"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> of(c -> {
      c.remove("min_pixels");
      c.remove("max_pixels");
      c.remove("size");
      c.put("do_resize", false);
    }));
    assertTrue(e.getMessage().contains("min_pixels and max_pixels"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> of(c -> c.put("min_pixels", 60000)));
    assertTrue(e.getMessage().contains("maxPixels must be at least minPixels (60000), got 50176"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> of(c -> c.put("min_pixels", 100).put("max_pixels", 700)));
    assertTrue(e.getMessage().contains("less than one merged patch (28x28 = 784 pixels)"), e.getMessage());
  }

  @Test
  void refusesASplitOverride() throws Exception {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> preprocessor("vlm4j-tiny-qwen2-vl").preprocess(grey(56, 56), true));
    assertTrue(e.getMessage().contains("must be null"), e.getMessage());
  }

  @Test
  void refusesAspectRatiosAbove200() throws Exception {
    SmartResizePreprocessor p = preprocessor("vlm4j-tiny-qwen2-vl");
    assertEquals(3164, p.preprocess(grey(200, 1), null).width(), "200:1 is accepted (upscaled to 5600x28, then 3164x28)");
    VlmInputException e = assertThrows(VlmInputException.class, () -> p.preprocess(grey(201, 1), null));
    assertEquals(VlmInputException.Reason.IMAGE_TOO_LARGE, e.reason());
    assertTrue(e.getMessage().contains("aspect ratio up to 200:1, got a 201x1 image (201.0:1 after scaling up to 5628x28)"),
        e.getMessage());
    e = assertThrows(VlmInputException.class, () -> p.preprocess(grey(28, 5601), null));
    assertTrue(e.getMessage().contains("got a 28x5601 image (200.0:1)"), e.getMessage());
  }

  @Test
  void capsImageTokens() throws Exception {
    SmartResizePreprocessor p = of(c -> c.put("patch_size", 1).put("merge_size", 1).put("min_pixels", 1)
        .put("max_pixels", 100_000));
    assertEquals(ModelLimits.MAX_IMAGE_TOKENS, p.imageTokens(p.preprocess(grey(128, 128), null).layout()),
        "128x128 with patch 1: exactly the cap");
    VlmInputException e = assertThrows(VlmInputException.class, () -> p.preprocess(grey(200, 200), null));
    assertEquals(VlmInputException.Reason.IMAGE_TOO_LARGE, e.reason());
    assertTrue(e.getMessage().contains("40000 image tokens; at most 16384"), e.getMessage());
  }

  @Test
  void honoursARequestBudget() throws Exception {
    SmartResizePreprocessor base = preprocessor("vlm4j-tiny-qwen2-vl");
    assertTrue(base.supportsPixelBudget());
    RgbImage strip = grey(100, 1);
    PreprocessedImage parity = base.preprocess(strip, null);
    assertEquals(2240 * 28, parity.width() * parity.height(),
        "the config's own budget keeps transformers.js's result, above max_pixels 50176");
    SmartResizePreprocessor strict = base.withPixelBudget(new PixelBudget(3136, 50176));
    assertNotSame(base, strict);
    assertEquals(new PixelBudget(3136, 50176), base.budget(), "the original is unchanged");
    VlmInputException e = assertThrows(VlmInputException.class, () -> strict.preprocess(strip, null));
    assertEquals(VlmInputException.Reason.IMAGE_TOO_LARGE, e.reason());
    String m = e.getMessage();
    assertTrue(m.contains("a 100x1 image would be resized to 2240x28 = 62720 pixels") && m.contains("maxPixels 50176"), m);
    int need = Integer.parseInt(m.replaceAll("(?s).*needs a maxPixels of at least (\\d+).*", "$1"));
    PreprocessedImage fits = base.withPixelBudget(new PixelBudget(3136, need)).preprocess(strip, null);
    assertTrue((long) fits.width() * fits.height() <= need, fits.width() + "x" + fits.height() + " within " + need);
    assertThrows(VlmInputException.class, () -> base.withPixelBudget(new PixelBudget(3136, need - 1)).preprocess(strip, null),
        "the stated minimum is the smallest that fits");

    SmartResizePreprocessor small = base.withPixelBudget(new PixelBudget(784, 4 * 784));
    PreprocessedImage im = small.preprocess(grey(400, 300), null);
    assertTrue(im.width() * im.height() <= 4 * 784, im.width() + "x" + im.height());
    assertEquals(im.width() * im.height() / 784, small.imageTokens(im.layout()));
    assertEquals(56, small.frameHeight(), "largest square within 3136 pixels");
    PreprocessedImage large = base.withPixelBudget(new PixelBudget(100_000, 200_000)).preprocess(grey(56, 56), null);
    assertTrue(large.width() * large.height() >= 100_000, "scaled up to minPixels: " + large.width() + "x" + large.height());

    IllegalArgumentException tiny = assertThrows(IllegalArgumentException.class,
        () -> base.withPixelBudget(new PixelBudget(1, 783)));
    assertTrue(tiny.getMessage().contains("maxPixels 783 is less than one merged patch"), tiny.getMessage());
  }

  @Test
  void pixelBudgetIsValidated() {
    assertTrue(assertThrows(IllegalArgumentException.class, () -> new PixelBudget(0, 10)).getMessage()
        .contains("minPixels must be at least 1, got 0"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> new PixelBudget(10, 9)).getMessage()
        .contains("maxPixels must be at least minPixels (10), got 9"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> new PixelBudget(1, PixelBudget.MAX_PIXELS + 1))
        .getMessage().contains("at most 67108864"));
    assertEquals(PixelBudget.MAX_PIXELS, new PixelBudget(1, PixelBudget.MAX_PIXELS).maxPixels());
  }

  @Test
  void otherPreprocessorsTakeNoBudget() throws Exception {
    ImagePreprocessor fixed = new FixedSizePreprocessor(PreprocessorConfig.parse(JSON.readTree(
        "{\"do_resize\":true,\"size\":{\"height\":32,\"width\":32}}"), "test"));
    assertFalse(fixed.supportsPixelBudget());
    UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
        () -> fixed.withPixelBudget(new PixelBudget(1, 100)));
    assertTrue(e.getMessage().startsWith("FixedSizePreprocessor"), e.getMessage());
  }

  /** The processor's view/permute, by index arithmetic, against {@link SmartResizePreprocessor#patchify}. */
  @Test
  void patchOrderIsTheProcessorsPermutation() {
    int p = 3;
    int m = 2;
    int t = 2;
    int h = 12;
    int w = 18;
    float[] chw = new float[3 * h * w];
    for (int i = 0; i < chw.length; i++) {
      chw[i] = i;
    }
    float[] got = SmartResizePreprocessor.patchify(chw, h, w, p, m, t);
    int gh = h / p;
    int gw = w / p;
    // view (1, T, C, gh/m, m, p, gw/m, m, p), permute (0,3,6,4,7,2,1,5,8): output axes
    // (g, bh, bw, i, j, c, tt, y, x), row-major
    float[] expected = new float[got.length];
    int o = 0;
    for (int bh = 0; bh < gh / m; bh++) {
      for (int bw = 0; bw < gw / m; bw++) {
        for (int i = 0; i < m; i++) {
          for (int j = 0; j < m; j++) {
            for (int c = 0; c < 3; c++) {
              for (int tt = 0; tt < t; tt++) {
                for (int y = 0; y < p; y++) {
                  for (int x = 0; x < p; x++) {
                    int row = (bh * m + i) * p + y;
                    int col = (bw * m + j) * p + x;
                    expected[o++] = chw[(c * h + row) * w + col];
                  }
                }
              }
            }
          }
        }
      }
    }
    assertEquals(3 * t * h * w, o);
    assertArrayEquals(expected, got);
  }

  @Test
  void gridsAndTokensOfALayout() {
    ImageLayout l = new ImageLayout(2, 84, 112, 0, 0);
    assertArrayEquals(new int[] {1, 6, 8}, SmartResizePreprocessor.gridThw(l, 14, 2));
    assertEquals(12, SmartResizePreprocessor.imageTokens(l, 14, 2, 2));
    assertThrows(IllegalArgumentException.class, () -> SmartResizePreprocessor.gridThw(new ImageLayout(2, 85, 112, 0, 0), 14, 2));
    assertThrows(IllegalArgumentException.class, () -> SmartResizePreprocessor.imageTokens(new ImageLayout(2, 42, 112, 0, 0), 14, 2, 2));
  }
}
