package io.github.vlm4j.florence;

import java.util.Objects;

/**
 * One labeled quadrilateral in image pixels ({@code <OCR_WITH_REGION>}): four corner points in the
 * order the model wrote them, usually clockwise from the top-left. Coordinates are computed like
 * {@link FlorenceBox}'s. Immutable and thread-safe.
 *
 * @param label the text, trimmed
 * @param x1 first point x, pixels
 * @param y1 first point y, pixels
 * @param x2 second point x, pixels
 * @param y2 second point y, pixels
 * @param x3 third point x, pixels
 * @param y3 third point y, pixels
 * @param x4 fourth point x, pixels
 * @param y4 fourth point y, pixels
 */
public record FlorenceQuad(String label, double x1, double y1, double x2, double y2, double x3, double y3,
    double x4, double y4) {
  /**
   * Checks the label.
   *
   * @param label the text (not null)
   * @param x1 first point x, pixels
   * @param y1 first point y, pixels
   * @param x2 second point x, pixels
   * @param y2 second point y, pixels
   * @param x3 third point x, pixels
   * @param y3 third point y, pixels
   * @param x4 fourth point x, pixels
   * @param y4 fourth point y, pixels
   */
  public FlorenceQuad {
    Objects.requireNonNull(label, "label");
  }

  /**
   * Returns the coordinates as a new array.
   *
   * @return {@code [x1, y1, x2, y2, x3, y3, x4, y4]} (a fresh array the caller owns)
   */
  public double[] coordinates() {
    return new double[] {x1, y1, x2, y2, x3, y3, x4, y4};
  }
}
