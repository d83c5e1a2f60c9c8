package io.github.vlm4j.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.VlmInputException.Reason;
import io.github.vlm4j.core.prompt.ImageInput;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Image paths are read only if they name regular files; nothing can hang or exhaust the read. */
class RegularFilesOnlyTest {
  private final ImageDecoder decoder = new ImageDecoder();

  private VlmInputException refused(Path p) {
    return assertTimeoutPreemptively(Duration.ofSeconds(10),
        () -> assertThrows(VlmInputException.class, () -> decoder.decode(ImageInput.of(p))));
  }

  @Test
  void fifoIsRefusedWithoutBlocking(@TempDir Path dir) throws Exception {
    Path fifo = dir.resolve("image.png");
    Process mk;
    try {
      mk = new ProcessBuilder("mkfifo", fifo.toString()).redirectErrorStream(true).start();
    } catch (IOException e) {
      assumeTrue(false, "mkfifo is not available: " + e.getMessage());
      return;
    }
    assumeTrue(mk.waitFor(10, TimeUnit.SECONDS) && mk.exitValue() == 0, "mkfifo failed");
    VlmInputException e = refused(fifo);
    assertEquals(Reason.IMAGE_NOT_FOUND, e.reason(), e.getMessage());
    assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
  }

  @Test
  void deviceIsRefusedWithoutReadingIt() {
    Path zero = Path.of("/dev/zero");
    assumeTrue(Files.exists(zero), "/dev/zero does not exist on this system");
    VlmInputException e = refused(zero);
    assertEquals(Reason.IMAGE_NOT_FOUND, e.reason(), e.getMessage());
    assertTrue(e.getMessage().contains("special file"), e.getMessage());
  }

  @Test
  void symbolicLinkToADeviceIsRefused(@TempDir Path dir) throws IOException {
    Path zero = Path.of("/dev/zero");
    assumeTrue(Files.exists(zero), "/dev/zero does not exist on this system");
    Path link = Files.createSymbolicLink(dir.resolve("photo.jpg"), zero);
    assertEquals(Reason.IMAGE_NOT_FOUND, refused(link).reason());
  }

  @Test
  void symbolicLinkToARegularFileIsRead(@TempDir Path dir) throws IOException {
    Path file = Files.write(dir.resolve("real.png"), ImageDecoderTest.png(new BufferedImage(5, 4, BufferedImage.TYPE_INT_RGB)));
    Path link = Files.createSymbolicLink(dir.resolve("link.png"), file);
    assertEquals(5, decoder.decode(ImageInput.of(link)).width());
  }

  @Test
  void directoryIsRefused(@TempDir Path dir) {
    VlmInputException e = refused(dir);
    assertEquals(Reason.IMAGE_NOT_FOUND, e.reason(), e.getMessage());
    assertTrue(e.getMessage().contains("is a directory"), e.getMessage());
  }

  @Test
  void missingFileIsNotFound(@TempDir Path dir) {
    VlmInputException e = refused(dir.resolve("missing.png"));
    assertEquals(Reason.IMAGE_NOT_FOUND, e.reason(), e.getMessage());
    assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
  }

  @Test
  void bytesInputIsReturnedAsIs() {
    byte[] b = {1, 2, 3};
    assertTrue(ImageInput.of(b).readEncodedBytes() == b);
  }
}
