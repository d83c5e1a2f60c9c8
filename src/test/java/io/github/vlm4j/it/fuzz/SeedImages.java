package io.github.vlm4j.it.fuzz;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;

/**
 * Tiny seed images in every format the decoder lists, made in code: PNG (RGB, grey, palette,
 * alpha), JPEG (baseline, progressive, with an EXIF orientation), GIF, BMP, TIFF, WebP (lossless
 * 1x1), ICO (embedded PNG and embedded BMP) and PNM.
 */
final class SeedImages {
  /** The smallest lossless WebP: 1x1 white (RIFF/WEBP/VP8L), 34 bytes. */
  static final byte[] WEBP_1X1 = Base64.getDecoder().decode("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==");

  private SeedImages() {}

  /** @return the seeds, a few hundred bytes each */
  static List<byte[]> all() {
    List<byte[]> out = new ArrayList<>();
    BufferedImage rgb = pattern(BufferedImage.TYPE_INT_RGB, 7, 5);
    out.add(write(rgb, "png"));
    out.add(write(pattern(BufferedImage.TYPE_BYTE_GRAY, 3, 9), "png"));
    out.add(write(pattern(BufferedImage.TYPE_BYTE_INDEXED, 4, 4), "png"));
    out.add(write(pattern(BufferedImage.TYPE_INT_ARGB, 5, 3), "png"));
    out.add(write(pattern(BufferedImage.TYPE_USHORT_GRAY, 2, 2), "png"));
    out.add(write(rgb, "jpg"));
    out.add(progressiveJpeg(pattern(BufferedImage.TYPE_INT_RGB, 16, 16)));
    out.add(withExifOrientation(write(pattern(BufferedImage.TYPE_INT_RGB, 6, 2), "jpg"), 6));
    out.add(write(pattern(BufferedImage.TYPE_BYTE_INDEXED, 6, 6), "gif"));
    out.add(write(rgb, "bmp"));
    out.add(write(rgb, "tiff"));
    out.add(WEBP_1X1.clone());
    out.add(ico(write(pattern(BufferedImage.TYPE_INT_ARGB, 4, 4), "png"), 4, 4));
    out.add(icoWithBmp(4, 4));
    out.add("P6\n3 2\n255\n".concat("\u0001\u0002\u0003".repeat(6)).getBytes(StandardCharsets.ISO_8859_1));
    return out;
  }

  static BufferedImage pattern(int type, int w, int h) {
    BufferedImage img = new BufferedImage(w, h, type);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        img.setRGB(x, y, 0xFF000000 | (x * 37 & 0xFF) << 16 | (y * 53 & 0xFF) << 8 | ((x + y) * 19 & 0xFF));
      }
    }
    return img;
  }

  static byte[] write(BufferedImage img, String format) {
    try {
      ByteArrayOutputStream bos = new ByteArrayOutputStream();
      if (!ImageIO.write(img, format, bos)) {
        throw new IllegalStateException("no JDK writer for " + format + " / type " + img.getType());
      }
      return bos.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static byte[] progressiveJpeg(BufferedImage img) {
    ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
    try {
      ByteArrayOutputStream bos = new ByteArrayOutputStream();
      try (ImageOutputStream ios = ImageIO.createImageOutputStream(bos)) {
        w.setOutput(ios);
        ImageWriteParam p = w.getDefaultWriteParam();
        p.setProgressiveMode(ImageWriteParam.MODE_DEFAULT);
        w.write(null, new IIOImage(img, null, null), p);
      }
      return bos.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      w.dispose();
    }
  }

  /** Inserts an APP1 Exif segment (big-endian TIFF, one IFD0 entry: Orientation) after SOI. */
  static byte[] withExifOrientation(byte[] jpeg, int orientation) {
    ByteBuffer tiff = ByteBuffer.allocate(8 + 2 + 12 + 4).order(ByteOrder.BIG_ENDIAN);
    tiff.put((byte) 'M').put((byte) 'M').putShort((short) 42).putInt(8);
    tiff.putShort((short) 1);
    tiff.putShort((short) 0x0112).putShort((short) 3).putInt(1).putShort((short) orientation).putShort((short) 0);
    tiff.putInt(0);
    byte[] exif = tiff.array();
    int segLen = 2 + 6 + exif.length;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(jpeg, 0, 2);
    out.write(0xFF);
    out.write(0xE1);
    out.write(segLen >> 8);
    out.write(segLen & 0xFF);
    out.writeBytes("Exif\0\0".getBytes(StandardCharsets.ISO_8859_1));
    out.writeBytes(exif);
    out.write(jpeg, 2, jpeg.length - 2);
    return out.toByteArray();
  }

  /** ICONDIR + one ICONDIRENTRY + the image data (PNG or a headerless BMP DIB). */
  static byte[] ico(byte[] data, int w, int h) {
    ByteBuffer b = ByteBuffer.allocate(6 + 16 + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putShort((short) 0).putShort((short) 1).putShort((short) 1);
    b.put((byte) w).put((byte) h).put((byte) 0).put((byte) 0).putShort((short) 1).putShort((short) 32);
    b.putInt(data.length).putInt(6 + 16);
    b.put(data);
    return b.array();
  }

  private static byte[] icoWithBmp(int w, int h) {
    int xorBytes = w * h * 4;
    int andRow = ((w + 31) / 32) * 4;
    ByteBuffer dib = ByteBuffer.allocate(40 + xorBytes + andRow * h).order(ByteOrder.LITTLE_ENDIAN);
    dib.putInt(40).putInt(w).putInt(2 * h).putShort((short) 1).putShort((short) 32).putInt(0)
        .putInt(xorBytes + andRow * h).putInt(0).putInt(0).putInt(0).putInt(0);
    for (int i = 0; i < w * h; i++) {
      dib.put((byte) (i * 7)).put((byte) (i * 13)).put((byte) (i * 29)).put((byte) 0xFF);
    }
    return ico(dib.array(), w, h);
  }
}
