package io.github.vlm4j.core.onnx;

import io.github.vlm4j.core.ModelLoadException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * What an {@code .onnx} file declares about its weights, read straight from the protobuf wire format
 * without loading the graph: the main graph's initializers (name, element type, dims, and for
 * external data the location, offset and length). Used to report parameter counts and to refuse
 * external-data references that leave the model folder, point at missing files or run past a
 * file's end, before ONNX Runtime opens anything.
 *
 * @param path the graph file
 * @param initializers the main graph's initializers, in file order
 */
public record OnnxFileInfo(Path path, List<Initializer> initializers) {

  /**
   * One weight tensor.
   *
   * @param name initializer name
   * @param dataType ONNX element type code (1 float, 10 float16, 3 int8, ...)
   * @param dims shape
   * @param externalLocation file holding the data (relative to the graph), or null if inline
   * @param offset byte offset in that file (0 if unstated)
   * @param length byte length in that file (-1 if unstated)
   */
  public record Initializer(String name, int dataType, long[] dims, String externalLocation, long offset, long length) {
    /**
     * Returns the number of elements of this weight.
     *
     * @return number of elements
     */
    public long elements() {
      long n = 1;
      for (long d : dims) {
        n = Math.multiplyExact(n, Math.max(d, 0));
      }
      return n;
    }

    /**
     * Returns the size of one element of this weight.
     *
     * @return bytes per element of this type (0 if unknown)
     */
    public int elementBytes() {
      return switch (dataType) {
        case 1, 6, 12 -> 4;          // float, int32, uint32
        case 2, 3, 9 -> 1;           // uint8, int8, bool
        case 4, 5, 10, 16 -> 2;      // uint16, int16, float16, bfloat16
        case 7, 11, 13 -> 8;         // int64, double, uint64
        default -> 0;
      };
    }
  }

  /**
   * Returns the number of weight values in the file.
   *
   * @return total number of weight values
   */
  public long parameterCount() {
    return initializers.stream().mapToLong(Initializer::elements).sum();
  }

  /**
   * Returns the size of the weight values in the file.
   *
   * @return total bytes of the weight values
   */
  public long weightBytes() {
    return initializers.stream().mapToLong(i -> i.elements() * i.elementBytes()).sum();
  }

  /**
   * Reads the initializers of an {@code .onnx} file (memory-mapped; only metadata is decoded).
   *
   * @param file the graph
   * @return the info
   * @throws ModelLoadException RUNTIME if the file is not a readable ONNX protobuf
   */
  public static OnnxFileInfo read(Path file) throws ModelLoadException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      if (ch.size() > Integer.MAX_VALUE) {
        throw new ModelLoadException(ModelLoadException.Reason.RUNTIME,
            file + " is larger than 2 GB; ONNX protobuf files cannot be (weights belong in .onnx_data)");
      }
      MappedByteBuffer buf = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
      buf.order(ByteOrder.LITTLE_ENDIAN);
      List<Initializer> out = new ArrayList<>();
      Reader model = new Reader(buf, 0, buf.limit());
      while (model.more()) {
        int tag = model.tag();
        if (tag >>> 3 == 7 && (tag & 7) == 2) {        // ModelProto.graph
          Reader graph = model.sub();
          while (graph.more()) {
            int gt = graph.tag();
            if (gt >>> 3 == 5 && (gt & 7) == 2) {      // GraphProto.initializer
              out.add(tensor(graph.sub()));
            } else {
              graph.skip(gt);
            }
          }
        } else {
          model.skip(tag);
        }
      }
      return new OnnxFileInfo(file, List.copyOf(out));
    } catch (IOException | RuntimeException e) {
      throw new ModelLoadException(ModelLoadException.Reason.RUNTIME,
          "cannot read " + file + " as an ONNX model: " + e.getMessage(), e);
    }
  }

  private static Initializer tensor(Reader t) {
    List<Long> dims = new ArrayList<>();
    int type = 0;
    String name = "";
    String location = null;
    long offset = 0;
    long length = -1;
    while (t.more()) {
      int tag = t.tag();
      int field = tag >>> 3;
      int wire = tag & 7;
      if (field == 1 && wire == 0) {
        dims.add(t.varint());
      } else if (field == 1 && wire == 2) {              // packed dims
        Reader p = t.sub();
        while (p.more()) {
          dims.add(p.varint());
        }
      } else if (field == 2 && wire == 0) {
        type = (int) t.varint();
      } else if (field == 8 && wire == 2) {
        name = t.string();
      } else if (field == 13 && wire == 2) {             // external_data: StringStringEntryProto
        Reader e = t.sub();
        String key = null;
        String value = null;
        while (e.more()) {
          int et = e.tag();
          if (et >>> 3 == 1 && (et & 7) == 2) {
            key = e.string();
          } else if (et >>> 3 == 2 && (et & 7) == 2) {
            value = e.string();
          } else {
            e.skip(et);
          }
        }
        if ("location".equals(key)) {
          location = value == null ? "" : value;
        } else if ("offset".equals(key) && value != null) {
          offset = Long.parseLong(value.trim());
        } else if ("length".equals(key) && value != null) {
          length = Long.parseLong(value.trim());
        }
      } else {
        t.skip(tag);
      }
    }
    return new Initializer(name, type, dims.stream().mapToLong(Long::longValue).toArray(), location, offset, length);
  }

  /**
   * Checks every external-data reference: relative, inside {@code folder} (after resolving links),
   * an existing regular file, and {@code offset + length} within it.
   *
   * @param folder the model folder root
   * @throws ModelLoadException RUNTIME naming the tensor and the offending location
   */
  public void checkExternalData(Path folder) throws ModelLoadException {
    Path root;
    try {
      root = folder.toRealPath();
    } catch (IOException e) {
      throw new ModelLoadException(ModelLoadException.Reason.MISSING_FILE, "cannot resolve " + folder, e);
    }
    Path dir = path.toAbsolutePath().getParent();
    for (Initializer i : initializers) {
      String loc = i.externalLocation();
      if (loc == null) {
        continue;
      }
      String what = path.getFileName() + ": weight '" + i.name() + "' refers to external data '" + loc + "'";
      if (loc.isEmpty() || loc.startsWith("/") || loc.startsWith("\\") || loc.contains(":") || loc.contains("\\")) {
        throw new ModelLoadException(ModelLoadException.Reason.RUNTIME, what + ": only relative paths inside the model folder are allowed");
      }
      Path target = dir.resolve(loc).normalize();
      if (!target.startsWith(root)) {
        throw new ModelLoadException(ModelLoadException.Reason.RUNTIME, what + ", which leaves the model folder " + root);
      }
      if (!Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(target)) {
        throw new ModelLoadException(ModelLoadException.Reason.MISSING_FILE, what + ", which does not exist");
      }
      try {
        if (!target.toRealPath().startsWith(root)) {
          throw new ModelLoadException(ModelLoadException.Reason.RUNTIME,
              what + ", a link to " + target.toRealPath() + " outside the model folder");
        }
        long size = Files.size(target);
        long need = i.length() >= 0 ? i.length() : i.elements() * i.elementBytes();
        if (i.offset() < 0 || i.offset() > size || (need > 0 && i.offset() + need > size)) {
          throw new ModelLoadException(ModelLoadException.Reason.RUNTIME, what + " at offset " + i.offset()
              + " length " + need + ", beyond the end of the " + size + "-byte file");
        }
      } catch (IOException e) {
        throw new ModelLoadException(ModelLoadException.Reason.MISSING_FILE, what + ": " + e.getMessage(), e);
      }
    }
  }

  /** A cursor over a protobuf message in a buffer. */
  private static final class Reader {
    private final ByteBuffer buf;
    private int pos;
    private final int end;

    Reader(ByteBuffer buf, int start, int end) {
      this.buf = buf;
      this.pos = start;
      this.end = end;
    }

    boolean more() {
      return pos < end;
    }

    int tag() {
      return (int) varint();
    }

    long varint() {
      long v = 0;
      for (int shift = 0; shift < 64; shift += 7) {
        if (pos >= end) {
          throw new IllegalStateException("truncated varint");
        }
        byte b = buf.get(pos++);
        v |= (long) (b & 0x7F) << shift;
        if (b >= 0) {
          return v;
        }
      }
      throw new IllegalStateException("malformed varint");
    }

    Reader sub() {
      long len = varint();
      if (len < 0 || len > end - pos) {
        throw new IllegalStateException("length " + len + " runs past the end");
      }
      Reader r = new Reader(buf, pos, pos + (int) len);
      pos += (int) len;
      return r;
    }

    String string() {
      Reader r = sub();
      byte[] b = new byte[r.end - r.pos];
      buf.get(r.pos, b);
      return new String(b, StandardCharsets.UTF_8);
    }

    void skip(int tag) {
      switch (tag & 7) {
        case 0 -> varint();
        case 1 -> pos += 8;
        case 2 -> sub();
        case 5 -> pos += 4;
        default -> throw new IllegalStateException("unsupported wire type " + (tag & 7));
      }
      if (pos > end) {
        throw new IllegalStateException("field runs past the end");
      }
    }
  }
}
