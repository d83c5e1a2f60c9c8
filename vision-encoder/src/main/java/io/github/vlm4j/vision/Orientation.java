package io.github.vlm4j.vision;

/** EXIF orientation (1..8) applied to pixels, so the image appears upright (orientation 1). */
final class Orientation {
  private Orientation() {}

  static RgbImage apply(RgbImage in, int orientation) {
    int w = in.width();
    int h = in.height();
    boolean swap = orientation >= 5;
    int ow = swap ? h : w;
    int oh = swap ? w : h;
    byte[] src = in.data();
    byte[] out = new byte[src.length];
    for (int y = 0; y < oh; y++) {
      for (int x = 0; x < ow; x++) {
        int sx;
        int sy;
        switch (orientation) {
          case 2 -> { sx = w - 1 - x; sy = y; }
          case 3 -> { sx = w - 1 - x; sy = h - 1 - y; }
          case 4 -> { sx = x; sy = h - 1 - y; }
          case 5 -> { sx = y; sy = x; }
          case 6 -> { sx = y; sy = h - 1 - x; }
          case 7 -> { sx = w - 1 - y; sy = h - 1 - x; }
          case 8 -> { sx = w - 1 - y; sy = x; }
          default -> { sx = x; sy = y; }
        }
        System.arraycopy(src, (sy * w + sx) * 3, out, (y * ow + x) * 3, 3);
      }
    }
    return new RgbImage(ow, oh, out);
  }
}
