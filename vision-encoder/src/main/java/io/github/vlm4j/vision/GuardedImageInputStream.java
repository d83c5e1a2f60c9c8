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
  private int readsPastEnd;

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
      return pastEnd();
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
      return pastEnd();
    }
    int n = (int) Math.min(Math.min(len, chunk), length - streamPos);
    System.arraycopy(data, offset + (int) streamPos, b, off, n);
    streamPos += n;
    return n;
  }

  /**
   * End of data. A reader that keeps reading there (a truncated image whose header declares much
   * more data, e.g. a lossless WebP bit reader that swallows each EOF) is stopped: a corrupt image,
   * thrown unchecked so that a reader cannot swallow it as it would an {@code EOFException}.
   */
  private int pastEnd() {
    if (++readsPastEnd > MAX_READS_PAST_END) {
      throw new io.github.vlm4j.core.VlmInputException(io.github.vlm4j.core.VlmInputException.Reason.IMAGE_CORRUPT,
          "the image is truncated: its decoder read past the end of the " + length + " bytes "
              + MAX_READS_PAST_END + " times");
    }
    return -1;
  }

  /** Reads at the end a legitimate reader needs at most (it stops at the first few). */
  static final int MAX_READS_PAST_END = 1024;

  @Override
  public long length() {
    return length;
  }
}
