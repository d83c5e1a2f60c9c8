package io.github.vlm4j.vision;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Hostile encoded images, written byte by byte so that no binary needs to be committed. */
final class HostileImages {
  private HostileImages() {}

  /**
   * A greyscale progressive JPEG of {@code width x height} made of {@code scans} AC scans, each of
   * which codes every block as one end-of-band run: ~80 bytes per scan, yet each scan makes the
   * decoder visit every block of the image.
   */
  static byte[] manyScanJpeg(int width, int height, int scans) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(0xFF);
    out.write(0xD8);
    byte[] dqt = new byte[1 + 64];
    java.util.Arrays.fill(dqt, (byte) 1);
    dqt[0] = 0;
    segment(out, 0xDB, dqt);
    segment(out, 0xC2, new byte[] {8, (byte) (height >> 8), (byte) height, (byte) (width >> 8), (byte) width,
        1, 1, 0x11, 0});
    // AC table 0: the 15 end-of-band-run symbols EOB0..EOB14, 4-bit codes 0000..1110
    byte[] dht = new byte[1 + 16 + 15];
    dht[0] = 0x10;
    dht[1 + 3] = 15;
    for (int r = 0; r < 15; r++) {
      dht[17 + r] = (byte) (r << 4);
    }
    segment(out, 0xC4, dht);
    long blocks = (long) ((width + 7) / 8) * ((height + 7) / 8);
    byte[] scanData = eobRuns(blocks);
    for (int s = 0; s < scans; s++) {
      segment(out, 0xDA, new byte[] {1, 1, 0x00, 1, 63, 0x00});
      out.writeBytes(scanData);
    }
    out.write(0xFF);
    out.write(0xD9);
    return out.toByteArray();
  }

  private static byte[] eobRuns(long blocks) {
    BitWriter w = new BitWriter();
    long left = blocks;
    while (left > 0) {
      long run = Math.min(left, 32767);
      int r = 63 - Long.numberOfLeadingZeros(run);
      w.bits(r, 4);
      w.bits(run - (1L << r), r);
      left -= run;
    }
    return w.finish();
  }

  private static void segment(ByteArrayOutputStream out, int marker, byte[] payload) {
    out.write(0xFF);
    out.write(marker);
    out.write((payload.length + 2) >> 8);
    out.write(payload.length + 2);
    out.writeBytes(payload);
  }

  /** Huffman-coded bits, MSB first, with 0xFF byte stuffing and 1-bit padding. */
  private static final class BitWriter {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private int acc;
    private int n;

    void bits(long value, int count) {
      for (int i = count - 1; i >= 0; i--) {
        acc = (acc << 1) | (int) ((value >> i) & 1);
        if (++n == 8) {
          flushByte();
        }
      }
    }

    private void flushByte() {
      out.write(acc);
      if ((acc & 0xFF) == 0xFF) {
        out.write(0);
      }
      acc = 0;
      n = 0;
    }

    byte[] finish() {
      while (n != 0) {
        bits(1, 1);
      }
      return out.toByteArray();
    }
  }

  /** A GIF87a of {@code width x height} with a 2-colour palette and an image of one LZW clear code. */
  static byte[] tinyGifDeclaring(int width, int height) {
    ByteBuffer b = ByteBuffer.allocate(64).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    b.put("GIF87a".getBytes(StandardCharsets.US_ASCII));
    b.putShort((short) width).putShort((short) height).put((byte) 0x80).put((byte) 0).put((byte) 0);
    b.put(new byte[] {0, 0, 0, (byte) 255, (byte) 255, (byte) 255});
    b.put((byte) 0x2C).putShort((short) 0).putShort((short) 0).putShort((short) width).putShort((short) height)
        .put((byte) 0);
    b.put((byte) 2).put((byte) 2).put((byte) 0x4C).put((byte) 0x01).put((byte) 0).put((byte) 0x3B);
    byte[] a = new byte[b.position()];
    b.flip();
    b.get(a);
    return a;
  }
}
