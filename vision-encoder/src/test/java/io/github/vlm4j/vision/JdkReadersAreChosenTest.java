package io.github.vlm4j.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.vlm4j.core.prompt.ImageInput;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.spi.IIORegistry;
import javax.imageio.spi.ImageReaderSpi;
import javax.imageio.stream.ImageInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * ImageIO is process-global: a plugin registered by any library (TwelveMonkeys, ...) can come first
 * in {@code ImageIO.getImageReaders}. The decoder still uses the JDK's readers for JPEG, PNG, GIF,
 * BMP and TIFF, whose pixels match Pillow's.
 */
@Isolated
class JdkReadersAreChosenTest {
  @Test
  void aForeignReaderRegisteredFirstIsNotUsed() throws IOException {
    byte[] png = ImageDecoderTest.png(ImageFormatsTest.pattern());
    byte[] jpeg = ImageDecoderTest.jpeg(ImageDecoderTest.gradient(32, 32, BufferedImage.TYPE_INT_RGB));
    String pngHash = new ImageDecoder().decode(ImageInput.of(png)).contentHash();
    String jpegHash = new ImageDecoder().decode(ImageInput.of(jpeg)).contentHash();
    IIORegistry registry = IIORegistry.getDefaultInstance();
    ForeignSpi foreign = new ForeignSpi();
    registry.registerServiceProvider(foreign, ImageReaderSpi.class);
    try {
      Iterator<ImageReaderSpi> spis = registry.getServiceProviders(ImageReaderSpi.class, true);
      while (spis.hasNext()) {
        ImageReaderSpi other = spis.next();
        if (other != foreign) {
          registry.setOrdering(ImageReaderSpi.class, foreign, other);
        }
      }
      ImageReader first = ImageIO.getImageReadersByFormatName("png").next();
      assertTrue(first.getOriginatingProvider() == foreign, "the foreign reader comes first in ImageIO");
      first.dispose();
      assertEquals(pngHash, new ImageDecoder().decode(ImageInput.of(png)).contentHash());
      assertEquals(jpegHash, new ImageDecoder().decode(ImageInput.of(jpeg)).contentHash());
    } finally {
      registry.deregisterServiceProvider(foreign, ImageReaderSpi.class);
    }
  }

  /** Claims every JDK format and returns a black image. */
  static final class ForeignSpi extends ImageReaderSpi {
    ForeignSpi() {
      super("test", "1", new String[] {"png", "jpeg", "gif", "bmp", "tiff", "PNG", "JPEG"}, null, null,
          ForeignReader.class.getName(), new Class<?>[] {ImageInputStream.class}, null, false, null, null, null,
          null, false, null, null, null, null);
    }

    @Override
    public boolean canDecodeInput(Object source) {
      return true;
    }

    @Override
    public ImageReader createReaderInstance(Object extension) {
      return new ForeignReader(this);
    }

    @Override
    public String getDescription(Locale locale) {
      return "foreign test reader";
    }
  }

  static final class ForeignReader extends ImageReader {
    ForeignReader(ImageReaderSpi spi) {
      super(spi);
    }

    @Override
    public int getNumImages(boolean allowSearch) {
      return 1;
    }

    @Override
    public int getWidth(int imageIndex) {
      return 3;
    }

    @Override
    public int getHeight(int imageIndex) {
      return 2;
    }

    @Override
    public Iterator<ImageTypeSpecifier> getImageTypes(int imageIndex) {
      return List.of(ImageTypeSpecifier.createFromBufferedImageType(BufferedImage.TYPE_INT_RGB)).iterator();
    }

    @Override
    public IIOMetadata getStreamMetadata() {
      return null;
    }

    @Override
    public IIOMetadata getImageMetadata(int imageIndex) {
      return null;
    }

    @Override
    public BufferedImage read(int imageIndex, ImageReadParam param) {
      return new BufferedImage(3, 2, BufferedImage.TYPE_INT_RGB);
    }
  }
}
