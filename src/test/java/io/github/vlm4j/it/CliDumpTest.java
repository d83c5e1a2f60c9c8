package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.vision.PreprocessedImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code vlm4j generate --dump DIR}: the vision encoder's pixel values as NumPy files, exactly the library's. */
class CliDumpTest {
  static final Path MODEL = Fixtures.model("vlm4j-tiny-idefics3");

  /** A parsed {@code .npy} file (format version 1.0). */
  record Npy(String header, int[] shape, float[] values) {}

  /** Reads a .npy file as the NumPy format specification describes it, checking every fixed part. */
  static Npy readNpy(Path file) throws IOException {
    byte[] b = Files.readAllBytes(file);
    ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    assertEquals((byte) 0x93, buf.get(), "magic byte");
    byte[] magic = new byte[5];
    buf.get(magic);
    assertEquals("NUMPY", new String(magic, StandardCharsets.US_ASCII));
    assertEquals(1, buf.get(), "major version");
    assertEquals(0, buf.get(), "minor version");
    int headerLen = Short.toUnsignedInt(buf.getShort());
    assertEquals(0, (10 + headerLen) % 64, "the data starts at a multiple of 64 bytes");
    byte[] h = new byte[headerLen];
    buf.get(h);
    String header = new String(h, StandardCharsets.US_ASCII);
    assertTrue(header.endsWith("\n"), "the header ends with a newline");
    assertTrue(header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"), header);
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("'shape': \\(([0-9, ]*)\\)").matcher(header);
    assertTrue(m.find(), header);
    int[] shape = Arrays.stream(m.group(1).split(",")).map(String::strip).filter(s -> !s.isEmpty())
        .mapToInt(Integer::parseInt).toArray();
    int count = Arrays.stream(shape).reduce(1, (x, y) -> x * y);
    assertEquals((long) count * Float.BYTES, buf.remaining(), "data bytes");
    float[] values = new float[count];
    buf.asFloatBuffer().get(values);
    return new Npy(header, shape, values);
  }

  @Test
  void dumpWritesEachFrameAsNumpyFloat32WithTheLibrarysValues(@TempDir Path tmp) throws Exception {
    JsonNode c = null;
    for (JsonNode g : Fixtures.json(MODEL.resolve("goldens.json")).get("cases")) {
      if (g.get("name").asText().equals("two_images")) {
        c = g;
      }
    }
    List<Path> images = new ArrayList<>();
    c.get("images").forEach(i -> images.add(MODEL.resolve(i.asText())));
    for (boolean split : new boolean[] {true, false}) {
      Path dir = tmp.resolve(split ? "split" : "nosplit");
      List<String> args = new ArrayList<>(List.of("generate", "--model", MODEL.toString(), "--max-new-tokens", "2",
          "--prompt", CliTest.singleTurnPrompt(c), "--dump", dir.toString()));
      images.forEach(i -> args.addAll(List.of("--image", i.toString())));
      RequestOptions options = RequestOptions.DEFAULT;
      if (!split) {
        args.add("--no-image-splitting");
        options = options.withImageSplitting(false);
      }
      CliTest.Run r = CliTest.cli(args.toArray(String[]::new));
      assertEquals(0, r.exit(), r.err());
      List<PreprocessedImage> expected;
      try (VisionLanguageModel m = VisionLanguageModel.load(MODEL)) {
        expected = m.preprocessImages(Fixtures.messages(c.get("messages"), images), options);
      }
      JsonNode index = Fixtures.json(dir.resolve("pixels.json"));
      assertEquals(images.size(), index.get("images").size());
      for (int i = 0; i < expected.size(); i++) {
        PreprocessedImage e = expected.get(i);
        JsonNode img = index.get("images").get(i);
        assertEquals(e.frames(), img.get("frames").asInt());
        assertEquals(e.height(), img.get("height").asInt());
        assertEquals(e.width(), img.get("width").asInt());
        assertEquals(e.rows(), img.get("tileRows").asInt());
        assertEquals(e.cols(), img.get("tileCols").asInt());
        assertEquals(split, e.frames() > 1, "splitting decides the frame count");
        assertEquals(e.frames(), img.get("files").size());
        int frame = 3 * e.height() * e.width();
        for (int j = 0; j < e.frames(); j++) {
          String name = img.get("files").get(j).asText();
          assertEquals("image-" + i + "-frame-" + j + ".npy", name);
          Npy npy = readNpy(dir.resolve(name));
          assertArrayEquals(new int[] {3, e.height(), e.width()}, npy.shape(), npy.header());
          assertArrayEquals(Arrays.copyOfRange(e.pixels(), j * frame, (j + 1) * frame), npy.values(),
              name + " holds the library's pixel values");
        }
      }
      numpyAgrees(dir.resolve("image-0-frame-0.npy"), expected.get(0));
    }
  }

  /** Where NumPy is installed, it reads the file to the same shape and values (an independent reader). */
  static void numpyAgrees(Path npy, PreprocessedImage e) throws Exception {
    String script = "import sys, numpy as np; a = np.load(sys.argv[1]); "
        + "print(a.dtype.str, ','.join(map(str, a.shape)), repr(float(a.astype('float64').sum())))";
    Process p;
    try {
      p = new ProcessBuilder("python3", "-c", script, npy.toString()).redirectErrorStream(true).start();
    } catch (IOException noPython) {
      return;
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    if (p.exitValue() != 0 && out.contains("No module named")) {
      return; // no NumPy here: the Java reader above checked the format
    }
    assertEquals(0, p.exitValue(), out);
    String[] parts = out.split(" ");
    assertEquals("<f4", parts[0]);
    assertEquals("3," + e.height() + "," + e.width(), parts[1]);
    double sum = 0;
    for (int k = 0; k < 3 * e.height() * e.width(); k++) {
      sum += e.pixels()[k];
    }
    assertEquals(sum, Double.parseDouble(parts[2]), 1e-6 * Math.max(1, Math.abs(sum)));
  }
}
