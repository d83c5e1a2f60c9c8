package io.github.vlm4j.vision;

import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ImageInput;
import java.awt.Dimension;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.util.Iterator;
import java.util.Locale;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.stream.ImageInputStream;
import org.apache.commons.imaging.Imaging;
import org.apache.commons.imaging.common.ImageMetadata;
import org.apache.commons.imaging.formats.jpeg.JpegImageMetadata;
import org.apache.commons.imaging.formats.tiff.TiffField;
import org.apache.commons.imaging.formats.tiff.constants.TiffTagConstants;

/**
 * Decodes caller images to {@link RgbImage} safely:
 *
 * <ul>
 *   <li>the format is chosen from the magic bytes, never from a file extension;
 *   <li>width and height are read from the header <em>before</em> any pixel memory is allocated and
 *       checked against a pixel budget (default {@value #DEFAULT_MAX_PIXELS}, Pillow's limit);
 *   <li>JPEG, PNG, GIF, BMP and TIFF are decoded by the JDK's readers, which return the stored
 *       samples (no gamma or ICC conversion, like Pillow and sharp); WebP, ICO, PNM, PSD, TGA and
 *       other formats by Apache Commons Imaging;
 *   <li>a reader warning (e.g. a truncated JPEG, which the JDK would otherwise pad with grey) is a
 *       corrupt image, not a partially decoded one;
 *   <li>EXIF orientation is applied, as transformers.js ({@code sharp().rotate()}) and
 *       transformers' {@code load_image} do; alpha is dropped without compositing and grey is
 *       replicated to RGB, as transformers.js does.
 * </ul>
 *
 * Every failure is a {@link VlmInputException}; no other exception escapes. Immutable and
 * thread-safe (one reader per call).
 */
public final class ImageDecoder {
  /** Pillow's {@code MAX_IMAGE_PIXELS}: 1024*1024*1024/4/3. */
  public static final long DEFAULT_MAX_PIXELS = 89_478_485L;

  static {
    ImageIO.setUseCache(false);
  }

  private final long maxPixels;

  /** A decoder with the default pixel budget. */
  public ImageDecoder() {
    this(DEFAULT_MAX_PIXELS);
  }

  /** @param maxPixels largest accepted width*height */
  public ImageDecoder(long maxPixels) {
    if (maxPixels <= 0) {
      throw new IllegalArgumentException("maxPixels must be positive, got " + maxPixels);
    }
    this.maxPixels = maxPixels;
  }

  /** @return the pixel budget */
  public long maxPixels() {
    return maxPixels;
  }

  /**
   * @param input the caller's image
   * @return the decoded RGB image
   * @throws VlmInputException IMAGE_EMPTY, IMAGE_FORMAT_UNSUPPORTED, IMAGE_CORRUPT or IMAGE_TOO_LARGE
   */
  public RgbImage decode(ImageInput input) {
    if (input.bufferedImage().isPresent()) {
      BufferedImage bi = input.bufferedImage().get();
      checkSize(bi.getWidth(), bi.getHeight(), input.describe());
      return toRgb(bi, input.describe());
    }
    byte[] bytes = input.encodedBytes().orElse(null);
    if (bytes == null) {
      var path = input.path().orElseThrow();
      try {
        long size = Files.size(path);
        if (size > ImageInput.MAX_ENCODED_BYTES) {
          throw new VlmInputException(VlmInputException.Reason.IMAGE_TOO_LARGE,
              path + " has " + size + " bytes; at most " + ImageInput.MAX_ENCODED_BYTES + " are accepted");
        }
        bytes = Files.readAllBytes(path);
      } catch (NoSuchFileException e) {
        throw new VlmInputException(VlmInputException.Reason.IMAGE_CORRUPT, "image file " + path + " does not exist", e);
      } catch (IOException e) {
        throw new VlmInputException(VlmInputException.Reason.IMAGE_CORRUPT, "cannot read image file " + path + ": " + e, e);
      }
    }
    return decode(bytes, input.describe());
  }

  /**
   * @param bytes encoded image
   * @param what description for messages
   * @return the decoded RGB image
   */
  public RgbImage decode(byte[] bytes, String what) {
    if (bytes.length == 0) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_EMPTY, "image " + what + " is empty (0 bytes)");
    }
    Format format = Format.sniff(bytes);
    if (format == Format.UNKNOWN) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_FORMAT_UNSUPPORTED,
          "image " + what + " is not in a supported format (starts with " + hexHead(bytes)
              + "); supported: JPEG, PNG, GIF, BMP, TIFF, WebP, ICO, PNM, PSD");
    }
    try {
      BufferedImage bi = format.jdk ? decodeWithJdk(bytes, format, what) : decodeWithCommonsImaging(bytes, what);
      RgbImage rgb = toRgb(bi, what);
      int orientation = exifOrientation(bytes, format);
      return orientation > 1 ? Orientation.apply(rgb, orientation) : rgb;
    } catch (VlmInputException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_CORRUPT,
          format.name().toLowerCase(Locale.ROOT) + " image " + what + " is corrupt or truncated: " + e.getMessage(), e);
    }
  }

  private BufferedImage decodeWithJdk(byte[] bytes, Format format, String what) throws IOException {
    try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
      Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
      if (!readers.hasNext()) {
        throw new VlmInputException(VlmInputException.Reason.IMAGE_FORMAT_UNSUPPORTED,
            "no reader for the " + format + " image " + what);
      }
      ImageReader reader = readers.next();
      try {
        reader.setInput(in, true, true);
        checkSize(reader.getWidth(0), reader.getHeight(0), what);
        StringBuilder warnings = new StringBuilder();
        reader.addIIOReadWarningListener(new IIOReadWarningListener() {
          @Override
          public void warningOccurred(ImageReader source, String warning) {
            warnings.append(warning).append("; ");
          }
        });
        BufferedImage bi = reader.read(0);
        if (warnings.length() > 0) {
          throw new VlmInputException(VlmInputException.Reason.IMAGE_CORRUPT,
              format + " image " + what + " is damaged: " + warnings.substring(0, warnings.length() - 2));
        }
        return bi;
      } finally {
        reader.dispose();
      }
    }
  }

  private BufferedImage decodeWithCommonsImaging(byte[] bytes, String what) throws IOException {
    Dimension d = Imaging.getImageSize(bytes);
    checkSize(d.width, d.height, what);
    return Imaging.getBufferedImage(bytes);
  }

  private void checkSize(long w, long h, String what) {
    if (w <= 0 || h <= 0) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_EMPTY,
          "image " + what + " has size " + w + "x" + h + "; width and height must be positive");
    }
    if (w * h > maxPixels) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_TOO_LARGE,
          "image " + what + " is " + w + "x" + h + " = " + w * h + " pixels; the limit is " + maxPixels
              + " (set a larger pixel budget on the model builder to accept it)");
    }
  }

  private static int exifOrientation(byte[] bytes, Format format) {
    if (format != Format.JPEG && format != Format.TIFF && format != Format.WEBP) {
      return 1;
    }
    try {
      ImageMetadata md = Imaging.getMetadata(bytes);
      TiffField f = md instanceof JpegImageMetadata j
          ? j.findExifValueWithExactMatch(TiffTagConstants.TIFF_TAG_ORIENTATION) : null;
      int o = f == null ? 1 : f.getIntValue();
      return o >= 1 && o <= 8 ? o : 1;
    } catch (IOException | RuntimeException e) {
      return 1; // unreadable metadata does not make the pixels unusable
    }
  }

  /**
   * Converts to 8-bit RGB from the raster's samples (not {@code getRGB}, which would colour-convert
   * grey images): grey replicated, alpha dropped, 16-bit reduced to the high byte, palettes looked up.
   */
  static RgbImage toRgb(BufferedImage bi, String what) {
    int w = bi.getWidth();
    int h = bi.getHeight();
    if (w <= 0 || h <= 0) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_EMPTY, "image " + what + " has size " + w + "x" + h);
    }
    byte[] out = new byte[Math.multiplyExact(Math.multiplyExact(w, h), 3)];
    Raster raster = bi.getRaster();
    ColorModel cm = bi.getColorModel();
    if (cm instanceof IndexColorModel icm) {
      int[] row = new int[w];
      for (int y = 0; y < h; y++) {
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
        throw new VlmInputException(VlmInputException.Reason.IMAGE_FORMAT_UNSUPPORTED,
            "image " + what + " is CMYK; convert it to RGB first");
      }
      // Unusual layouts: fall back to the colour model's sRGB conversion.
      for (int y = 0; y < h; y++) {
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
        raster.getSamples(0, y, w, 1, band, row);
        for (int x = 0; x < w; x++) {
          out[(y * w + x) * 3 + c] = (byte) (row[x] >> shift);
        }
      }
    }
    return new RgbImage(w, h, out);
  }

  private static String hexHead(byte[] b) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < Math.min(8, b.length); i++) {
      sb.append(String.format("%02x", b[i] & 0xFF));
    }
    return sb.toString();
  }

  /** Formats recognised from magic bytes; {@code jdk} marks those decoded by the JDK's readers. */
  enum Format {
    JPEG(true), PNG(true), GIF(true), BMP(true), TIFF(true), WEBP(false), OTHER(false), UNKNOWN(false);

    final boolean jdk;

    Format(boolean jdk) {
      this.jdk = jdk;
    }

    static Format sniff(byte[] b) {
      if (starts(b, 0xFF, 0xD8, 0xFF)) {
        return JPEG;
      }
      if (starts(b, 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A)) {
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
      if (starts(b, 0, 0, 1, 0) || (b.length > 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7') || starts(b, '8', 'B', 'P', 'S')) {
        return OTHER; // ICO, PNM, PSD: Commons Imaging
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
}
