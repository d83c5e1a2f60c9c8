package io.github.vlm4j.vision;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Bounded walks over the container structure of encoded images (no pixel decoding): JPEG marker
 * segments, PNG chunks, RIFF chunks. Every walk is linear in the input and allocates at most the
 * slice it returns. Stateless and thread-safe.
 */
final class ImageHeaders {
  private static final byte[] EXIF_PREFIX = "Exif\0\0".getBytes(StandardCharsets.ISO_8859_1);

  private ImageHeaders() {}

  /**
   * Counts the start-of-scan (SOS) markers of a JPEG, walking the marker segments and skipping each
   * scan's entropy-coded data; stops counting once {@code stopAbove} is exceeded.
   *
   * @return the number of scans, or {@code stopAbove + 1} if there are more
   */
  static int countJpegScans(byte[] b, int stopAbove) {
    int scans = 0;
    int i = 2;
    while (i + 1 < b.length) {
      if ((b[i] & 0xFF) != 0xFF) {
        i++; // garbage between segments: libjpeg skips it with a warning
        continue;
      }
      int m = b[i + 1] & 0xFF;
      if (m == 0xFF) {
        i++; // fill byte
        continue;
      }
      if (m == 0xD9) {
        break; // EOI
      }
      if (m == 0x01 || (m >= 0xD0 && m <= 0xD8) || m == 0x00) {
        i += 2;
        continue;
      }
      if (i + 3 >= b.length) {
        break;
      }
      int len = ((b[i + 2] & 0xFF) << 8) | (b[i + 3] & 0xFF);
      i += 2 + len;
      if (m == 0xDA) {
        if (++scans > stopAbove) {
          return scans;
        }
        // entropy-coded data runs to the next marker that is neither a stuffed 0xFF00 nor a restart
        while (i + 1 < b.length) {
          if ((b[i] & 0xFF) == 0xFF) {
            int n = b[i + 1] & 0xFF;
            if (n != 0x00 && !(n >= 0xD0 && n <= 0xD7) && n != 0xFF) {
              break;
            }
          }
          i++;
        }
      }
    }
    return scans;
  }

  /**
   * @return the TIFF structure (starting "II*\0" or "MM\0*") of the image's EXIF block, or null:
   *     JPEG APP1 "Exif", PNG eXIf chunk, WebP EXIF chunk, or the whole file for TIFF
   */
  static byte[] exifTiff(byte[] b, ImageDecoder.Format format) {
    return switch (format) {
      case JPEG -> jpegExif(b);
      case PNG -> pngChunk(b, "eXIf");
      case WEBP -> stripExifPrefix(riffChunk(b, "EXIF"));
      case TIFF -> b;
      default -> null;
    };
  }

  private static byte[] jpegExif(byte[] b) {
    int i = 2;
    while (i + 3 < b.length && (b[i] & 0xFF) == 0xFF) {
      int m = b[i + 1] & 0xFF;
      if (m == 0xFF) {
        i++;
        continue;
      }
      if (m == 0xDA || m == 0xD9) {
        return null; // metadata precedes the first scan
      }
      int len = ((b[i + 2] & 0xFF) << 8) | (b[i + 3] & 0xFF);
      if (len < 2 || i + 2 + len > b.length) {
        return null;
      }
      if (m == 0xE1 && len - 2 > EXIF_PREFIX.length && startsWith(b, i + 4, EXIF_PREFIX)) {
        return Arrays.copyOfRange(b, i + 4 + EXIF_PREFIX.length, i + 2 + len);
      }
      i += 2 + len;
    }
    return null;
  }

  /** @return the data of the first PNG chunk of this type before IDAT ends, or null */
  static byte[] pngChunk(byte[] b, String type) {
    byte[] t = type.getBytes(StandardCharsets.US_ASCII);
    long i = 8;
    while (i + 8 <= b.length) {
      long len = readIntBe(b, (int) i) & 0xFFFFFFFFL;
      int at = (int) i + 4;
      if (i + 12 + len > b.length) {
        return null;
      }
      if (startsWith(b, at, t)) {
        return Arrays.copyOfRange(b, at + 4, at + 4 + (int) len);
      }
      if (startsWith(b, at, "IEND".getBytes(StandardCharsets.US_ASCII))) {
        return null;
      }
      i += 12 + len;
    }
    return null;
  }

  /** @return the data of the first RIFF chunk of this fourcc, or null */
  private static byte[] riffChunk(byte[] b, String fourcc) {
    byte[] t = fourcc.getBytes(StandardCharsets.US_ASCII);
    long i = 12;
    while (i + 8 <= b.length) {
      long len = (b[(int) i + 4] & 0xFFL) | (b[(int) i + 5] & 0xFFL) << 8 | (b[(int) i + 6] & 0xFFL) << 16
          | (b[(int) i + 7] & 0xFFL) << 24;
      if (i + 8 + len > b.length) {
        return null;
      }
      if (startsWith(b, (int) i, t)) {
        return Arrays.copyOfRange(b, (int) i + 8, (int) (i + 8 + len));
      }
      i += 8 + len + (len & 1);
    }
    return null;
  }

  private static byte[] stripExifPrefix(byte[] exif) {
    if (exif != null && exif.length > EXIF_PREFIX.length && startsWith(exif, 0, EXIF_PREFIX)) {
      return Arrays.copyOfRange(exif, EXIF_PREFIX.length, exif.length);
    }
    return exif;
  }

  /**
   * Bytes of the filtered scanlines a PNG's IHDR declares ({@code h * (1 + ceil(w * bitsPerPixel / 8))}),
   * or -1 if the header cannot be read.
   */
  static long pngRawBytes(byte[] b) {
    if (b.length < 33) {
      return -1;
    }
    long w = readIntBe(b, 16) & 0xFFFFFFFFL;
    long h = readIntBe(b, 20) & 0xFFFFFFFFL;
    int depth = b[24] & 0xFF;
    int channels = switch (b[25] & 0xFF) {
      case 0, 3 -> 1;
      case 2 -> 3;
      case 4 -> 2;
      case 6 -> 4;
      default -> 1;
    };
    return h * (1 + (w * depth * channels + 7) / 8);
  }

  /** @return the bytes of all IDAT chunk data (the compressed pixels) of a PNG */
  static long pngIdatBytes(byte[] b) {
    long total = 0;
    long i = 8;
    byte[] idat = "IDAT".getBytes(StandardCharsets.US_ASCII);
    while (i + 8 <= b.length) {
      long len = readIntBe(b, (int) i) & 0xFFFFFFFFL;
      if (startsWith(b, (int) i + 4, idat)) {
        total += Math.min(len, b.length - i - 8);
      }
      i += 12 + len;
    }
    return total;
  }

  private static int readIntBe(byte[] b, int i) {
    return (b[i] & 0xFF) << 24 | (b[i + 1] & 0xFF) << 16 | (b[i + 2] & 0xFF) << 8 | (b[i + 3] & 0xFF);
  }

  static boolean startsWith(byte[] b, int at, byte[] prefix) {
    if (at < 0 || at + prefix.length > b.length) {
      return false;
    }
    for (int k = 0; k < prefix.length; k++) {
      if (b[at + k] != prefix[k]) {
        return false;
      }
    }
    return true;
  }
}
