package io.github.vlm4j.vision;

import java.util.ArrayList;
import java.util.List;

/**
 * transformers.js's {@code Idefics3ImageProcessor} (SmolVLM): resize so the longest edge is {@code
 * size.longest_edge} (Lanczos, upscaling too), rescale and normalise, then either
 *
 * <ul>
 *   <li>split: resize (bilinear, on floats) to multiples of the tile size {@code M}, cut {@code
 *       rows x cols} tiles in row-major order (last row/column anchored to the edge), and append the
 *       global image resized to {@code M x M} <em>last</em> (no global frame if one tile fits); or
 *   <li>no split: one frame resized to {@code M x M} (aspect ratio not kept).
 * </ul>
 */
public final class Idefics3Preprocessor implements ImagePreprocessor {
  private final PreprocessorConfig cfg;
  private final int tile;

  /**
   * Creates the preprocessor from the model's preprocessing config.
   *
   * @param cfg the parsed {@code preprocessor_config.json}
   * @throws IllegalArgumentException if {@code max_image_size.longest_edge} is missing
   */
  public Idefics3Preprocessor(PreprocessorConfig cfg) {
    if (cfg.maxImageSize() <= 0) {
      throw new IllegalArgumentException("Idefics3 preprocessing needs max_image_size.longest_edge");
    }
    this.cfg = cfg;
    this.tile = cfg.maxImageSize();
  }

  @Override
  public PreprocessedImage preprocess(RgbImage image, Boolean splitOverride) {
    RgbImage img = image;
    if (cfg.doResize()) {
      int[] s = PixelOps.checkedEdgeResizeSize(img.width(), img.height(), cfg.shortestEdge(), cfg.longestEdge(),
            ImageDecoder.DEFAULT_MAX_PIXELS);
      img = Resampler.resize(img, s[0], s[1], cfg.resample());
    }
    float[] x = PixelOps.toNormalizedChw(img, cfg.doRescale(), cfg.rescaleFactor(), cfg.doNormalize(),
        cfg.imageMean(), cfg.imageStd());
    int h = img.height();
    int w = img.width();
    boolean split = splitOverride != null ? splitOverride : cfg.doImageSplitting();
    if (!split) {
      return new PreprocessedImage(PixelOps.resizeBilinear(x, 3, h, w, tile, tile), 1, tile, tile, 0, 0);
    }
    int[] hw = resizeForVisionEncoder(h, w, tile);
    x = PixelOps.resizeBilinear(x, 3, h, w, hw[0], hw[1]);
    h = hw[0];
    w = hw[1];
    if (h <= tile && w <= tile) {
      return new PreprocessedImage(x, 1, h, w, 0, 0);
    }
    int rows = (int) Math.ceil((double) h / tile);
    int cols = (int) Math.ceil((double) w / tile);
    int oh = (int) Math.ceil((double) h / rows);
    int ow = (int) Math.ceil((double) w / cols);
    if (oh != tile || ow != tile) {
      throw new IllegalStateException("tiles of " + ow + "x" + oh + " do not match the tile size " + tile);
    }
    List<int[]> origins = new ArrayList<>();
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        int y0 = r == rows - 1 ? h - oh : r * oh;
        int x0 = c == cols - 1 ? w - ow : c * ow;
        origins.add(new int[] {y0, x0});
      }
    }
    int frameSize = 3 * tile * tile;
    float[] out = new float[(origins.size() + 1) * frameSize];
    for (int i = 0; i < origins.size(); i++) {
      PixelOps.crop(x, 3, h, w, origins.get(i)[0], origins.get(i)[1], tile, tile, out, i * frameSize);
    }
    float[] global = PixelOps.resizeBilinear(x, 3, h, w, tile, tile);
    System.arraycopy(global, 0, out, origins.size() * frameSize, frameSize);
    return new PreprocessedImage(out, origins.size() + 1, tile, tile, rows, cols);
  }

  /**
   * transformers.js {@code get_resize_for_vision_encoder}: round both sides up to multiples of the
   * tile size, keeping the aspect ratio as far as that allows.
   *
   * @param h height
   * @param w width
   * @param m tile size
   * @return {@code {height, width}}
   */
  static int[] resizeForVisionEncoder(int h, int w, int m) {
    double ar = (double) w / h;
    if (w >= h) {
      w = (int) Math.ceil((double) w / m) * m;
      h = (int) Math.floor(w / ar);
      h = (int) Math.ceil((double) h / m) * m;
    } else {
      h = (int) Math.ceil((double) h / m) * m;
      w = (int) Math.floor(h * ar);
      w = (int) Math.ceil((double) w / m) * m;
    }
    return new int[] {h, w};
  }

  /** @return {@code true}: images are split into tiles plus a global frame unless overridden */
  @Override
  public boolean splitsImages() {
    return true;
  }

  @Override
  public int frameHeight() {
    return tile;
  }

  @Override
  public int frameWidth() {
    return tile;
  }
}
