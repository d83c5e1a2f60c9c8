package io.github.vlm4j.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.VlmInputException.Reason;
import org.junit.jupiter.api.Test;

/**
 * Valid images of extreme aspect ratio: sides that would round to 0 are clamped to 1 pixel (as
 * Python transformers' Idefics3 processor and Pillow do), and a resize that would explode is a
 * typed error naming the ratio.
 */
class ExtremeAspectRatioTest {
  private static PreprocessorConfig config(String json) throws Exception {
    return PreprocessorConfig.parse(new ObjectMapper().readTree(json), "test");
  }

  private static RgbImage flat(int w, int h) {
    return new RgbImage(w, h, new byte[w * h * 3]);
  }

  @Test
  void idefics3AcceptsOneByTenThousandBothWays() throws Exception {
    PreprocessorConfig cfg = config("{\"do_resize\":true,\"size\":{\"longest_edge\":128},"
        + "\"max_image_size\":{\"longest_edge\":64},\"do_image_splitting\":true,\"resample\":1,"
        + "\"do_rescale\":true,\"rescale_factor\":0.00392156862745098,\"do_normalize\":true,"
        + "\"image_mean\":[0.5,0.5,0.5],\"image_std\":[0.5,0.5,0.5]}");
    Idefics3Preprocessor p = new Idefics3Preprocessor(cfg);
    PreprocessedImage tall = p.preprocess(flat(1, 10000), null);
    assertEquals(2, tall.rows(), "128 high, one 64-wide column: 2 tiles");
    assertEquals(1, tall.cols());
    PreprocessedImage wide = p.preprocess(flat(10000, 1), null);
    assertEquals(1, wide.rows());
    assertEquals(2, wide.cols());
    assertEquals(1, p.preprocess(flat(1, 10000), false).frames());
  }

  @Test
  void edgeResizeClampsToOnePixel() {
    int[] s = PixelOps.edgeResizeSize(1, 10000, 0, 2048);
    assertEquals(1, s[0]);
    assertEquals(2048, s[1]);
  }

  @Test
  void shortestEdgeUpscaleOfAThinImageIsATypedError() throws Exception {
    PreprocessorConfig cfg = config("{\"do_resize\":true,\"size\":{\"shortest_edge\":336},"
        + "\"do_center_crop\":true,\"crop_size\":{\"height\":336,\"width\":336},\"resample\":3,"
        + "\"do_rescale\":true,\"rescale_factor\":0.00392156862745098,\"do_normalize\":false}");
    FixedSizePreprocessor p = new FixedSizePreprocessor(cfg);
    VlmInputException e = assertThrows(VlmInputException.class, () -> p.preprocess(flat(1, 10000), null));
    assertEquals(Reason.IMAGE_TOO_LARGE, e.reason());
    assertTrue(e.getMessage().contains("aspect ratio 1:10000.0"), e.getMessage());
    assertEquals(336, p.preprocess(flat(1, 100), null).width());
  }
}
