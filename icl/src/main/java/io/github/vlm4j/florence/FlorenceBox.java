package io.github.vlm4j.florence;

import java.util.Objects;

/**
 * One labeled box in image pixels: {@code (x1, y1)} is the top-left and {@code (x2, y2)} the
 * bottom-right corner as the model wrote them (not reordered, not clamped: a location token above
 * {@code <loc_999>} gives a coordinate beyond the image, as in transformers.js). Each coordinate is
 * {@code (bin + 0.5) / 1000 * size} in double precision, size being the image width for x and the
 * height for y. Immutable and thread-safe.
 *
 * @param label the label, trimmed; the previous box's label when the model wrote none, or empty
 * @param x1 left, pixels
 * @param y1 top, pixels
 * @param x2 right, pixels
 * @param y2 bottom, pixels
 */
public record FlorenceBox(String label, double x1, double y1, double x2, double y2) {
  /**
   * Checks the label.
   *
   * @param label the label (not null)
   * @param x1 left, pixels
   * @param y1 top, pixels
   * @param x2 right, pixels
   * @param y2 bottom, pixels
   */
  public FlorenceBox {
    Objects.requireNonNull(label, "label");
  }

  /**
   * Returns the coordinates as a new array.
   *
   * @return {@code [x1, y1, x2, y2]} (a fresh array the caller owns)
   */
  public double[] coordinates() {
    return new double[] {x1, y1, x2, y2};
  }
}
