package io.github.vlm4j.vision.multi;

import io.github.vlm4j.vision.ImagePreprocessor;
import io.github.vlm4j.vision.PreprocessedImage;
import io.github.vlm4j.vision.RgbImage;
import java.util.List;

/**
 * Makes every view the encoders of a {@link MultiEncoder} take, one frame per view in view order.
 * Frames of a {@link PreprocessedImage} share one size, so each view is written at the top-left of a
 * zero frame as large as the largest view; {@link #view} reads it back at its own size.
 *
 * <p>Immutable and thread-safe.
 */
public final class ViewsPreprocessor implements ImagePreprocessor {
  private final List<ViewSpec> views;
  private final int frameH;
  private final int frameW;

  /**
   * Creates the preprocessor.
   *
   * @param views the views, in the order the encoders read them (copied)
   * @throws IllegalArgumentException if there are none
   */
  public ViewsPreprocessor(List<ViewSpec> views) {
    if (views.isEmpty()) {
      throw new IllegalArgumentException("no views");
    }
    this.views = List.copyOf(views);
    this.frameH = this.views.stream().mapToInt(ViewSpec::height).max().orElseThrow();
    this.frameW = this.views.stream().mapToInt(ViewSpec::width).max().orElseThrow();
  }

  /**
   * Returns the views.
   *
   * @return the views, in frame order
   */
  public List<ViewSpec> views() {
    return views;
  }

  @Override
  public PreprocessedImage preprocess(RgbImage image, Boolean splitOverride) {
    int frame = 3 * frameH * frameW;
    float[] out = new float[views.size() * frame];
    for (int i = 0; i < views.size(); i++) {
      ViewSpec v = views.get(i);
      float[] chw = v.pixels(image);
      for (int c = 0; c < 3; c++) {
        for (int y = 0; y < v.height(); y++) {
          System.arraycopy(chw, (c * v.height() + y) * v.width(), out, i * frame + (c * frameH + y) * frameW,
              v.width());
        }
      }
    }
    return new PreprocessedImage(out, views.size(), frameH, frameW, 0, 0);
  }

  /**
   * Reads one view back from the frames {@link #preprocess} made.
   *
   * @param image frames made by this preprocessor
   * @param index the view's index
   * @return {@code 3 * height * width} floats of that view, CHW (a new array)
   * @throws IllegalArgumentException if {@code image} was not made by a preprocessor with these views
   */
  public float[] view(PreprocessedImage image, int index) {
    if (image.frames() != views.size() || image.height() != frameH || image.width() != frameW) {
      throw new IllegalArgumentException("expected " + views.size() + " frames of " + frameW + "x" + frameH
          + ", got " + image.frames() + " of " + image.width() + "x" + image.height());
    }
    ViewSpec v = views.get(index);
    float[] px = image.pixels();
    float[] out = new float[3 * v.height() * v.width()];
    int frame = 3 * frameH * frameW;
    for (int c = 0; c < 3; c++) {
      for (int y = 0; y < v.height(); y++) {
        System.arraycopy(px, index * frame + (c * frameH + y) * frameW, out, (c * v.height() + y) * v.width(),
            v.width());
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
