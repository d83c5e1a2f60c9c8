package io.github.vlm4j.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.VlmInputException.Reason;
import io.github.vlm4j.core.prompt.ImageInput;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * The supported-format list of {@link ImageDecoder}: each format is decoded here and its pixels
 * checked; EXIF orientation is applied for every format that carries it. Files are generated in
 * the test except WebP (no Java encoder), whose tiny fixtures under {@code formats/} were written by
 * sharp 0.35.5 (libwebp 1.6.0); see {@code formats/README.md}.
 */
class ImageFormatsTest {
  /** The 3x2 pattern: row-major, distinct colours. */
  static final int[] PATTERN = {0xFF0000, 0x00FF00, 0x0000FF, 0xFFFF00, 0x00FFFF, 0xFF00FF};
  private final ImageDecoder decoder = new ImageDecoder();

  static BufferedImage pattern() {
    BufferedImage img = new BufferedImage(3, 2, BufferedImage.TYPE_INT_RGB);
    for (int i = 0; i < 6; i++) {
      img.setRGB(i % 3, i / 3, PATTERN[i]);
    }
    return img;
  }

  static int rgb(RgbImage img, int x, int y) {
    return img.sample(x, y, 0) << 16 | img.sample(x, y, 1) << 8 | img.sample(x, y, 2);
  }

  private static void assertPattern(RgbImage img) {
    assertEquals(3, img.width());
    assertEquals(2, img.height());
    for (int i = 0; i < 6; i++) {
      assertEquals(Integer.toHexString(PATTERN[i]), Integer.toHexString(rgb(img, i % 3, i / 3)), "pixel " + i);
    }
  }

  private static byte[] resource(String name) throws IOException {
    try (InputStream in = ImageFormatsTest.class.getResourceAsStream("/formats/" + name)) {
      assertTrue(in != null, name);
      return in.readAllBytes();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"png", "gif", "bmp", "tiff"})
  void losslessJdkFormatsDecodeExactly(String format) throws IOException {
    // 4x4 blocks: the JDK's GIF writer garbles images only a few pixels wide
    BufferedImage source = indexedPattern(4);
    if (!format.equals("gif")) {
      BufferedImage rgb = new BufferedImage(12, 8, BufferedImage.TYPE_INT_RGB);
      rgb.getGraphics().drawImage(source, 0, 0, null);
      source = rgb;
    }
    RgbImage img = decoder.decode(ImageInput.of(ImageDecoderTest.write(source, format)));
    assertEquals(12, img.width());
    assertEquals(8, img.height());
    for (int y = 0; y < 8; y++) {
      for (int x = 0; x < 12; x++) {
        assertEquals(Integer.toHexString(PATTERN[(y / 4) * 3 + x / 4]), Integer.toHexString(rgb(img, x, y)), x + "," + y);
      }
    }
  }

  /** The pattern in {@code scale x scale} blocks with an exact 8-entry palette. */
  static BufferedImage indexedPattern(int scale) {
    byte[] r = new byte[8];
    byte[] g = new byte[8];
    byte[] b = new byte[8];
    for (int i = 0; i < 6; i++) {
      r[i] = (byte) (PATTERN[i] >> 16);
      g[i] = (byte) (PATTERN[i] >> 8);
      b[i] = (byte) PATTERN[i];
    }
    BufferedImage img = new BufferedImage(3 * scale, 2 * scale, BufferedImage.TYPE_BYTE_INDEXED,
        new java.awt.image.IndexColorModel(3, 8, r, g, b));
    for (int y = 0; y < 2 * scale; y++) {
      for (int x = 0; x < 3 * scale; x++) {
        img.getRaster().setSample(x, y, 0, (y / scale) * 3 + x / scale);
      }
    }
    return img;
  }

  @Test
  void jpegDecodes() throws IOException {
    BufferedImage img = new BufferedImage(16, 16, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 16; y++) {
      for (int x = 0; x < 16; x++) {
        img.setRGB(x, y, 0xC86432);
      }
    }
    RgbImage rgb = decoder.decode(ImageInput.of(ImageDecoderTest.jpeg(img)));
    assertEquals(16, rgb.width());
    assertTrue(Math.abs(rgb.sample(8, 8, 0) - 0xC8) < 6 && Math.abs(rgb.sample(8, 8, 2) - 0x32) < 6);
  }

  @Test
  void webpLosslessDecodesExactly() throws IOException {
    assertPattern(decoder.decode(ImageInput.of(resource("pattern3x2-lossless.webp"))));
  }

  @Test
  void webpWithAlphaDropsAlphaWithoutCompositing() throws IOException {
    assertPattern(decoder.decode(ImageInput.of(resource("pattern3x2-alpha.webp"))));
  }

  @Test
  void webpLossyDecodes() throws IOException {
    RgbImage rgb = decoder.decode(ImageInput.of(resource("flat16-lossy.webp")));
    assertEquals(16, rgb.width());
    assertTrue(Math.abs(rgb.sample(8, 8, 0) - 200) < 8 && Math.abs(rgb.sample(8, 8, 1) - 100) < 8
        && Math.abs(rgb.sample(8, 8, 2) - 50) < 8, rgb.sample(8, 8, 0) + "," + rgb.sample(8, 8, 1));
  }

  @Test
  void icoDecodesItsLargestBitmapEntry() {
    byte[] small = dib24(new int[] {0x123456}, 1, 1);
    byte[] large = dib24(PATTERN, 3, 2);
    assertPattern(decoder.decode(ImageInput.of(ico(new byte[][] {small, large}))));
  }

  @Test
  void icoDecodesAPngEntry() throws IOException {
    assertPattern(decoder.decode(ImageInput.of(ico(new byte[][] {ImageDecoderTest.png(pattern())}))));
  }

  @Test
  void pnmDecodes() {
    ByteArrayOutputStream ppm = new ByteArrayOutputStream();
    ppm.writeBytes("P6\n3 2\n255\n".getBytes(StandardCharsets.US_ASCII));
    for (int c : PATTERN) {
      ppm.write(c >> 16);
      ppm.write(c >> 8);
      ppm.write(c);
    }
    assertPattern(decoder.decode(ImageInput.of(ppm.toByteArray())));
    RgbImage grey = decoder.decode(ImageInput.of("P2\n2 1\n255\n17 250\n".getBytes(StandardCharsets.US_ASCII)));
    assertEquals(17, grey.sample(0, 0, 1));
    assertEquals(250, grey.sample(1, 0, 2));
  }

  @Test
  void psdIsUnsupported() {
    byte[] psd = "8BPS\0\1\0\0\0\0\0\0\0\3\0\0\0\2\0\0\0\3\0\10\0\3".getBytes(StandardCharsets.ISO_8859_1);
    VlmInputException e = assertThrows(VlmInputException.class, () -> decoder.decode(ImageInput.of(psd)));
    assertEquals(Reason.IMAGE_FORMAT_UNSUPPORTED, e.reason());
    assertTrue(e.getMessage().contains("JPEG, PNG, GIF, BMP, TIFF, WebP, ICO, PNM"), e.getMessage());
  }

  /** Pixel {@code (x, y)} of the upright image, per Pillow's exif_transpose for each orientation. */
  static int expected(int orientation, int x, int y, int w, int h) {
    return switch (orientation) {
      case 1 -> PATTERN[y * w + x];
      case 2 -> PATTERN[y * w + (w - 1 - x)];             // FLIP_LEFT_RIGHT
      case 3 -> PATTERN[(h - 1 - y) * w + (w - 1 - x)];   // ROTATE_180
      case 4 -> PATTERN[(h - 1 - y) * w + x];             // FLIP_TOP_BOTTOM
      case 5 -> PATTERN[x * w + y];                       // TRANSPOSE
      case 6 -> PATTERN[(h - 1 - x) * w + y];             // ROTATE_270 (90 clockwise)
      case 7 -> PATTERN[(h - 1 - x) * w + (w - 1 - y)];   // TRANSVERSE
      case 8 -> PATTERN[x * w + (w - 1 - y)];             // ROTATE_90 (90 counter-clockwise)
      default -> throw new IllegalArgumentException();
    };
  }

  private static void assertUpright(RgbImage img, int orientation) {
    int ow = orientation >= 5 ? 2 : 3;
    int oh = orientation >= 5 ? 3 : 2;
    assertEquals(ow, img.width(), "orientation " + orientation);
    assertEquals(oh, img.height(), "orientation " + orientation);
    for (int y = 0; y < oh; y++) {
      for (int x = 0; x < ow; x++) {
        assertEquals(Integer.toHexString(expected(orientation, x, y, 3, 2)), Integer.toHexString(rgb(img, x, y)),
            "orientation " + orientation + " at " + x + "," + y);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8})
  void pngExifOrientationIsApplied(int orientation) throws IOException {
    assertUpright(decoder.decode(ImageInput.of(pngWithExif(ImageDecoderTest.png(pattern()), orientation))), orientation);
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8})
  void tiffOrientationTagIsApplied(int orientation) {
    assertUpright(decoder.decode(ImageInput.of(tiff(orientation))), orientation);
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8})
  void jpegExifOrientationIsApplied(int orientation) throws IOException {
    // 8x8 blocks of the pattern colours, so that lossy coding keeps each block's colour
    BufferedImage img = new BufferedImage(24, 16, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 16; y++) {
      for (int x = 0; x < 24; x++) {
        img.setRGB(x, y, PATTERN[(y / 8) * 3 + x / 8]);
      }
    }
    RgbImage rgb = decoder.decode(ImageInput.of(ImageDecoderTest.withExifOrientation(ImageDecoderTest.jpeg(img), orientation)));
    int ow = orientation >= 5 ? 2 : 3;
    int oh = orientation >= 5 ? 3 : 2;
    assertEquals(ow * 8, rgb.width());
    assertEquals(oh * 8, rgb.height());
    for (int by = 0; by < oh; by++) {
      for (int bx = 0; bx < ow; bx++) {
        int want = expected(orientation, bx, by, 3, 2);
        int x = bx * 8 + 4;
        int y = by * 8 + 4;
        for (int c = 0; c < 3; c++) {
          int w = (want >> (16 - 8 * c)) & 0xFF;
          assertTrue(Math.abs(rgb.sample(x, y, c) - w) < 40,
              "orientation " + orientation + " block " + bx + "," + by + " channel " + c + ": " + rgb.sample(x, y, c) + " vs " + w);
        }
      }
    }
  }

  @Test
  void webpExifOrientationIsAppliedAsSharpRotateDoes() throws IOException {
    // sharp(file).rotate().raw() of pattern3x2-orientation6.webp, printed by formats/README.md's script
    byte[] sharpUpright = {(byte) 255, (byte) 255, 0, (byte) 255, 0, 0, 0, (byte) 255, (byte) 255, 0, (byte) 255, 0,
        (byte) 255, 0, (byte) 255, 0, 0, (byte) 255};
    RgbImage six = decoder.decode(ImageInput.of(resource("pattern3x2-orientation6.webp")));
    assertEquals(2, six.width());
    assertArrayEquals(sharpUpright, six.toBytes());
    assertUpright(six, 6);
    assertUpright(decoder.decode(ImageInput.of(resource("pattern3x2-orientation3.webp"))), 3);
  }

  /** A minimal little-endian EXIF TIFF block holding only the orientation tag. */
  static byte[] exifTiff(int orientation) {
    ByteBuffer tiff = ByteBuffer.allocate(8 + 2 + 12 + 4);
    tiff.put(new byte[] {'I', 'I', 42, 0, 8, 0, 0, 0});
    tiff.put(new byte[] {1, 0});
    tiff.put(new byte[] {0x12, 0x01, 3, 0, 1, 0, 0, 0, (byte) orientation, 0, 0, 0});
    tiff.put(new byte[] {0, 0, 0, 0});
    return tiff.array();
  }

  /** Inserts an eXIf chunk after IHDR. */
  static byte[] pngWithExif(byte[] png, int orientation) {
    byte[] exif = ImageDecoderTest.chunk("eXIf", exifTiff(orientation));
    int afterIhdr = 8 + 25;
    byte[] out = new byte[png.length + exif.length];
    System.arraycopy(png, 0, out, 0, afterIhdr);
    System.arraycopy(exif, 0, out, afterIhdr, exif.length);
    System.arraycopy(png, afterIhdr, out, afterIhdr + exif.length, png.length - afterIhdr);
    return out;
  }

  /** An uncompressed 3x2 RGB TIFF of the pattern with an orientation tag. */
  static byte[] tiff(int orientation) {
    int entries = 10;
    int bitsAt = 8 + 2 + entries * 12 + 4;
    int dataAt = bitsAt + 6;
    ByteBuffer b = ByteBuffer.allocate(dataAt + 18).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {'I', 'I', 42, 0}).putInt(8).putShort((short) entries);
    short shortType = 3;
    short longType = 4;
    entry(b, 256, shortType, 1, 3);
    entry(b, 257, shortType, 1, 2);
    entry(b, 258, shortType, 3, bitsAt);
    entry(b, 259, shortType, 1, 1);
    entry(b, 262, shortType, 1, 2);
    entry(b, 273, longType, 1, dataAt);
    entry(b, 274, shortType, 1, orientation);
    entry(b, 277, shortType, 1, 3);
    entry(b, 278, shortType, 1, 2);
    entry(b, 279, longType, 1, 18);
    b.putInt(0);
    b.putShort((short) 8).putShort((short) 8).putShort((short) 8);
    for (int c : PATTERN) {
      b.put((byte) (c >> 16)).put((byte) (c >> 8)).put((byte) c);
    }
    return b.array();
  }

  private static void entry(ByteBuffer b, int tag, short type, int count, int value) {
    b.putShort((short) tag).putShort(type).putInt(count);
    if (type == 3 && count == 1) {
      b.putShort((short) value).putShort((short) 0);
    } else {
      b.putInt(value);
    }
  }

  /** A BITMAPINFOHEADER DIB as ICO stores it: 24-bit bottom-up XOR bitmap, then a 1-bit AND mask. */
  static byte[] dib24(int[] rgbRowMajor, int w, int h) {
    int xorRow = (w * 3 + 3) / 4 * 4;
    int andRow = ((w + 31) / 32) * 4;
    ByteBuffer b = ByteBuffer.allocate(40 + xorRow * h + andRow * h).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(40).putInt(w).putInt(2 * h).putShort((short) 1).putShort((short) 24).putInt(0).putInt(0)
        .putInt(0).putInt(0).putInt(0).putInt(0);
    for (int y = h - 1; y >= 0; y--) {
      int start = b.position();
      for (int x = 0; x < w; x++) {
        int c = rgbRowMajor[y * w + x];
        b.put((byte) c).put((byte) (c >> 8)).put((byte) (c >> 16));
      }
      b.position(start + xorRow);
    }
    return b.array(); // AND mask rows are zero: opaque
  }

  static byte[] ico(byte[][] entries) {
    int size = 6 + 16 * entries.length;
    for (byte[] e : entries) {
      size += e.length;
    }
    ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    b.putShort((short) 0).putShort((short) 1).putShort((short) entries.length);
    int offset = 6 + 16 * entries.length;
    for (byte[] e : entries) {
      b.put((byte) 0).put((byte) 0).put((byte) 0).put((byte) 0).putShort((short) 1).putShort((short) 24)
          .putInt(e.length).putInt(offset);
      offset += e.length;
    }
    for (byte[] e : entries) {
      b.put(e);
    }
    return b.array();
  }
}
