package io.github.vlm4j.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.vlm4j.core.prompt.ImageInput;
import java.io.IOException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Java preprocessing against the references the kit computed: Pillow for uint8 resizes (exact
 * bytes), Pillow's mode conversion for decoding, and the transformers.js preprocessing steps (as
 * mirrored in the kit's imageproc.py) for whole Idefics3/fixed-size pipelines.
 */
class ReferenceFixturesTest {
  static final Path DIR = Path.of(System.getProperty("vlm4j.fixtures",
      System.getProperty("vlm4j.root", "..") + "/src/test/resources/fixtures"));
  static final JsonNode FIX = read();

  static JsonNode read() {
    try {
      return new ObjectMapper().readTree(DIR.resolve("images.json").toFile());
    } catch (IOException e) {
      throw new IllegalStateException("fixtures missing at " + DIR, e);
    }
  }

  static RgbImage load(String rel) {
    return new ImageDecoder().decode(ImageInput.of(DIR.resolve(rel)));
  }

  static String sha(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  static Stream<Arguments> resizes() {
    List<Arguments> out = new ArrayList<>();
    FIX.get("resize").forEach(r -> out.add(Arguments.of(r.get("image").asText(), r.get("filter").asInt(),
        r.get("width").asInt(), r.get("height").asInt(), r.get("sha256").asText())));
    return out.stream();
  }

  @ParameterizedTest(name = "{0} filter {1} -> {2}x{3}")
  @MethodSource("resizes")
  void resizeIsByteIdenticalToPillow(String image, int filter, int w, int h, String expected) throws Exception {
    RgbImage out = Resampler.resize(load(image), w, h, ResampleFilter.fromPillowCode(filter));
    assertEquals(expected, sha(out.toBytes()));
  }

  static Stream<Arguments> decodes() {
    List<Arguments> out = new ArrayList<>();
    FIX.get("decode").forEach(d -> out.add(Arguments.of(d.get("mode").asText(), d)));
    return out.stream();
  }

  @ParameterizedTest(name = "PNG mode {0}")
  @MethodSource("decodes")
  void decodingMatchesPillowConversion(String mode, JsonNode d) throws Exception {
    RgbImage img = load(d.get("image").asText());
    assertEquals(d.get("width").asInt(), img.width());
    assertEquals(d.get("height").asInt(), img.height());
    assertEquals(d.get("sha256").asText(), sha(img.toBytes()), "RGB bytes after dropping alpha / expanding grey or palette");
  }

  static Stream<Arguments> preprocesses() {
    List<Arguments> out = new ArrayList<>();
    FIX.get("preprocess").forEach(p -> out.add(Arguments.of(p.get("image").asText(), p.get("processor").asText()
        + (p.has("split") ? " split=" + p.get("split").asBoolean() : " resample=" + p.get("resample").asInt()), p)));
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("preprocesses")
  void preprocessingMatchesTransformersJsSteps(String image, String what, JsonNode p) throws Exception {
    JsonNode c = FIX.get("preprocess_config");
    ObjectMapper m = new ObjectMapper();
    PreprocessedImage out;
    if (p.get("processor").asText().equals("idefics3")) {
      var cfg = PreprocessorConfig.parse(m.readTree("{\"do_resize\":true,\"size\":{\"longest_edge\":" + c.get("longest_edge")
          + "},\"max_image_size\":{\"longest_edge\":" + c.get("tile") + "},\"resample\":1,\"do_rescale\":true,"
          + "\"rescale_factor\":" + c.get("rescale_factor") + ",\"do_normalize\":true,\"image_mean\":" + c.get("mean")
          + ",\"image_std\":" + c.get("std") + ",\"do_image_splitting\":true}"), "test");
      out = new Idefics3Preprocessor(cfg).preprocess(load(image), p.get("split").asBoolean());
    } else {
      var cfg = PreprocessorConfig.parse(m.readTree("{\"do_resize\":true,\"size\":{\"height\":" + c.get("fixed_size")
          + ",\"width\":" + c.get("fixed_size") + "},\"resample\":" + p.get("resample") + ",\"do_rescale\":true,"
          + "\"rescale_factor\":" + c.get("rescale_factor") + ",\"do_normalize\":true,\"image_mean\":" + c.get("mean")
          + ",\"image_std\":" + c.get("std") + "}"), "test");
      out = new FixedSizePreprocessor(cfg).preprocess(load(image), null);
    }
    assertEquals(p.get("frames").asInt(), out.frames(), "frames");
    assertEquals(p.get("rows").asInt(), out.rows(), "rows");
    assertEquals(p.get("cols").asInt(), out.cols(), "cols");
    JsonNode ck = p.get("pixels");
    float[] px = out.pixels();
    assertEquals(ck.get("n").asInt(), px.length, "values");
    double sum = 0;
    double sq = 0;
    for (float v : px) {
      sum += v;
      sq += (double) v * v;
    }
    assertEquals(ck.get("sum").asDouble(), sum, 1e-6 * px.length, "sum of pixel values");
    assertEquals(ck.get("sum_sq").asDouble(), sq, 1e-6 * px.length, "sum of squared pixel values");
    for (int i = 0; i < ck.get("head").size(); i++) {
      assertEquals(ck.get("head").get(i).asDouble(), px[i], 1e-6, "value " + i);
    }
  }
}
