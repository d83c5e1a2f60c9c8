package io.github.vlm4j.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.VlmInputException.Reason;
import io.github.vlm4j.core.prompt.ImageInput;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Decoding is bounded in memory: per image from the header, and across concurrent decodes. */
class DecodeBudgetTest {

  @Test
  void tinyGifDeclaringHugeSizeIsRefusedAsTruncatedBeforeAllocating() {
    byte[] gif = HostileImages.tinyGifDeclaring(9000, 9000);
    assertTrue(gif.length < 40, gif.length + " bytes");
    VlmInputException e = assertThrows(VlmInputException.class, () -> new ImageDecoder().decode(ImageInput.of(gif)));
    assertEquals(Reason.IMAGE_CORRUPT, e.reason(), e.getMessage());
    assertTrue(e.getMessage().contains("9000x9000") && e.getMessage().contains("truncated"), e.getMessage());
  }

  @Test
  void smallGifWithSmallDeclaredSizeStillDecodes() throws IOException {
    BufferedImage img = ImageDecoderTest.gradient(40, 30, BufferedImage.TYPE_BYTE_INDEXED);
    assertEquals(40, new ImageDecoder().decode(ImageInput.of(ImageDecoderTest.write(img, "gif"))).width());
  }

  @Test
  void pngWithFewerBytesThanDeflateCanExpandIsTruncated() {
    // a valid IHDR declaring 20000x20000 RGB, one tiny IDAT
    byte[] png = ImageDecoderTest.pngWithIdat(20000, 4000, new byte[] {0x78, 0x01, 0x01, 0x00, 0x00, (byte) 0xFF, (byte) 0xFF});
    VlmInputException e = assertThrows(VlmInputException.class, () -> new ImageDecoder().decode(ImageInput.of(png)));
    assertEquals(Reason.IMAGE_CORRUPT, e.reason(), e.getMessage());
    assertTrue(e.getMessage().contains("deflate"), e.getMessage());
  }

  @Test
  void flatLargePngIsNotMistakenForTruncated() throws IOException {
    BufferedImage flat = new BufferedImage(3000, 3000, BufferedImage.TYPE_BYTE_GRAY);
    byte[] png = ImageDecoderTest.png(flat);
    assertTrue(png.length < 20_000, "highly compressed: " + png.length + " bytes");
    assertEquals(3000, new ImageDecoder().decode(ImageInput.of(png)).height());
  }

  @Test
  void imageLargerThanTheWholeBudgetIsRefusedWithTheNumbers() throws IOException {
    byte[] png = ImageDecoderTest.png(new BufferedImage(2000, 2000, BufferedImage.TYPE_INT_RGB));
    ImageDecoder small = ImageDecoder.builder().budget(new DecodeBudget(8L << 20)).build();
    VlmInputException e = assertThrows(VlmInputException.class, () -> small.decode(ImageInput.of(png)));
    assertEquals(Reason.IMAGE_TOO_LARGE, e.reason(), e.getMessage());
    // 2000*2000*(3 raster + 3 RGB) + 1 MiB = 23.9 MiB
    assertTrue(e.getMessage().contains("needs about 24 MiB but the decode budget is 8 MiB"), e.getMessage());
  }

  @Test
  void concurrentDecodesShareTheBudgetAndAllSucceed() throws Exception {
    byte[] png = ImageDecoderTest.png(ImageDecoderTest.gradient(1000, 1000, BufferedImage.TYPE_INT_RGB));
    long one = 1000L * 1000 * 6 + (1 << 20);
    DecodeBudget budget = new DecodeBudget(one * 2 + one / 2);
    ImageDecoder decoder = ImageDecoder.builder().budget(budget).build();
    int threads = 16;
    CyclicBarrier start = new CyclicBarrier(threads);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<String>> results = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        results.add(pool.submit(() -> {
          start.await();
          return decoder.decode(ImageInput.of(png)).contentHash();
        }));
      }
      String first = results.get(0).get(60, TimeUnit.SECONDS);
      for (Future<String> f : results) {
        assertEquals(first, f.get(60, TimeUnit.SECONDS));
      }
    } finally {
      pool.shutdownNow();
    }
    assertTrue(budget.peakReserved() <= budget.capacity(), budget.peakReserved() + " > " + budget.capacity());
    assertTrue(budget.peakReserved() >= one, "reservations were made: " + budget.peakReserved());
    assertEquals(0, budget.reserved(), "every reservation was returned");
  }

  @Test
  void waitingForBudgetIsBoundedAndCancellable() throws IOException {
    byte[] png = ImageDecoderTest.png(ImageDecoderTest.gradient(100, 100, BufferedImage.TYPE_INT_RGB));
    DecodeBudget budget = new DecodeBudget(4L << 20);
    try (DecodeBudget.Reservation held = budget.reserve(4L << 20, "held by the test", Duration.ZERO, () -> false)) {
      ImageDecoder waiting = ImageDecoder.builder().budget(budget).maxBudgetWait(Duration.ofMillis(200)).build();
      VlmInputException e = assertTimeoutPreemptively(Duration.ofSeconds(5),
          () -> assertThrows(VlmInputException.class, () -> waiting.decode(ImageInput.of(png))));
      assertEquals(Reason.IMAGE_TOO_LARGE, e.reason(), e.getMessage());
      assertTrue(e.getMessage().contains("longer than 200 ms"), e.getMessage());
      ImageDecoder patient = ImageDecoder.builder().budget(budget).maxBudgetWait(Duration.ofMinutes(5)).build();
      long until = System.nanoTime() + 200_000_000L;
      assertTimeoutPreemptively(Duration.ofSeconds(5), () -> assertThrows(CancellationException.class,
          () -> patient.decode(ImageInput.of(png), () -> System.nanoTime() > until)));
    }
    assertEquals(0, budget.reserved());
  }

  /**
   * The reproduction: 16 threads decoding GIF bombs (9000x9000, inside the pixel limit) in a
   * JVM with a 256 MiB heap. Before the fix this ended in OutOfMemoryError; now every decode ends
   * in a typed error (the bombs are sized to pass the truncation check, so the budget refuses them),
   * and 16 smaller bombs that fit the budget one at a time all decode.
   */
  @Test
  void sixteenGifBombsInASmallHeapNeverRunOutOfMemory() throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-XX:+UseSerialGC", "-cp",
        System.getProperty("java.class.path"), GifBombSoak.class.getName(), "16", "9000", "3500");
    pb.redirectErrorStream(true);
    Process p = pb.start();
    try {
      byte[] out = p.getInputStream().readAllBytes(); // ends when the child exits or is killed
      boolean exited = p.waitFor(90, TimeUnit.SECONDS);
      String text = new String(out, StandardCharsets.UTF_8);
      assertTrue(exited, "child did not finish: " + text);
      assertEquals(0, p.exitValue(), text);
      assertTrue(text.contains("side=9000") && text.contains("outcomes={IMAGE_TOO_LARGE=16} errors=0"), text);
      // 3500x3500 fits the budget once (~48 MiB of 64) but not 16 times: the decodes queue and all succeed
      assertTrue(text.contains("side=3500") && text.contains("outcomes={decoded=16} errors=0"), text);
    } finally {
      p.destroyForcibly();
    }
  }
}
