package io.github.vlm4j.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.onnx.SessionSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link PatchGridEncoder} on the tiny Qwen2-VL / Qwen2.5-VL vision graphs against the kit's
 * PyTorch image_features (both images of a case were encoded together there, one at a time here:
 * the vision attention is per image, so the rows agree), and its refusal of graphs of other shapes.
 *
 * <p>Tolerances on the case's checksums: fp32 1e-4 (sum and sum of squares relative to the sum of
 * squares; first values absolute; measured at most 3e-7 / 2e-6); the fp16 and q8 graphs are
 * checked against the same fp32 goldens (their weights are rounded, the goldens' are not): fp16
 * 2e-3 relative on sum and sum of squares, 1e-2 absolute on the first values (measured at most
 * 2.6e-4 / 1.4e-3); q8 5e-2 / 1e-1 (measured at most 5.4e-3 / 2.8e-2).
 */
class PatchGridEncoderTest {
  static final Map<String, PatchGridEncoder> OPEN = new ConcurrentHashMap<>();
  static final Map<String, double[]> TOLERANCE = Map.of("", new double[] {1e-4, 1e-4},
      "_fp16", new double[] {2e-3, 1e-2}, "_quantized", new double[] {5e-2, 1e-1});

  static ModelFolder folder(String model) throws ModelLoadException {
    return ModelFolder.of(SmartResizePreprocessorTest.ROOT.resolve("models").resolve(model));
  }

  static PatchGridEncoder encoder(String model, String variant) {
    return OPEN.computeIfAbsent(model + variant, k -> {
      try {
        return PatchGridEncoder.open(folder(model), "onnx/vision_encoder" + variant + ".onnx", SessionSettings.DEFAULT,
            14, 2, 2, 64);
      } catch (ModelLoadException e) {
        throw new IllegalStateException(e);
      }
    });
  }

  @AfterAll
  static void closeAll() {
    OPEN.values().forEach(PatchGridEncoder::close);
  }

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    SmartResizePreprocessorTest.imageCases().forEach(a -> {
      for (String variant : List.of("", "_fp16", "_quantized")) {
        Object[] x = a.get();
        out.add(Arguments.of(x[0], variant.isEmpty() ? "fp32" : variant.substring(1), x[1], variant, x[2]));
      }
    });
    return out.stream();
  }

  static float[] encodeCase(String model, String variant, JsonNode c) throws Exception {
    PatchGridEncoder enc = encoder(model, variant);
    List<PreprocessedImage> images = SmartResizePreprocessorTest.preprocessCase(model, c);
    List<float[]> rows = new ArrayList<>();
    int n = 0;
    for (PreprocessedImage im : images) {
      ImageFeatures f = enc.encode(im, null);
      assertEquals(64, f.width(), "feature width");
      assertEquals(SmartResizePreprocessor.imageTokens(im.layout(), 14, 2, 2), f.rows(), "one row per merged token");
      rows.add(f.data());
      n += f.data().length;
    }
    float[] all = new float[n];
    int o = 0;
    for (float[] r : rows) {
      System.arraycopy(r, 0, all, o, r.length);
      o += r.length;
    }
    return all;
  }

  @ParameterizedTest(name = "{0} {1} {2}")
  @MethodSource("cases")
  void imageFeaturesMatchTheKit(String model, String label, String name, String variant, JsonNode c) throws Exception {
    double[] tol = TOLERANCE.get(variant);
    SmartResizePreprocessorTest.assertStats(c.get("image_features"), encodeCase(model, variant, c), tol[0], tol[1],
        label + " image_features");
  }

  @Test
  void declaresWhatItRuns() {
    PatchGridEncoder q2 = encoder("vlm4j-tiny-qwen2-vl", "");
    assertEquals("grid_thw", q2.gridInput());
    assertEquals(List.of("onnx/vision_encoder.onnx"), q2.files());
    assertEquals(64, q2.outputSpec().dim(1));
    assertEquals("image_grid_thw", encoder("vlm4j-tiny-qwen2_5-vl", "").gridInput());
  }

  @Test
  void concurrentEncodesAgreeWithSequentialOnes() throws Exception {
    PatchGridEncoder enc = encoder("vlm4j-tiny-qwen2_5-vl", "");
    SmartResizePreprocessor p = SmartResizePreprocessorTest.preprocessor("vlm4j-tiny-qwen2_5-vl");
    List<PreprocessedImage> images = List.of(p.preprocess(SmartResizePreprocessorTest.grey(56, 84), null),
        p.preprocess(SmartResizePreprocessorTest.grey(112, 56), null), p.preprocess(SmartResizePreprocessorTest.grey(84, 84), null));
    List<float[]> sequential = new ArrayList<>();
    for (PreprocessedImage im : images) {
      sequential.add(enc.encode(im, null).data());
    }
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try {
      List<Future<float[]>> futures = new ArrayList<>();
      for (int round = 0; round < 4; round++) {
        for (PreprocessedImage im : images) {
          futures.add(pool.submit(() -> enc.encode(im, null).data()));
        }
      }
      for (int i = 0; i < futures.size(); i++) {
        assertArrayEquals(sequential.get(i % images.size()), futures.get(i).get(), "encode " + i);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  static ModelLoadException refused(String model, String file, int patch, int temporal, int merge, int hidden) {
    ModelLoadException e = assertThrows(ModelLoadException.class,
        () -> PatchGridEncoder.open(folder(model), file, SessionSettings.DEFAULT, patch, temporal, merge, hidden).close());
    assertEquals(ModelLoadException.Reason.GRAPH_MISMATCH, e.reason(), e.getMessage());
    return e;
  }

  static void contains(Exception e, String... parts) {
    for (String part : parts) {
      assertTrue(e.getMessage().contains(part), "'" + part + "' in: " + e.getMessage());
    }
  }

  @Test
  void refusesGraphsOfOtherShapes() {
    contains(refused("vlm4j-tiny-qwen2-vl", "onnx/decoder_model_merged.onnx", 14, 2, 2, 64),
        "onnx/decoder_model_merged.onnx", "has no input 'pixel_values'", "inputs_embeds");
    contains(refused("vlm4j-tiny-qwen2_5-vl", "onnx/embed_tokens.onnx", 14, 2, 2, 64),
        "onnx/embed_tokens.onnx", "has no input 'pixel_values'", "input_ids");
    contains(refused("vlm4j-tiny-llava", "onnx/vision_encoder.onnx", 14, 2, 2, 64),
        "input pixel_values FLOAT[", "must have rank 2 [num_patches, 1176]");
    contains(refused("vlm4j-tiny-qwen2-vl", "onnx/vision_encoder.onnx", 16, 2, 2, 64),
        "input pixel_values FLOAT[num_patches,1176] has patches of 1176 values but the preprocessor makes 3*2*16*16 = 1536");
    contains(refused("vlm4j-tiny-qwen2-vl", "onnx/vision_encoder_fp16.onnx", 14, 2, 2, 32),
        "output image_features FLOAT[num_image_tokens,64] has features of width 64 but the language model takes 32");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PatchGridEncoder.open(
        folder("vlm4j-tiny-qwen2-vl"), "onnx/vision_encoder.onnx", SessionSettings.DEFAULT, 14, 0, 2, 64));
    contains(e, "at least 1");
  }

  @Test
  void refusesImagesOffTheGridAndWrongRowCounts() throws Exception {
    PatchGridEncoder enc = encoder("vlm4j-tiny-qwen2-vl", "");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> enc.encode(new PreprocessedImage(new float[2 * 3 * 42 * 56], 2, 42, 56, 0, 0), null));
    contains(e, "cannot be merged 2x2");
    e = assertThrows(IllegalArgumentException.class,
        () -> enc.encode(new PreprocessedImage(new float[3 * 56 * 56], 1, 56, 56, 0, 0), null));
    contains(e, "not a whole grid");
    Path dir = SmartResizePreprocessorTest.ROOT.resolve("models/vlm4j-tiny-qwen2-vl");
    try (PatchGridEncoder unmerged = PatchGridEncoder.open(ModelFolder.of(dir), "onnx/vision_encoder.onnx",
        SessionSettings.DEFAULT, 14, 2, 1, 64)) {
      PreprocessedImage im = SmartResizePreprocessorTest.preprocessor("vlm4j-tiny-qwen2-vl")
          .preprocess(SmartResizePreprocessorTest.grey(56, 56), null);
      InferenceException ie = assertThrows(InferenceException.class, () -> unmerged.encode(im, null));
      contains(ie, "returned image_features of shape [4, 64] for a patch grid of 1x4x4; expected [16, hidden]");
    }
  }
}
