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
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Decoding is bounded in CPU: a JPEG with thousands of scans is refused from its bytes, a decode
 * that runs too long is stopped, and a cancelled decode stops from inside the reader.
 */
class JpegScanAndCancellationTest {
  /** 8192x8192 grey, 1300 scans, ~160 KB: ~94 s of decoding (60 s CPU) before this fix. */
  private static final byte[] MANY_SCANS = HostileImages.manyScanJpeg(8192, 8192, 1300);
  private static byte[] largeProgressiveJpeg;
  private static byte[] largePng;

  @BeforeAll
  static void largeImages() throws IOException {
    BufferedImage img = new BufferedImage(3000, 2000, BufferedImage.TYPE_INT_RGB);
    SplittableRandom r = new SplittableRandom(3);
    for (int y = 0; y < img.getHeight(); y++) {
      for (int x = 0; x < img.getWidth(); x++) {
        img.setRGB(x, y, r.nextInt(1 << 24));
      }
    }
    ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (MemoryCacheImageOutputStream ios = new MemoryCacheImageOutputStream(out)) {
      w.setOutput(ios);
      ImageWriteParam p = w.getDefaultWriteParam();
      p.setProgressiveMode(ImageWriteParam.MODE_DEFAULT);
      w.write(null, new IIOImage(img, null, null), p);
    } finally {
      w.dispose();
    }
    largeProgressiveJpeg = out.toByteArray();
    largePng = ImageDecoderTest.png(img);
  }

  @Test
  void jpegWithThousandsOfScansIsRefusedFromItsBytes() {
    ImageDecoder decoder = new ImageDecoder();
    VlmInputException e = assertTimeoutPreemptively(Duration.ofSeconds(3),
        () -> assertThrows(VlmInputException.class, () -> decoder.decode(ImageInput.of(MANY_SCANS))));
    assertEquals(Reason.IMAGE_TOO_LARGE, e.reason(), e.getMessage());
    assertTrue(e.getMessage().contains("more than " + ImageDecoder.DEFAULT_MAX_JPEG_SCANS + " scans"), e.getMessage());
  }

  @Test
  void realProgressiveJpegIsWellUnderTheScanLimit() {
    int scans = ImageHeaders.countJpegScans(largeProgressiveJpeg, 1000);
    assertTrue(scans > 1 && scans <= 12, "JDK progressive JPEG has " + scans + " scans");
    assertEquals(3000, new ImageDecoder().decode(ImageInput.of(largeProgressiveJpeg)).width());
  }

  @Test
  void decodeTimeIsBoundedEvenAboveTheScanLimit() {
    ImageDecoder decoder = ImageDecoder.builder().maxJpegScans(100_000).maxDecodeTime(Duration.ofSeconds(1)).build();
    VlmInputException e = assertTimeoutPreemptively(Duration.ofSeconds(15),
        () -> assertThrows(VlmInputException.class, () -> decoder.decode(ImageInput.of(MANY_SCANS), () -> false)));
    assertEquals(Reason.IMAGE_TOO_LARGE, e.reason(), e.getMessage());
    assertTrue(e.getMessage().contains("took longer than the limit of 1000 ms"), e.getMessage());
  }

  @Test
  void cancellingStopsTheNativeJpegDecoderMidScan() {
    ImageDecoder decoder = ImageDecoder.builder().maxJpegScans(100_000).build();
    AtomicBoolean cancelled = new AtomicBoolean();
    Thread canceller = new Thread(() -> {
      try {
        Thread.sleep(300);
      } catch (InterruptedException e) {
        return;
      }
      cancelled.set(true);
    });
    canceller.start();
    assertTimeoutPreemptively(Duration.ofSeconds(10),
        () -> assertThrows(CancellationException.class, () -> decoder.decode(ImageInput.of(MANY_SCANS), cancelled::get)));
  }

  @Test
  void cancelledDecodeOfLargeLegitimateImagesStopsInsideDecoding() {
    ImageDecoder decoder = new ImageDecoder();
    for (byte[] image : new byte[][] {largeProgressiveJpeg, largePng}) {
      AtomicInteger polls = new AtomicInteger();
      // false for the first polls (so the reader is well inside the image), then cancelled
      assertTimeoutPreemptively(Duration.ofSeconds(10), () -> assertThrows(CancellationException.class,
          () -> decoder.decode(ImageInput.of(image), () -> polls.incrementAndGet() > 50)));
      assertTrue(polls.get() > 50, "the flag was polled during decoding, " + polls.get() + " times");
      assertTrue(polls.get() < 60, "decoding stopped soon after the flag turned, polls " + polls.get());
    }
  }

  @Test
  void alreadyCancelledDecodeDoesNothing() {
    assertThrows(CancellationException.class, () -> new ImageDecoder().decode(ImageInput.of(largePng), () -> true));
  }
}
