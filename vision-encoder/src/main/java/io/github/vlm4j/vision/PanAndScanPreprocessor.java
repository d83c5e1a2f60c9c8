package io.github.vlm4j.vision;

import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ConfigReader;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.model.ModelLimits;
import java.util.ArrayList;
import java.util.List;

/**
 * Gemma 3's image processing: the image resized to the model's fixed frame ({@link
 * FixedSizePreprocessor}) and, when pan-and-scan is on, crops of it resized the same way after it.
 * Pan-and-scan (HuggingFace {@code Gemma3ImageProcessor.pan_and_scan}) cuts an image whose long
 * side is at least {@code pan_and_scan_min_ratio_to_activate} times its short side into {@code
 * round(long / short)} crops along the long side (at least 2, at most {@code
 * pan_and_scan_max_num_crops}, and no more than fit {@code pan_and_scan_min_crop_size}), each
 * {@code ceil(long / n)} wide, the last one cut at the image's edge; it cuts nothing when a crop
 * would be smaller than {@code pan_and_scan_min_crop_size}. Crops are cut from the decoded pixels
 * before any resize.
 *
 * <p>Frames: the whole image first, then the crops left to right or top to bottom, all {@code
 * frameHeight() x frameWidth()}, planar CHW. Pan-and-scan follows {@code do_pan_and_scan} unless a
 * request's split override says otherwise (transformers.js 4.3.1 has no pan-and-scan and never
 * crops). Immutable and thread-safe.
 */
public final class PanAndScanPreprocessor implements ImagePreprocessor {
  private final FixedSizePreprocessor frame;
  private final boolean enabled;
  private final int minCropSize;
  private final int maxCrops;
  private final double minRatio;

  private PanAndScanPreprocessor(FixedSizePreprocessor frame, boolean enabled, int minCropSize, int maxCrops,
      double minRatio) {
    this.frame = frame;
    this.enabled = enabled;
    this.minCropSize = minCropSize;
    this.maxCrops = maxCrops;
    this.minRatio = minRatio;
  }

  /**
   * Reads the preprocessor from a model folder's {@code preprocessor_config.json} (HuggingFace's
   * defaults for missing pan-and-scan fields: off, 256, 4, 1.2).
   *
   * @param folder the model folder
   * @return the preprocessor
   * @throws ModelLoadException MISSING_FILE, or MALFORMED_CONFIG naming the field, its range and the
   *     value found
   */
  public static PanAndScanPreprocessor read(ModelFolder folder) throws ModelLoadException {
    FixedSizePreprocessor frame = FixedSizePreprocessor.read(folder);
    String source = folder.describe(PreprocessorConfig.FILE);
    ConfigReader r = ConfigReader.of(folder.readJson(PreprocessorConfig.FILE), source);
    return new PanAndScanPreprocessor(frame, r.boolOr("do_pan_and_scan", false),
        r.intOr("pan_and_scan_min_crop_size", 1, ModelLimits.MAX_IMAGE_EDGE, 256),
        r.intOr("pan_and_scan_max_num_crops", 1, 64, 4),
        r.doubleOr("pan_and_scan_min_ratio_to_activate", 1.0, 1e4, 1.2));
  }

  /**
   * The crops pan-and-scan cuts from a {@code width x height} image.
   *
   * @param width image width
   * @param height image height
   * @return {@code {x, y, w, h}} per crop, in order; empty when pan-and-scan does not activate
   */
  public List<int[]> crops(int width, int height) {
    boolean landscape = width >= height;
    int along = landscape ? width : height;
    int across = landscape ? height : width;
    if ((double) along / across < minRatio) {
      return List.of();
    }
    int n = (int) Math.floor((double) along / across + 0.5);
    n = Math.min((int) Math.floor((double) along / minCropSize), n);
    n = Math.min(maxCrops, Math.max(2, n));
    int cw = landscape ? (int) Math.ceil((double) width / n) : width;
    int ch = landscape ? height : (int) Math.ceil((double) height / n);
    if (Math.min(cw, ch) < minCropSize) {
      return List.of();
    }
    List<int[]> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int x = landscape ? i * cw : 0;
      int y = landscape ? 0 : i * ch;
      int w = Math.min(x + cw, width) - x;
      int h = Math.min(y + ch, height) - y;
      if (w > 0 && h > 0) {
        out.add(new int[] {x, y, w, h});
      }
    }
    return out;
  }

  /**
   * Preprocesses one image (see the class description).
   *
   * @param image the decoded image
   * @param splitOverride pan-and-scan on or off for this image; null for {@code do_pan_and_scan}
   * @return the whole image's frame, then its crops' frames
   */
  @Override
  public PreprocessedImage preprocess(RgbImage image, Boolean splitOverride) {
    boolean pan = splitOverride != null ? splitOverride : enabled;
    List<int[]> crops = pan ? crops(image.width(), image.height()) : List.of();
    PreprocessedImage whole = frame.preprocess(image, null);
    if (crops.isEmpty()) {
      return whole;
    }
    int per = whole.pixels().length;
    float[] all = new float[per * (1 + crops.size())];
    System.arraycopy(whole.pixels(), 0, all, 0, per);
    for (int i = 0; i < crops.size(); i++) {
      int[] c = crops.get(i);
      System.arraycopy(frame.preprocess(crop(image, c[0], c[1], c[2], c[3]), null).pixels(), 0, all, per * (i + 1), per);
    }
    return new PreprocessedImage(all, 1 + crops.size(), whole.height(), whole.width(), 0, 0);
  }

  private static RgbImage crop(RgbImage image, int x0, int y0, int w, int h) {
    byte[] src = image.data();
    byte[] out = new byte[w * h * 3];
    for (int y = 0; y < h; y++) {
      System.arraycopy(src, ((y0 + y) * image.width() + x0) * 3, out, y * w * 3, w * 3);
    }
    return new RgbImage(w, h, out);
  }

  /**
   * Counts the crops of a preprocessed image.
   *
   * @param layout the image's layout
   * @return its frames after the first (the whole image)
   */
  public static int cropCount(ImageLayout layout) {
    return layout.frames() - 1;
  }

  @Override
  public boolean splitsImages() {
    return true;
  }

  @Override
  public int frameHeight() {
    return frame.frameHeight();
  }

  @Override
  public int frameWidth() {
    return frame.frameWidth();
  }

  @Override
  public String toString() {
    return "PanAndScanPreprocessor[" + frameWidth() + "x" + frameHeight() + (enabled ? ", pan-and-scan" : "")
        + ", crops " + minCropSize + "+ px, at most " + maxCrops + ", from ratio " + minRatio + "]";
  }
}
