package io.github.vlm4j.examples.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.vlm4j.vision.PreprocessedImage;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code generate --dump DIR}: the pixel values the vision encoder gets, one NumPy {@code .npy}
 * file per frame ({@code image-<i>-frame-<j>.npy}, little-endian float32, shape {@code (3, H, W)})
 * and {@code pixels.json} describing each image (frames, frame height and width, tile grid, files).
 */
final class PixelDump {
  /** The JSON index written next to the frames. */
  static final String INDEX = "pixels.json";

  private PixelDump() {}

  /**
   * @param dir created if missing
   * @param images the model's preprocessed images, in prompt order
   * @return the index file
   * @throws IOException if a file cannot be written
   */
  static Path write(Path dir, List<PreprocessedImage> images) throws IOException {
    Files.createDirectories(dir);
    ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    ObjectNode root = mapper.createObjectNode();
    root.put("dtype", "<f4").put("layout", "one file per frame, shape (3, height, width): channels RGB, then rows");
    ArrayNode list = root.putArray("images");
    for (int i = 0; i < images.size(); i++) {
      PreprocessedImage img = images.get(i);
      ObjectNode o = list.addObject();
      o.put("index", i).put("frames", img.frames()).put("height", img.height()).put("width", img.width())
          .put("tileRows", img.rows()).put("tileCols", img.cols());
      ArrayNode files = o.putArray("files");
      int frameFloats = 3 * img.height() * img.width();
      for (int j = 0; j < img.frames(); j++) {
        String name = "image-" + i + "-frame-" + j + ".npy";
        writeNpy(dir.resolve(name), img.pixels(), j * frameFloats, new int[] {3, img.height(), img.width()});
        files.add(name);
      }
    }
    Path index = dir.resolve(INDEX);
    mapper.writeValue(index.toFile(), root);
    return index;
  }

  /**
   * Writes a C-order little-endian float32 array in NumPy's format version 1.0: the magic string
   * {@code \x93NUMPY}, version bytes 1 and 0, a little-endian uint16 header length, and an ASCII
   * Python dict literal padded with spaces and ended by {@code \n} so that the data starts at a
   * multiple of 64 bytes.
   *
   * @param file the file
   * @param values source floats
   * @param offset index of the first value to write
   * @param shape the array's shape; the product of its entries is the number of values written
   * @throws IOException if the file cannot be written
   */
  static void writeNpy(Path file, float[] values, int offset, int[] shape) throws IOException {
    long count = 1;
    StringBuilder dims = new StringBuilder();
    for (int d : shape) {
      count *= d;
      dims.append(d).append(", ");
    }
    String shapeText = shape.length == 1 ? "(" + shape[0] + ",)" : "(" + dims.substring(0, dims.length() - 2) + ")";
    String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shapeText + ", }";
    int prefix = 6 + 2 + 2; // magic, version, header length
    int total = prefix + dict.length() + 1;
    int padded = (total + 63) / 64 * 64;
    String header = dict + " ".repeat(padded - total) + "\n";
    ByteBuffer head = ByteBuffer.allocate(prefix).order(ByteOrder.LITTLE_ENDIAN);
    head.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0)
        .putShort((short) header.length());
    ByteBuffer data = ByteBuffer.allocate(Math.toIntExact(count * Float.BYTES)).order(ByteOrder.LITTLE_ENDIAN);
    data.asFloatBuffer().put(values, offset, (int) count);
    try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file))) {
      out.write(head.array());
      out.write(header.getBytes(StandardCharsets.US_ASCII));
      out.write(data.array());
    }
  }
}
