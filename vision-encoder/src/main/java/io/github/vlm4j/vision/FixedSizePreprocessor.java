package io.github.vlm4j.vision;

/**
 * transformers.js's base {@code ImageProcessor} path for fixed-size models (CLIP/SigLIP-style, as
 * LLaVA uses): resize ({@code {height,width}} exactly, or by shortest/longest edge keeping the
 * aspect ratio), optional centre crop, rescale, normalise; one frame.
 */
public final class FixedSizePreprocessor implements ImagePreprocessor {
  private final PreprocessorConfig cfg;
  private final int frameH;
  private final int frameW;

  /**
   * Creates the preprocessor from the model's preprocessing config.
   *
   * @param cfg the parsed {@code preprocessor_config.json}
   * @throws IllegalArgumentException if the config does not determine a fixed frame size
   */
  public FixedSizePreprocessor(PreprocessorConfig cfg) {
    this.cfg = cfg;
    if (cfg.doCenterCrop() && cfg.cropHeight() > 0 && cfg.cropWidth() > 0) {
      frameH = cfg.cropHeight();
      frameW = cfg.cropWidth();
    } else if (cfg.sizeHeight() > 0 && cfg.sizeWidth() > 0) {
      frameH = cfg.sizeHeight();
      frameW = cfg.sizeWidth();
    } else {
      throw new IllegalArgumentException("a fixed-size preprocessor needs size {height,width} or a centre crop");
    }
  }

  /**
   * Reads the preprocessor from a model folder's {@code preprocessor_config.json}.
   *
   * @param folder the model folder
   * @return the preprocessor
   * @throws io.github.vlm4j.core.ModelLoadException MISSING_FILE, or MALFORMED_CONFIG if the config
   *     is malformed or determines no fixed frame size
   */
  public static FixedSizePreprocessor read(io.github.vlm4j.core.model.ModelFolder folder)
      throws io.github.vlm4j.core.ModelLoadException {
    PreprocessorConfig cfg = PreprocessorConfig.read(folder);
    try {
      return new FixedSizePreprocessor(cfg);
    } catch (IllegalArgumentException e) {
      throw new io.github.vlm4j.core.ModelLoadException(io.github.vlm4j.core.ModelLoadException.Reason.MALFORMED_CONFIG,
          folder.describe(PreprocessorConfig.FILE) + ": " + e.getMessage(), e);
    }
  }

  @Override
  public PreprocessedImage preprocess(RgbImage image, Boolean splitOverride) {
    RgbImage img = image;
    if (cfg.doResize()) {
      int w;
      int h;
      if (cfg.sizeHeight() > 0 && cfg.sizeWidth() > 0) {
        w = cfg.sizeWidth();
        h = cfg.sizeHeight();
      } else {
        int[] s = PixelOps.checkedEdgeResizeSize(img.width(), img.height(), cfg.shortestEdge(), cfg.longestEdge(),
            ImageDecoder.DEFAULT_MAX_PIXELS);
        w = s[0];
        h = s[1];
      }
      img = Resampler.resize(img, w, h, cfg.resample());
    }
    float[] chw = PixelOps.toNormalizedChw(img, cfg.doRescale(), cfg.rescaleFactor(), cfg.doNormalize(),
        cfg.imageMean(), cfg.imageStd());
    int h = img.height();
    int w = img.width();
    if (cfg.doCenterCrop() && (h != frameH || w != frameW)) {
      chw = centerCrop(chw, h, w, frameH, frameW);
    } else if (h != frameH || w != frameW) {
      throw new io.github.vlm4j.core.VlmInputException(io.github.vlm4j.core.VlmInputException.Reason.IMAGE_FORMAT_UNSUPPORTED,
          "this model does not resize (do_resize is false) and expects " + frameW + "x" + frameH
              + " images, got " + w + "x" + h);
    }
    return new PreprocessedImage(chw, 1, frameH, frameW, 0, 0);
  }

  /** Centre crop with zero padding where the image is smaller (transformers.js RawImage.center_crop). */
  private static float[] centerCrop(float[] chw, int h, int w, int outH, int outW) {
    float[] out = new float[3 * outH * outW];
    int top = (int) Math.floor((h - outH) / 2.0);
    int left = (int) Math.floor((w - outW) / 2.0);
    for (int c = 0; c < 3; c++) {
      for (int y = 0; y < outH; y++) {
        int sy = y + top;
        if (sy < 0 || sy >= h) {
          continue;
        }
        for (int x = 0; x < outW; x++) {
          int sx = x + left;
          if (sx >= 0 && sx < w) {
            out[(c * outH + y) * outW + x] = chw[(c * h + sy) * w + sx];
          }
        }
      }
    }
    return out;
  }

  @Override
  public int frameHeight() {
    return frameH;
  }

  @Override
  public int frameWidth() {
    return frameW;
  }
}
