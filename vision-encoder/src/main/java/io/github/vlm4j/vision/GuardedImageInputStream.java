package io.github.vlm4j.vision;

import javax.imageio.stream.ImageInputStreamImpl;

/**
 * An {@link javax.imageio.stream.ImageInputStream} over a byte array that polls a {@link
 * DecodeGuard} on every read and hands out at most {@code chunk} bytes per read, so that a reader
 * (including the JDK's native JPEG decoder, which pulls its input through such reads) returns to
 * the guard often and can be stopped mid-decode. Used by one reader on one thread.
 */
final class GuardedImageInputStream extends ImageInputStreamImpl {
  private final byte[] data;
  private final int offset;
  private final int length;
  private final DecodeGuard guard;
  private final int chunk;
  private int singleReads;

  GuardedImageInputStream(byte[] data, int offset, int length, DecodeGuard guard, int chunk) {
    this.data = data;
    this.offset = offset;
    this.length = length;
    this.guard = guard;
    this.chunk = chunk;
  }

  @Override
  public int read() {
    if ((++singleReads & 0xFFF) == 0) {
      guard.check();
    }
    bitOffset = 0;
    if (streamPos >= length) {
      return -1;
    }
    return data[offset + (int) streamPos++] & 0xFF;
  }

  @Override
  public int read(byte[] b, int off, int len) {
    guard.check();
    if (off < 0 || len < 0 || off + len > b.length || off + len < 0) {
      throw new IndexOutOfBoundsException("off " + off + ", len " + len + ", array " + b.length);
    }
    bitOffset = 0;
    if (len == 0) {
      return 0;
    }
    if (streamPos >= length) {
      return -1;
    }
    int n = (int) Math.min(Math.min(len, chunk), length - streamPos);
    System.arraycopy(data, offset + (int) streamPos, b, off, n);
    streamPos += n;
    return n;
  }

  @Override
  public long length() {
    return length;
  }
}
