package io.github.vlm4j.vision;

import com.twelvemonkeys.imageio.plugins.webp.WebPImageReaderSpi;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.VlmInputException.Reason;
import io.github.vlm4j.core.prompt.ImageInput;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.MultiPixelPackedSampleModel;
import java.awt.image.Raster;
import java.awt.image.SampleModel;
import java.awt.image.SinglePixelPackedSampleModel;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.event.IIOReadProgressListener;
import javax.imageio.event.IIOReadWarningListener;
import org.apache.commons.imaging.Imaging;
import org.apache.commons.imaging.bytesource.ByteSource;
import org.apache.commons.imaging.common.ImageMetadata;
import org.apache.commons.imaging.formats.ico.IcoImageParser;
import org.apache.commons.imaging.formats.tiff.TiffField;
import org.apache.commons.imaging.formats.tiff.TiffImageMetadata;
import org.apache.commons.imaging.formats.tiff.constants.TiffTagConstants;

/**
 * Decodes caller images to {@link RgbImage}, bounded in memory and CPU, cancellable.
 *
 * <h2>Formats</h2>
 *
 * The format is chosen from the magic bytes, never from a file extension. Supported (each decoded
 * by a test, {@code ImageFormatsTest}):
 *
 * <table>
 *   <caption>Supported formats</caption>
 *   <tr><th>Format</th><th>Decoder</th></tr>
 *   <tr><td>JPEG (baseline, progressive; grey, YCbCr)</td><td>JDK ImageIO</td></tr>
 *   <tr><td>PNG (all colour types, 1-16 bit, interlaced)</td><td>JDK ImageIO</td></tr>
 *   <tr><td>GIF (first frame)</td><td>JDK ImageIO</td></tr>
 *   <tr><td>BMP</td><td>JDK ImageIO</td></tr>
 *   <tr><td>TIFF</td><td>JDK ImageIO</td></tr>
 *   <tr><td>WebP (lossy, lossless, alpha)</td><td>TwelveMonkeys imageio-webp</td></tr>
 *   <tr><td>ICO (largest entry, BMP or PNG inside)</td><td>Commons Imaging / JDK PNG</td></tr>
 *   <tr><td>PNM (PBM, PGM, PPM)</td><td>Commons Imaging</td></tr>
 * </table>
 *
 * PSD, TGA and CMYK JPEG are refused as IMAGE_FORMAT_UNSUPPORTED. For the JDK formats the JDK's
 * own readers are selected explicitly (never a plugin that happens to be registered with ImageIO),
 * so pixels stay identical to Pillow's: stored samples, no gamma or ICC conversion.
 *
 * <h2>Bounds (all checked before pixel memory is allocated unless said otherwise)</h2>
 *
 * <ul>
 *   <li><b>Pixels</b>: width*height from the header at most {@link #maxPixels()} (default
 *       {@value #DEFAULT_MAX_PIXELS}, Pillow's {@code MAX_IMAGE_PIXELS}).
 *   <li><b>JPEG scans</b>: the start-of-scan markers are counted from the bytes; more than {@link
 *       Builder#maxJpegScans(int)} (default {@value #DEFAULT_MAX_JPEG_SCANS}) is IMAGE_TOO_LARGE.
 *       Real progressive JPEGs have about 10 (libjpeg's standard script: 10 for colour, 6 for
 *       grey); a hostile file with thousands of tiny scans would otherwise cost minutes of CPU
 *       (libjpeg-turbo has the same defence, {@code TJPARAM_SCANLIMIT} / {@code djpeg -maxscans};
 *       its fuzz targets set 500 scans for images of at most 1 MP; the cost of a scan grows with
 *       the image, and images here may have 89 MP, hence the lower default).
 *   <li><b>Provably truncated PNG</b>: fewer IDAT bytes than the declared scanlines need at
 *       deflate's maximum ratio (1032:1) is IMAGE_CORRUPT. <b>Provably truncated GIF</b>: fewer
 *       bytes than 3 bits per LZW code and at most 4096 pixels per code allow is IMAGE_CORRUPT.
 *       These are hard bounds of the codecs, not heuristics: a tiny file declaring many pixels can
 *       be legitimate (a flat 9000x9000 PNG is ~80 KB), so a ratio of encoded bytes to pixels
 *       alone is not a criterion; only what the codec cannot possibly expand to is refused.
 *   <li><b>Decode memory</b>: before decoding, the bytes the reader and the conversion will
 *       allocate are estimated as width*height times (the reader's bytes per pixel from its image
 *       type, doubled for TIFF strips and WebP's ARGB working buffer, plus 2 bytes per component
 *       for a progressive JPEG's coefficient buffer, plus 3 for the RGB result and 3 more if EXIF
 *       orientation is applied) plus 1 MiB, and reserved from a {@link DecodeBudget} shared by
 *       concurrent decodes (default {@link DecodeBudget#shared()}: a quarter of -Xmx). More than
 *       the whole budget is IMAGE_TOO_LARGE with the numbers; otherwise the decode waits (at most
 *       {@link Builder#maxBudgetWait(Duration)}, default 30 s, cancellable) until the bytes are
 *       free. The reservation is returned when {@code decode} returns; the returned image (3 bytes
 *       per pixel) is the caller's.
 *   <li><b>Decode time</b>: a decode that runs longer than {@link Builder#maxDecodeTime(Duration)}
 *       (default 30 s wall clock) is stopped and is IMAGE_TOO_LARGE.
 *   <li><b>Cancellation</b>: {@link #decode(ImageInput, BooleanSupplier)} polls the supplier on
 *       every read of the encoded stream (which hands out at most 256 bytes per read, so even the
 *       JDK's native JPEG decoder comes back often), in the reader's per-row progress callback
 *       (which aborts the reader) and in the conversion loops, and then throws {@link
 *       CancellationException}.
 *   <li><b>Files</b>: only regular files are read (see {@link ImageInput#readEncodedBytes()}): a
 *       missing file, a directory, a FIFO or a device is IMAGE_NOT_FOUND, a file over {@link
 *       ImageInput#MAX_ENCODED_BYTES} IMAGE_TOO_LARGE.
 *   <li><b>Errors</b>: every failure is a {@link VlmInputException} (or {@link
 *       CancellationException}); the budget prevents {@link OutOfMemoryError}, and as a last resort
 *       one thrown while this decode allocates is reported as IMAGE_TOO_LARGE (the memory it
 *       failed to get was its own, and is unreachable once the decode unwinds).
 * </ul>
 *
 * <p>Also: a reader warning (e.g. a truncated JPEG, which the JDK would pad with grey) is a corrupt
 * image; EXIF orientation (JPEG APP1, PNG eXIf, WebP EXIF, TIFF tag 274) is applied like Pillow's
 * {@code ImageOps.exif_transpose}; alpha is dropped without compositing and grey is replicated to
 * RGB, as transformers.js does.
 *
 * <p>Immutable and thread-safe (one reader per call); concurrent calls share the budget.
 */
public final class ImageDecoder {
  /** Pillow's {@code MAX_IMAGE_PIXELS}: 1024*1024*1024/4/3. */
  public static final long DEFAULT_MAX_PIXELS = 89_478_485L;
  /** Default limit on the scans of a JPEG. */
  public static final int DEFAULT_MAX_JPEG_SCANS = 100;
  /** Default bound on one decode's wall-clock time. */
  public static final Duration DEFAULT_MAX_DECODE_TIME = Duration.ofSeconds(30);
  /** Default bound on waiting for decode budget. */
  public static final Duration DEFAULT_MAX_BUDGET_WAIT = Duration.ofSeconds(30);

  /** Bytes handed out per stream read: how often a reader comes back to the cancellation check. */
  private static final int READ_CHUNK = 256;
  private static final long FIXED_OVERHEAD = 1L << 20;
  private static final BooleanSupplier NEVER = () -> false;

  static {
    ImageIO.setUseCache(false);
  }

  private final long maxPixels;
  private final int maxJpegScans;
  private final Duration maxDecodeTime;
  private final Duration maxBudgetWait;
  private final DecodeBudget budget;

  /** A decoder with the default bounds and the JVM-wide budget. */
  public ImageDecoder() {
    this(builder());
  }

  /**
   * A decoder with a pixel limit, the other default bounds and the JVM-wide budget.
   *
   * @param maxPixels largest accepted width*height; other bounds default
   */
  public ImageDecoder(long maxPixels) {
    this(builder().maxPixels(maxPixels));
  }

  private ImageDecoder(Builder b) {
    this.maxPixels = b.maxPixels;
    this.maxJpegScans = b.maxJpegScans;
    this.maxDecodeTime = b.maxDecodeTime;
    this.maxBudgetWait = b.maxBudgetWait;
    this.budget = b.budget;
  }

  /**
   * Starts a builder from the defaults.
   *
   * @return a builder with the defaults
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Returns the largest number of pixels this decoder accepts.
   *
   * @return the pixel budget
   */
  public long maxPixels() {
    return maxPixels;
  }

  /**
   * Returns the decode memory budget.
   *
   * @return the decode memory budget this decoder reserves from
   */
  public DecodeBudget budget() {
    return budget;
  }

  /**
   * Decodes without a cancellation flag (the time bound still applies).
   *
   * @param input the caller's image
   * @return the decoded RGB image
   * @throws VlmInputException IMAGE_EMPTY, IMAGE_NOT_FOUND, IMAGE_FORMAT_UNSUPPORTED, IMAGE_CORRUPT
   *     or IMAGE_TOO_LARGE
   */
  public RgbImage decode(ImageInput input) {
    return decode(input, NEVER);
  }

  /**
   * Decodes, polling {@code cancelled} inside decoding (see the class comment for where).
   *
   * @param input the caller's image
   * @param cancelled true once the request is cancelled or its owner closed; called from the
   *     decoding thread, must be cheap and thread-safe
   * @return the decoded RGB image
   * @throws VlmInputException IMAGE_EMPTY, IMAGE_NOT_FOUND, IMAGE_FORMAT_UNSUPPORTED, IMAGE_CORRUPT
   *     or IMAGE_TOO_LARGE
   * @throws CancellationException if {@code cancelled} turned true
   */
  public RgbImage decode(ImageInput input, BooleanSupplier cancelled) {
    Objects.requireNonNull(input, "input");
    Objects.requireNonNull(cancelled, "cancelled");
    DecodeGuard guard = new DecodeGuard(cancelled, maxDecodeTime, input.describe());
    guard.check();
    if (input.bufferedImage().isPresent()) {
      BufferedImage bi = input.bufferedImage().get();
      checkSize(bi.getWidth(), bi.getHeight(), input.describe());
      try (DecodeBudget.Reservation r = reserve((long) bi.getWidth() * bi.getHeight() * 3 + FIXED_OVERHEAD,
          input.describe(), guard)) {
        return toRgb(bi, input.describe(), guard);
      } catch (VlmInputException | CancellationException e) {
        throw e;
      } catch (OutOfMemoryError e) {
        throw outOfMemory(input.describe(), e);
      } catch (RuntimeException e) {
        throw new VlmInputException(Reason.IMAGE_CORRUPT,
            "image " + input.describe() + " cannot be converted to RGB: " + e.getMessage(), e);
      }
    }
    return decode(input.readEncodedBytes(), input.describe(), guard);
  }

  /**
   * Decodes an encoded image within this decoder's bounds.
   *
   * @param bytes encoded image
   * @param what description for messages
   * @return the decoded RGB image
   */
  public RgbImage decode(byte[] bytes, String what) {
    return decode(bytes, what, new DecodeGuard(NEVER, maxDecodeTime, what));
  }

  private RgbImage decode(byte[] bytes, String what, DecodeGuard guard) {
    if (bytes.length == 0) {
      throw new VlmInputException(Reason.IMAGE_EMPTY, "image " + what + " is empty (0 bytes)");
    }
    Format format = Format.sniff(bytes);
    if (format == Format.UNKNOWN) {
      throw new VlmInputException(Reason.IMAGE_FORMAT_UNSUPPORTED,
          "image " + what + " is not in a supported format (starts with " + hexHead(bytes)
              + "); supported: JPEG, PNG, GIF, BMP, TIFF, WebP, ICO, PNM");
    }
    try {
      int orientation = exifOrientation(bytes, format);
      return switch (format) {
        case ICO -> decodeIco(bytes, what, guard, orientation);
        case PNM -> decodeWithCommonsImaging(bytes, what, guard, orientation);
        default -> decodeWithImageIo(bytes, 0, bytes.length, format, what, guard, orientation);
      };
    } catch (VlmInputException | CancellationException e) {
      throw e;
    } catch (OutOfMemoryError e) {
      guard.rethrowIfTripped();
      throw outOfMemory(what, e);
    } catch (IOException | RuntimeException e) {
      guard.rethrowIfTripped();
      throw new VlmInputException(Reason.IMAGE_CORRUPT,
          format.name().toLowerCase(Locale.ROOT) + " image " + what + " is corrupt or truncated: " + e.getMessage(), e);
    }
  }

  private RgbImage decodeWithImageIo(byte[] bytes, int offset, int length, Format format, String what,
      DecodeGuard guard, int orientation) throws IOException {
    if (format == Format.JPEG) {
      int scans = ImageHeaders.countJpegScans(bytes, maxJpegScans);
      if (scans > maxJpegScans) {
        throw new VlmInputException(Reason.IMAGE_TOO_LARGE, "jpeg image " + what + " has more than " + maxJpegScans
            + " scans; real progressive JPEGs have about 10 (a file with many scans costs minutes of CPU to decode)");
      }
    }
    ImageReader reader = newReader(format, bytes, offset, length, what);
    try (GuardedImageInputStream in = new GuardedImageInputStream(bytes, offset, length, guard, READ_CHUNK)) {
      reader.setInput(in, true, true);
      int w = reader.getWidth(0);
      int h = reader.getHeight(0);
      checkSize(w, h, what);
      checkNotProvablyTruncated(bytes, offset, length, format, w, h, what);
      ImageTypeSpecifier raw = reader.getRawImageType(0);
      long perPixel = readerBytesPerPixel(raw) * formatFactor(format)
          + (format == Format.JPEG && isProgressiveJpeg(bytes) ? 2L * bands(raw) : 0)
          + 3 + (orientation > 1 ? 3 : 0);
      try (DecodeBudget.Reservation r = reserve((long) w * h * perPixel + FIXED_OVERHEAD, what, guard)) {
        StringBuilder warnings = new StringBuilder();
        reader.addIIOReadWarningListener(new IIOReadWarningListener() {
          @Override
          public void warningOccurred(ImageReader source, String warning) {
            warnings.append(warning).append("; ");
          }
        });
        reader.addIIOReadProgressListener(new AbortingProgressListener(guard));
        BufferedImage bi = reader.read(0);
        guard.rethrowIfTripped();
        if (warnings.length() > 0) {
          throw new VlmInputException(Reason.IMAGE_CORRUPT,
              format + " image " + what + " is damaged: " + warnings.substring(0, warnings.length() - 2));
        }
        return oriented(toRgb(bi, what, guard), orientation);
      }
    } finally {
      reader.dispose();
    }
  }

  /** The JDK's own reader for the JDK formats (whatever plugins are registered); TwelveMonkeys for WebP. */
  private static ImageReader newReader(Format format, byte[] bytes, int offset, int length, String what)
      throws IOException {
    if (format == Format.WEBP) {
      return new WebPImageReaderSpi().createReaderInstance();
    }
    String jdkName = switch (format) {
      case JPEG -> "jpeg";
      case PNG -> "png";
      case GIF -> "gif";
      case BMP -> "bmp";
      case TIFF -> "tiff";
      default -> throw new IllegalStateException("no ImageIO reader for " + format);
    };
    Iterator<ImageReader> readers = ImageIO.getImageReadersByFormatName(jdkName);
    while (readers.hasNext()) {
      ImageReader r = readers.next();
      if (r.getOriginatingProvider() != null
          && r.getOriginatingProvider().getClass().getName().startsWith("com.sun.imageio.plugins.")) {
        return r;
      }
      r.dispose();
    }
    throw new VlmInputException(Reason.IMAGE_FORMAT_UNSUPPORTED, "no JDK reader for the " + format + " image " + what);
  }

  /** ICO: the largest entry (then the deepest), as Pillow opens it; PNG entries through the PNG path. */
  private RgbImage decodeIco(byte[] bytes, String what, DecodeGuard guard, int orientation) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    if (bytes.length < 6 + 16) {
      throw new VlmInputException(Reason.IMAGE_CORRUPT, "ico image " + what + " is truncated (" + bytes.length + " bytes)");
    }
    int count = b.getShort(4) & 0xFFFF;
    long bestArea = -1;
    int bestBits = -1;
    int bestOffset = 0;
    int bestSize = 0;
    for (int k = 0; k < count && 6 + 16 * (k + 1) <= bytes.length; k++) {
      int e = 6 + 16 * k;
      long size = b.getInt(e + 8) & 0xFFFFFFFFL;
      long off = b.getInt(e + 12) & 0xFFFFFFFFL;
      if (off + size > bytes.length || size < 16) {
        continue;
      }
      long w;
      long h;
      int bits;
      if (ImageHeaders.startsWith(bytes, (int) off, Format.PNG_MAGIC)) {
        if (size < 33) {
          continue;
        }
        w = ByteBuffer.wrap(bytes, (int) off + 16, 4).getInt() & 0xFFFFFFFFL;
        h = ByteBuffer.wrap(bytes, (int) off + 20, 4).getInt() & 0xFFFFFFFFL;
        bits = 32;
      } else {
        w = Math.abs((long) b.getInt((int) off + 4));
        h = Math.abs((long) b.getInt((int) off + 8)) / 2; // XOR bitmap + AND mask
        bits = b.getShort((int) off + 14) & 0xFFFF;
      }
      checkSize(w, h, what);
      if (w * h > bestArea || (w * h == bestArea && bits > bestBits)) {
        bestArea = w * h;
        bestBits = bits;
        bestOffset = (int) off;
        bestSize = (int) size;
      }
    }
    if (bestArea < 0) {
      throw new VlmInputException(Reason.IMAGE_CORRUPT, "ico image " + what + " has no readable entry (" + count + " declared)");
    }
    if (ImageHeaders.startsWith(bytes, bestOffset, Format.PNG_MAGIC)) {
      return decodeWithImageIo(bytes, bestOffset, bestSize, Format.PNG, what, guard, orientation);
    }
    // a one-entry ICO holding just the chosen bitmap, so that only it is decoded
    ByteBuffer one = ByteBuffer.allocate(6 + 16 + bestSize).order(ByteOrder.LITTLE_ENDIAN);
    one.putShort((short) 0).putShort((short) 1).putShort((short) 1);
    int side = (int) Math.sqrt((double) bestArea);
    one.put((byte) (side >= 256 ? 0 : side)).put((byte) (side >= 256 ? 0 : side)).put((byte) 0).put((byte) 0)
        .putShort((short) 1).putShort((short) bestBits).putInt(bestSize).putInt(6 + 16);
    one.put(bytes, bestOffset, bestSize);
    try (DecodeBudget.Reservation r = reserve(bestArea * (8 + 3 + (orientation > 1 ? 3 : 0)) + FIXED_OVERHEAD, what, guard)) {
      guard.check();
      List<BufferedImage> images = new IcoImageParser().getAllBufferedImages(ByteSource.array(one.array()));
      guard.check();
      if (images.isEmpty()) {
        throw new VlmInputException(Reason.IMAGE_CORRUPT, "ico image " + what + " has no decodable entry");
      }
      return oriented(toRgb(images.get(0), what, guard), orientation);
    }
  }

  /** PNM: Commons Imaging, after the header's size is checked and the budget reserved. */
  private RgbImage decodeWithCommonsImaging(byte[] bytes, String what, DecodeGuard guard, int orientation)
      throws IOException {
    java.awt.Dimension d = Imaging.getImageSize(bytes);
    checkSize(d.width, d.height, what);
    try (DecodeBudget.Reservation r = reserve((long) d.width * d.height * (8 + 3 + (orientation > 1 ? 3 : 0))
        + FIXED_OVERHEAD, what, guard)) {
      guard.check();
      BufferedImage bi = Imaging.getBufferedImage(bytes);
      guard.check();
      return oriented(toRgb(bi, what, guard), orientation);
    }
  }

  private void checkNotProvablyTruncated(byte[] bytes, int offset, int length, Format format, long w, long h,
      String what) {
    if (format == Format.PNG && offset == 0) {
      long raw = ImageHeaders.pngRawBytes(bytes);
      long idat = ImageHeaders.pngIdatBytes(bytes);
      if (raw > 0 && idat * 1032 + 1032 < raw) {
        throw new VlmInputException(Reason.IMAGE_CORRUPT, "png image " + what + " declares " + w + "x" + h + " ("
            + raw + " bytes of scanlines) but holds " + idat + " compressed bytes, fewer than deflate can expand"
            + " to that (at most 1032:1): it is truncated");
      }
    }
    if (format == Format.GIF) {
      // every LZW code takes at least 3 bits and yields at most 4096 pixels
      long maxPixels = ((long) length * 8 / 3 + 1) * 4096;
      if (w * h > maxPixels) {
        throw new VlmInputException(Reason.IMAGE_CORRUPT, "gif image " + what + " declares " + w + "x" + h
            + " pixels but has only " + length + " bytes, fewer than LZW can expand to that: it is truncated");
      }
    }
  }

  private DecodeBudget.Reservation reserve(long bytes, String what, DecodeGuard guard) {
    return budget.reserve(bytes, what, maxBudgetWait, guard.cancelled());
  }

  private static VlmInputException outOfMemory(String what, OutOfMemoryError e) {
    return new VlmInputException(Reason.IMAGE_TOO_LARGE, "image " + what
        + " could not be decoded: the JVM ran out of memory (" + e.getMessage() + "); raise -Xmx or lower the decode budget", e);
  }

  private static long readerBytesPerPixel(ImageTypeSpecifier t) {
    if (t == null) {
      return 4;
    }
    SampleModel sm = t.getSampleModel();
    long elem = Math.max(1, DataBuffer.getDataTypeSize(sm.getDataType()) / 8);
    if (sm instanceof MultiPixelPackedSampleModel) {
      return 1;
    }
    if (sm instanceof SinglePixelPackedSampleModel) {
      return elem;
    }
    return elem * sm.getNumBands();
  }

  private static int bands(ImageTypeSpecifier t) {
    return t == null ? 4 : t.getSampleModel().getNumBands();
  }

  /** Working memory beyond the result raster: TIFF strip buffers, WebP's ARGB decode buffer. */
  private static long formatFactor(Format f) {
    return f == Format.TIFF || f == Format.WEBP ? 2 : 1;
  }

  private static boolean isProgressiveJpeg(byte[] b) {
    int i = 2;
    while (i + 3 < b.length && (b[i] & 0xFF) == 0xFF) {
      int m = b[i + 1] & 0xFF;
      if (m == 0xFF) {
        i++;
        continue;
      }
      if (m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE) {
        return true;
      }
      if (m == 0xDA || m == 0xD9 || (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC)) {
        return false;
      }
      i += 2 + (((b[i + 2] & 0xFF) << 8) | (b[i + 3] & 0xFF));
    }
    return false;
  }

  private void checkSize(long w, long h, String what) {
    if (w <= 0 || h <= 0) {
      throw new VlmInputException(Reason.IMAGE_EMPTY,
          "image " + what + " has size " + w + "x" + h + "; width and height must be positive");
    }
    if (w * h > maxPixels) {
      throw new VlmInputException(Reason.IMAGE_TOO_LARGE,
          "image " + what + " is " + w + "x" + h + " = " + w * h + " pixels; the limit is " + maxPixels
              + " (set a larger pixel budget on the model builder to accept it)");
    }
  }

  private static RgbImage oriented(RgbImage rgb, int orientation) {
    return orientation > 1 ? Orientation.apply(rgb, orientation) : rgb;
  }

  /** EXIF orientation 1..8 (1 if absent or unreadable) from the format's EXIF block. */
  static int exifOrientation(byte[] bytes, Format format) {
    byte[] tiff = ImageHeaders.exifTiff(bytes, format);
    if (tiff == null) {
      return 1;
    }
    try {
      ImageMetadata md = Imaging.getMetadata(tiff);
      TiffField f = md instanceof TiffImageMetadata t ? t.findField(TiffTagConstants.TIFF_TAG_ORIENTATION) : null;
      int o = f == null ? 1 : f.getIntValue();
      return o >= 1 && o <= 8 ? o : 1;
    } catch (IOException | RuntimeException e) {
      return 1; // unreadable metadata does not make the pixels unusable
    }
  }

  static RgbImage toRgb(BufferedImage bi, String what) {
    return toRgb(bi, what, new DecodeGuard(NEVER, DEFAULT_MAX_DECODE_TIME, what));
  }

  /**
   * Converts to 8-bit RGB from the raster's samples (not {@code getRGB}, which would colour-convert
   * grey images): grey replicated, alpha dropped, 16-bit reduced to the high byte, palettes looked up.
   */
  static RgbImage toRgb(BufferedImage bi, String what, DecodeGuard guard) {
    int w = bi.getWidth();
    int h = bi.getHeight();
    if (w <= 0 || h <= 0) {
      throw new VlmInputException(Reason.IMAGE_EMPTY, "image " + what + " has size " + w + "x" + h);
    }
    byte[] out = new byte[Math.multiplyExact(Math.multiplyExact(w, h), 3)];
    Raster raster = bi.getRaster();
    ColorModel cm = bi.getColorModel();
    if (cm instanceof IndexColorModel icm) {
      int[] row = new int[w];
      for (int y = 0; y < h; y++) {
        checkEvery64(guard, y);
        raster.getSamples(0, y, w, 1, 0, row);
        for (int x = 0; x < w; x++) {
          int i = (y * w + x) * 3;
          out[i] = (byte) icm.getRed(row[x]);
          out[i + 1] = (byte) icm.getGreen(row[x]);
          out[i + 2] = (byte) icm.getBlue(row[x]);
        }
      }
      return new RgbImage(w, h, out);
    }
    int bands = raster.getNumBands();
    int colorBands = cm.getNumColorComponents();
    int shift = switch (raster.getTransferType()) {
      case DataBuffer.TYPE_BYTE -> 0;
      case DataBuffer.TYPE_USHORT, DataBuffer.TYPE_SHORT -> 8;
      case DataBuffer.TYPE_INT -> raster.getSampleModel().getSampleSize(0) > 8 ? raster.getSampleModel().getSampleSize(0) - 8 : 0;
      default -> -1;
    };
    if (shift < 0 || bands < 1 || (colorBands != 1 && colorBands != 3)) {
      if (colorBands == 4) {
        throw new VlmInputException(Reason.IMAGE_FORMAT_UNSUPPORTED,
            "image " + what + " is CMYK; convert it to RGB first");
      }
      // Unusual layouts: fall back to the colour model's sRGB conversion.
      for (int y = 0; y < h; y++) {
        checkEvery64(guard, y);
        for (int x = 0; x < w; x++) {
          int argb = bi.getRGB(x, y);
          int i = (y * w + x) * 3;
          out[i] = (byte) (argb >> 16);
          out[i + 1] = (byte) (argb >> 8);
          out[i + 2] = (byte) argb;
        }
      }
      return new RgbImage(w, h, out);
    }
    int[] row = new int[w];
    for (int c = 0; c < 3; c++) {
      int band = colorBands == 1 ? 0 : c;
      for (int y = 0; y < h; y++) {
        checkEvery64(guard, y);
        raster.getSamples(0, y, w, 1, band, row);
        for (int x = 0; x < w; x++) {
          out[(y * w + x) * 3 + c] = (byte) (row[x] >> shift);
        }
      }
    }
    return new RgbImage(w, h, out);
  }

  private static void checkEvery64(DecodeGuard guard, int y) {
    if ((y & 63) == 0) {
      guard.check();
    }
  }

  private static String hexHead(byte[] b) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < Math.min(8, b.length); i++) {
      sb.append(String.format("%02x", b[i] & 0xFF));
    }
    return sb.toString();
  }

  /** Aborts the reader from its per-row progress callback once the guard trips. */
  private static final class AbortingProgressListener implements IIOReadProgressListener {
    private final DecodeGuard guard;

    AbortingProgressListener(DecodeGuard guard) {
      this.guard = guard;
    }

    @Override
    public void imageProgress(ImageReader source, float percentageDone) {
      if (guard.shouldStop()) {
        source.abort();
      }
    }

    @Override
    public void sequenceStarted(ImageReader source, int minIndex) {}

    @Override
    public void sequenceComplete(ImageReader source) {}

    @Override
    public void imageStarted(ImageReader source, int imageIndex) {}

    @Override
    public void imageComplete(ImageReader source) {}

    @Override
    public void thumbnailStarted(ImageReader source, int imageIndex, int thumbnailIndex) {}

    @Override
    public void thumbnailProgress(ImageReader source, float percentageDone) {}

    @Override
    public void thumbnailComplete(ImageReader source) {}

    @Override
    public void readAborted(ImageReader source) {}
  }

  /** Formats recognised from magic bytes. */
  enum Format {
    JPEG, PNG, GIF, BMP, TIFF, WEBP, ICO, PNM, UNKNOWN;

    static final byte[] PNG_MAGIC = {(byte) 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};

    static Format sniff(byte[] b) {
      if (starts(b, 0xFF, 0xD8, 0xFF)) {
        return JPEG;
      }
      if (ImageHeaders.startsWith(b, 0, PNG_MAGIC)) {
        return PNG;
      }
      if (starts(b, 'G', 'I', 'F', '8')) {
        return GIF;
      }
      if (starts(b, 'B', 'M')) {
        return BMP;
      }
      if (starts(b, 'I', 'I', 42, 0) || starts(b, 'M', 'M', 0, 42)) {
        return TIFF;
      }
      if (b.length >= 12 && starts(b, 'R', 'I', 'F', 'F') && b[8] == 'W' && b[9] == 'E' && b[10] == 'B' && b[11] == 'P') {
        return WEBP;
      }
      if (starts(b, 0, 0, 1, 0) && b.length > 5 && (b[4] != 0 || b[5] != 0)) {
        return ICO;
      }
      if (b.length > 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6' && Character.isWhitespace(b[2])) {
        return PNM;
      }
      return UNKNOWN;
    }

    private static boolean starts(byte[] b, int... magic) {
      if (b.length < magic.length) {
        return false;
      }
      for (int i = 0; i < magic.length; i++) {
        if ((b[i] & 0xFF) != magic[i]) {
          return false;
        }
      }
      return true;
    }
  }

  /** Bounds of an {@link ImageDecoder}; not thread-safe. */
  public static final class Builder {
    private long maxPixels = DEFAULT_MAX_PIXELS;
    private int maxJpegScans = DEFAULT_MAX_JPEG_SCANS;
    private Duration maxDecodeTime = DEFAULT_MAX_DECODE_TIME;
    private Duration maxBudgetWait = DEFAULT_MAX_BUDGET_WAIT;
    private DecodeBudget budget = DecodeBudget.shared();

    private Builder() {}

    /**
     * Sets the largest number of pixels accepted.
     *
     * @param v largest accepted width*height, &gt; 0
     * @return this
     * @throws VlmInputException INVALID_OPTION if {@code v} is not positive
     */
    public Builder maxPixels(long v) {
      if (v <= 0) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "maxPixels must be positive, got " + v);
      }
      maxPixels = v;
      return this;
    }

    /**
     * Sets the most JPEG scans accepted.
     *
     * @param v most scans (SOS markers) accepted in a JPEG, &gt;= 1
     * @return this
     * @throws VlmInputException INVALID_OPTION if {@code v} is less than 1
     */
    public Builder maxJpegScans(int v) {
      if (v < 1) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "maxJpegScans must be at least 1, got " + v);
      }
      maxJpegScans = v;
      return this;
    }

    /**
     * Sets the longest time one decode may take.
     *
     * @param v longest wall-clock time of one decode, positive
     * @return this
     * @throws VlmInputException INVALID_OPTION if {@code v} is null, zero or negative
     */
    public Builder maxDecodeTime(Duration v) {
      if (v == null || v.isNegative() || v.isZero()) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "maxDecodeTime must be positive, got " + v);
      }
      maxDecodeTime = v;
      return this;
    }

    /**
     * Sets the longest wait for decode budget.
     *
     * @param v longest wait for decode budget held by other decodes, not negative
     * @return this
     * @throws VlmInputException INVALID_OPTION if {@code v} is null or negative
     */
    public Builder maxBudgetWait(Duration v) {
      if (v == null || v.isNegative()) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "maxBudgetWait must not be negative, got " + v);
      }
      maxBudgetWait = v;
      return this;
    }

    /**
     * Sets the decode memory budget.
     *
     * @param v the pool to reserve decode memory from (default {@link DecodeBudget#shared()})
     * @return this
     */
    public Builder budget(DecodeBudget v) {
      budget = Objects.requireNonNull(v, "budget");
      return this;
    }

    /**
     * Builds the decoder.
     *
     * @return the decoder
     */
    public ImageDecoder build() {
      return new ImageDecoder(this);
    }
  }
}
