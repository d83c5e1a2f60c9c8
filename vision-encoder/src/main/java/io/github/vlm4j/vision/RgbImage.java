package io.github.vlm4j.vision;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A decoded 8-bit RGB image: {@code width * height * 3} bytes, row-major, interleaved R,G,B.
 * Immutable once constructed (the array is not exposed); thread-safe.
 */
public final class RgbImage {
  private final int width;
  private final int height;
  private final byte[] rgb;
  private volatile String hash;

  /**
   * Wraps interleaved RGB bytes.
   *
   * @param width width in pixels, > 0
   * @param height height in pixels, > 0
   * @param rgb interleaved RGB bytes, length {@code width*height*3}; not copied, must not be modified
   */
  public RgbImage(int width, int height, byte[] rgb) {
    if (width <= 0 || height <= 0) {
      throw new IllegalArgumentException("image size must be positive, got " + width + "x" + height);
    }
    if ((long) width * height * 3 != rgb.length) {
      throw new IllegalArgumentException("expected " + (long) width * height * 3 + " bytes for "
          + width + "x" + height + " RGB, got " + rgb.length);
    }
    this.width = width;
    this.height = height;
    this.rgb = rgb;
  }

  /**
   * Returns the width.
   *
   * @return width in pixels
   */
  public int width() {
    return width;
  }

  /**
   * Returns the height.
   *
   * @return height in pixels
   */
  public int height() {
    return height;
  }

  /**
   * Returns one sample of one pixel.
   *
   * @param x column
   * @param y row
   * @param c channel 0=R, 1=G, 2=B
   * @return the sample, 0..255
   */
  public int sample(int x, int y, int c) {
    return rgb[(y * width + x) * 3 + c] & 0xFF;
  }

  /**
   * Returns the pixels.
   *
   * @return a copy of the interleaved RGB bytes
   */
  public byte[] toBytes() {
    return rgb.clone();
  }

  byte[] data() {
    return rgb;
  }

  /**
   * Hashes the size and pixels.
   *
   * @return SHA-256 of the size and pixels, hex; equal pixels give equal hashes
   */
  public String contentHash() {
    String h = hash;
    if (h == null) {
      try {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        md.update(new byte[] {(byte) (width >>> 24), (byte) (width >>> 16), (byte) (width >>> 8), (byte) width,
            (byte) (height >>> 24), (byte) (height >>> 16), (byte) (height >>> 8), (byte) height});
        md.update(rgb);
        h = HexFormat.of().formatHex(md.digest());
        hash = h;
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("SHA-256 is required by the Java platform", e);
      }
    }
    return h;
  }

  @Override
  public String toString() {
    return "RgbImage[" + width + "x" + height + "]";
  }
}
