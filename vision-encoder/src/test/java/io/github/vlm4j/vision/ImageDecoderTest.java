package io.github.vlm4j.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.VlmInputException.Reason;
import io.github.vlm4j.core.prompt.ImageInput;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.zip.CRC32;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hostile and unusual inputs end in typed errors decided before pixel memory is allocated. */
class ImageDecoderTest {
  private final ImageDecoder decoder = new ImageDecoder();

  private static VlmInputException fails(Reason reason, ImageDecoder d, byte[] bytes) {
    VlmInputException e = assertThrows(VlmInputException.class, () -> d.decode(ImageInput.of(bytes)));
    assertEquals(reason, e.reason(), e.getMessage());
    return e;
  }

  static byte[] png(BufferedImage img) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(img, "png", out);
    return out.toByteArray();
  }

  static byte[] write(BufferedImage img, String format) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    if (!ImageIO.write(img, format, out)) {
      throw new IOException("no JDK writer for " + format);
    }
    return out.toByteArray();
  }

  /** A PNG with an RGB 8-bit IHDR of {@code w x h}, one IDAT chunk holding {@code idat}, and IEND. */
  static byte[] pngWithIdat(int w, int h, byte[] idat) {
    byte[] head = pngHeader(w, h);
    ByteBuffer b = ByteBuffer.allocate(head.length + 12 + idat.length + 12);
    b.put(head);
    b.put(chunk("IDAT", idat));
    b.put(chunk("IEND", new byte[0]));
    return b.array();
  }

  static byte[] chunk(String type, byte[] data) {
    ByteBuffer c = ByteBuffer.allocate(12 + data.length);
    byte[] t = type.getBytes(StandardCharsets.US_ASCII);
    c.putInt(data.length).put(t).put(data);
    CRC32 crc = new CRC32();
    crc.update(t);
    crc.update(data);
    c.putInt((int) crc.getValue());
    return c.array();
  }

  static byte[] jpeg(BufferedImage img) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(img, "jpg", out);
    return out.toByteArray();
  }

  static BufferedImage gradient(int w, int h, int type) {
    BufferedImage img = new BufferedImage(w, h, type);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        img.setRGB(x, y, 0xFF000000 | (x * 255 / w) << 16 | (y * 255 / h) << 8 | 0x40);
      }
    }
    return img;
  }

  /** A PNG signature and an IHDR chunk only: the header of an image nobody could decode. */
  static byte[] pngHeader(int w, int h) {
    ByteBuffer b = ByteBuffer.allocate(8 + 25);
    b.put(new byte[] {(byte) 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A});
    ByteBuffer ihdr = ByteBuffer.allocate(17);
    ihdr.put("IHDR".getBytes(StandardCharsets.US_ASCII)).putInt(w).putInt(h).put((byte) 8).put((byte) 2)
        .put((byte) 0).put((byte) 0).put((byte) 0);
    CRC32 crc = new CRC32();
    crc.update(ihdr.array());
    b.putInt(13).put(ihdr.array()).putInt((int) crc.getValue());
    return b.array();
  }

  @Test
  void emptyInputIsImageEmpty() {
    fails(Reason.IMAGE_EMPTY, decoder, new byte[0]);
  }

  @Test
  void htmlIsUnsupportedFormatWhateverTheFileName(@TempDir Path dir) throws IOException {
    Path p = dir.resolve("photo.png");
    Files.writeString(p, "<!doctype html><html><body>not an image</body></html>");
    VlmInputException e = assertThrows(VlmInputException.class, () -> decoder.decode(ImageInput.of(p)));
    assertEquals(Reason.IMAGE_FORMAT_UNSUPPORTED, e.reason());
    assertTrue(e.getMessage().contains("supported"), e.getMessage());
  }

  @Test
  void missingFileIsTyped(@TempDir Path dir) {
    VlmInputException e = assertThrows(VlmInputException.class, () -> decoder.decode(ImageInput.of(dir.resolve("none.png"))));
    assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
  }

  @Test
  void truncatedPngIsCorrupt() throws IOException {
    byte[] full = png(gradient(64, 48, BufferedImage.TYPE_INT_RGB));
    fails(Reason.IMAGE_CORRUPT, decoder, Arrays.copyOf(full, full.length / 2));
  }

  @Test
  void truncatedJpegIsCorruptNotHalfGrey() throws IOException {
    byte[] full = jpeg(gradient(96, 96, BufferedImage.TYPE_INT_RGB));
    fails(Reason.IMAGE_CORRUPT, decoder, Arrays.copyOf(full, full.length * 2 / 3));
  }

  @Test
  void hugeHeaderIsRejectedBeforeDecoding() {
    byte[] bomb = pngHeader(65535, 65535);
    VlmInputException e = assertTimeoutPreemptively(Duration.ofSeconds(2),
        () -> fails(Reason.IMAGE_TOO_LARGE, decoder, bomb));
    assertTrue(e.getMessage().contains("65535x65535"), e.getMessage());
    assertTrue(e.getMessage().contains(Long.toString(ImageDecoder.DEFAULT_MAX_PIXELS)), e.getMessage());
  }

  @Test
  void longThinHeaderIsRejected() {
    fails(Reason.IMAGE_TOO_LARGE, decoder, pngHeader(1, Integer.MAX_VALUE));
  }

  @Test
  void hugeJpegHeaderIsRejected() throws IOException {
    byte[] j = jpeg(gradient(16, 16, BufferedImage.TYPE_INT_RGB));
    for (int i = 0; i + 8 < j.length; i++) { // patch the SOF0 frame's height and width
      if ((j[i] & 0xFF) == 0xFF && (j[i + 1] & 0xFF) == 0xC0) {
        j[i + 5] = (byte) 0xFF;
        j[i + 6] = (byte) 0xDC;
        j[i + 7] = (byte) 0xFF;
        j[i + 8] = (byte) 0xDC;
        break;
      }
    }
    fails(Reason.IMAGE_TOO_LARGE, decoder, j);
  }

  @Test
  void zeroSizeIsTyped() {
    VlmInputException e = assertThrows(VlmInputException.class, () -> decoder.decode(ImageInput.of(pngHeader(0, 10))));
    assertTrue(e.reason() == Reason.IMAGE_EMPTY || e.reason() == Reason.IMAGE_CORRUPT, e.reason() + ": " + e.getMessage());
  }

  @Test
  void pixelBudgetIsConfigurable() throws IOException {
    byte[] ok = png(gradient(40, 30, BufferedImage.TYPE_INT_RGB));
    VlmInputException e = fails(Reason.IMAGE_TOO_LARGE, new ImageDecoder(1000), ok);
    assertTrue(e.getMessage().contains("40x30 = 1200 pixels; the limit is 1000"), e.getMessage());
    assertEquals(40, new ImageDecoder(1200).decode(ImageInput.of(ok)).width());
  }

  @Test
  void alphaIsDroppedWithoutCompositing() throws IOException {
    BufferedImage img = new BufferedImage(2, 1, BufferedImage.TYPE_INT_ARGB);
    img.setRGB(0, 0, 0x00FF8040);   // fully transparent, colour kept
    img.setRGB(1, 0, 0x80102030);
    for (byte[] data : new byte[][] {png(img)}) {
      RgbImage rgb = decoder.decode(ImageInput.of(data));
      assertEquals(0xFF, rgb.sample(0, 0, 0));
      assertEquals(0x80, rgb.sample(0, 0, 1));
      assertEquals(0x40, rgb.sample(0, 0, 2));
      assertEquals(0x10, rgb.sample(1, 0, 0));
    }
    RgbImage direct = decoder.decode(ImageInput.of(img));
    assertEquals(0xFF, direct.sample(0, 0, 0));
  }

  @Test
  void greyIsReplicatedUnchanged() throws IOException {
    BufferedImage g = new BufferedImage(3, 1, BufferedImage.TYPE_BYTE_GRAY);
    g.getRaster().setSample(0, 0, 0, 17);
    g.getRaster().setSample(1, 0, 0, 128);
    g.getRaster().setSample(2, 0, 0, 250);
    RgbImage rgb = decoder.decode(ImageInput.of(png(g)));
    for (int c = 0; c < 3; c++) {
      assertEquals(17, rgb.sample(0, 0, c));
      assertEquals(128, rgb.sample(1, 0, c));
      assertEquals(250, rgb.sample(2, 0, c));
    }
  }

  @Test
  void exifOrientationIsApplied() throws IOException {
    BufferedImage img = new BufferedImage(4, 2, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 2; y++) {
      for (int x = 0; x < 4; x++) {
        img.setRGB(x, y, x == 0 && y == 0 ? 0xFFFFFF : 0x000000);
      }
    }
    byte[] j = withExifOrientation(jpeg(img), 6);  // "rotate 90 clockwise to display"
    RgbImage rgb = decoder.decode(ImageInput.of(j));
    assertEquals(2, rgb.width());
    assertEquals(4, rgb.height());
    assertTrue(rgb.sample(1, 0, 0) > 200, "white corner moved to the top right");
    assertTrue(rgb.sample(0, 0, 0) < 60);
  }

  /** Inserts an APP1 EXIF segment holding only the orientation tag after the SOI marker. */
  static byte[] withExifOrientation(byte[] jpeg, int orientation) {
    ByteBuffer tiff = ByteBuffer.allocate(8 + 2 + 12 + 4);
    tiff.put(new byte[] {'I', 'I', 42, 0, 8, 0, 0, 0});
    tiff.put(new byte[] {1, 0});                             // one IFD entry
    tiff.put(new byte[] {0x12, 0x01, 3, 0, 1, 0, 0, 0, (byte) orientation, 0, 0, 0});
    tiff.put(new byte[] {0, 0, 0, 0});
    byte[] payload = new byte[6 + tiff.capacity()];
    System.arraycopy("Exif\0\0".getBytes(StandardCharsets.ISO_8859_1), 0, payload, 0, 6);
    System.arraycopy(tiff.array(), 0, payload, 6, tiff.capacity());
    int len = payload.length + 2;
    byte[] out = new byte[jpeg.length + 4 + payload.length];
    out[0] = (byte) 0xFF;
    out[1] = (byte) 0xD8;
    out[2] = (byte) 0xFF;
    out[3] = (byte) 0xE1;
    out[4] = (byte) (len >> 8);
    out[5] = (byte) len;
    System.arraycopy(payload, 0, out, 6, payload.length);
    System.arraycopy(jpeg, 2, out, 6 + payload.length, jpeg.length - 2);
    return out;
  }

  @Test
  void randomGarbageNeverEscapesAsAnUntypedException() {
    java.util.SplittableRandom r = new java.util.SplittableRandom(7);
    byte[][] seeds = {pngHeader(16, 16), new byte[] {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, (byte) 0xE0},
        "GIF89a".getBytes(StandardCharsets.US_ASCII), "BM".getBytes(StandardCharsets.US_ASCII),
        "RIFF\0\0\0\0WEBPVP8 ".getBytes(StandardCharsets.US_ASCII)};
    for (int i = 0; i < 400; i++) {
      byte[] seed = seeds[i % seeds.length];
      byte[] b = Arrays.copyOf(seed, seed.length + r.nextInt(200));
      for (int k = seed.length; k < b.length; k++) {
        b[k] = (byte) r.nextInt(256);
      }
      try {
        decoder.decode(ImageInput.of(b));
      } catch (VlmInputException expected) {
        // typed: fine
      }
    }
  }
}
