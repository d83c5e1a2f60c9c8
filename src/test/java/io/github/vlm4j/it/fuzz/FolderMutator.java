package io.github.vlm4j.it.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

/**
 * Makes malformed copies of a committed model folder from a seed: each copy gets one to three
 * mutations (file deleted, truncated, bit-flipped, emptied, replaced by a directory, a FIFO or a
 * symbolic link out of the folder; a JSON field deleted, given a wrong type or a huge/negative/tiny
 * number; a graph truncated, flipped or swapped for another graph). Unmodified files are hard links
 * to the committed ones (copies if the file system refuses), and a mutated file is always written
 * as a new file, so the committed folder is never changed. Not thread-safe.
 */
final class FolderMutator {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  /** The kinds of mutation, for the histogram and FINDINGS.md. */
  enum Kind {
    DELETE, TRUNCATE, BIT_FLIP, EMPTY, DIRECTORY, FIFO, SYMLINK_OUT, JSON_DELETE_FIELD, JSON_WRONG_TYPE,
    JSON_HUGE_NUMBER, GRAPH_TRUNCATE, GRAPH_FLIP, GRAPH_SWAP
  }

  private final Random random;

  /** @param seed the seed; the same seed gives the same folders */
  FolderMutator(long seed) {
    this.random = new Random(seed);
  }

  /**
   * @param base a committed model folder
   * @param target a new directory for the copy (must not exist)
   * @return what was done, e.g. {@code JSON_HUGE_NUMBER config.json text_config.vocab_size=1e300}
   */
  List<String> mutate(Path base, Path target) throws IOException {
    linkTree(base, target);
    List<String> done = new ArrayList<>();
    int n = 1 + random.nextInt(3);
    for (int i = 0; i < n; i++) {
      done.add(mutateOnce(target));
    }
    return done;
  }

  private String mutateOnce(Path dir) throws IOException {
    List<String> files = files(dir);
    List<String> json = files.stream().filter(f -> f.endsWith(".json") && !f.contains("/")).toList();
    List<String> graphs = files.stream().filter(f -> f.endsWith(".onnx")).toList();
    Kind kind = Kind.values()[random.nextInt(Kind.values().length)];
    // JSON mutations are the most varied: give them more weight.
    if (random.nextInt(3) == 0) {
      kind = new Kind[] {Kind.JSON_DELETE_FIELD, Kind.JSON_WRONG_TYPE, Kind.JSON_HUGE_NUMBER}[random.nextInt(3)];
    }
    if (files.isEmpty()) {
      return "nothing left to mutate";
    }
    String any = files.get(random.nextInt(files.size()));
    String aJson = json.isEmpty() ? any : json.get(random.nextInt(json.size()));
    String aGraph = graphs.isEmpty() ? any : graphs.get(random.nextInt(graphs.size()));
    Path p;
    switch (kind) {
      case DELETE:
        Files.delete(dir.resolve(any));
        return kind + " " + any;
      case TRUNCATE: {
        byte[] b = Files.readAllBytes(dir.resolve(any));
        int len = b.length == 0 ? 0 : random.nextInt(b.length);
        rewrite(dir.resolve(any), java.util.Arrays.copyOf(b, len));
        return kind + " " + any + " to " + len + " of " + b.length + " bytes";
      }
      case BIT_FLIP:
        return kind + " " + any + " " + flip(dir.resolve(any), 1 + random.nextInt(8));
      case EMPTY:
        rewrite(dir.resolve(any), new byte[0]);
        return kind + " " + any;
      case DIRECTORY:
        p = dir.resolve(any);
        Files.delete(p);
        Files.createDirectories(p);
        return kind + " " + any;
      case FIFO:
        p = dir.resolve(aJson);
        Files.delete(p);
        try {
          Process mk = new ProcessBuilder("mkfifo", p.toString()).redirectErrorStream(true).start();
          mk.getInputStream().readAllBytes();
          if (mk.waitFor() != 0) {
            throw new IOException("mkfifo failed for " + p);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException(e);
        }
        return kind + " " + aJson;
      case SYMLINK_OUT: {
        p = dir.resolve(random.nextBoolean() ? aJson : aGraph);
        String rel = dir.relativize(p).toString();
        Files.delete(p);
        Path outside = Files.createTempFile(dir.getParent(), "outside-", ".json");
        Files.writeString(outside, "{\"outside\": true}");
        Files.createSymbolicLink(p, outside);
        return kind + " " + rel + " -> " + outside.getFileName();
      }
      case JSON_DELETE_FIELD:
      case JSON_WRONG_TYPE:
      case JSON_HUGE_NUMBER:
        return kind + " " + aJson + " " + mutateJson(dir.resolve(aJson), kind);
      case GRAPH_TRUNCATE: {
        byte[] b = Files.readAllBytes(dir.resolve(aGraph));
        int len = b.length == 0 ? 0 : random.nextInt(b.length);
        rewrite(dir.resolve(aGraph), java.util.Arrays.copyOf(b, len));
        return kind + " " + aGraph + " to " + len + " of " + b.length + " bytes";
      }
      case GRAPH_FLIP:
        return kind + " " + aGraph + " " + flip(dir.resolve(aGraph), 1 + random.nextInt(64));
      case GRAPH_SWAP: {
        String other = graphs.isEmpty() ? any : graphs.get(random.nextInt(graphs.size()));
        rewrite(dir.resolve(aGraph), Files.readAllBytes(dir.resolve(other)));
        return kind + " " + aGraph + " := " + other;
      }
      default:
        throw new IllegalStateException(kind.toString());
    }
  }

  private String flip(Path p, int count) throws IOException {
    byte[] b = Files.readAllBytes(p);
    if (b.length == 0) {
      return "(empty)";
    }
    StringBuilder where = new StringBuilder();
    for (int i = 0; i < count; i++) {
      int at = random.nextInt(b.length);
      int bit = random.nextInt(8);
      b[at] ^= (byte) (1 << bit);
      where.append(i == 0 ? "" : ",").append(at).append(':').append(bit);
    }
    rewrite(p, b);
    return "bits " + where;
  }

  private String mutateJson(Path p, Kind kind) throws IOException {
    JsonNode root;
    try {
      root = JSON.readTree(Files.readAllBytes(p));
    } catch (IOException e) {
      return flip(p, 1) + " (not JSON any more)";
    }
    if (root == null || !root.isContainerNode() || root.isEmpty()) {
      return "(no fields)";
    }
    List<String[]> paths = new ArrayList<>();
    collect(root, "", paths, 0);
    String[] chosen = paths.get(random.nextInt(paths.size()));
    String parentPath = chosen[0];
    String key = chosen[1];
    JsonNode parent = parentPath.isEmpty() ? root : root.at(parentPath);
    String change;
    if (kind == Kind.JSON_DELETE_FIELD) {
      if (parent instanceof ObjectNode o) {
        o.remove(key);
      } else {
        ((ArrayNode) parent).remove(Integer.parseInt(key));
      }
      change = "deleted";
    } else {
      JsonNode value = kind == Kind.JSON_WRONG_TYPE ? wrongType(child(parent, key)) : hugeNumber();
      if (parent instanceof ObjectNode o) {
        o.set(key, value);
      } else {
        ((ArrayNode) parent).set(Integer.parseInt(key), value);
      }
      change = "= " + abbreviate(value.toString());
    }
    rewrite(p, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
    return parentPath + "/" + key + " " + change;
  }

  private static JsonNode child(JsonNode parent, String key) {
    return parent.isObject() ? parent.get(key) : parent.get(Integer.parseInt(key));
  }

  /** Paths to fields, preferring the first two levels (tokenizer.json has thousands of vocab entries). */
  private void collect(JsonNode node, String path, List<String[]> out, int depth) {
    if (depth > 4) {
      return;
    }
    int added = 0;
    if (node.isObject()) {
      for (Iterator<String> it = node.fieldNames(); it.hasNext() && added < 64; added++) {
        String k = it.next();
        out.add(new String[] {path, k});
        collect(node.get(k), path + "/" + k.replace("~", "~0").replace("/", "~1"), out, depth + 1);
      }
    } else if (node.isArray()) {
      for (int i = 0; i < node.size() && i < 8; i++) {
        out.add(new String[] {path, Integer.toString(i)});
        collect(node.get(i), path + "/" + i, out, depth + 1);
      }
    }
  }

  private JsonNode wrongType(JsonNode was) {
    List<JsonNode> options = new ArrayList<>(List.of(NODES.nullNode(), NODES.textNode("not a number"),
        NODES.arrayNode(), NODES.objectNode(), NODES.booleanNode(true), NODES.numberNode(3.5),
        NODES.textNode("x".repeat(1 << 16))));
    if (was != null && was.isTextual()) {
      options.add(NODES.numberNode(7));
    }
    if (was != null && was.isNumber()) {
      options.add(NODES.textNode(was.asText()));
    }
    return options.get(random.nextInt(options.size()));
  }

  private JsonNode hugeNumber() {
    JsonNode[] options = {NODES.numberNode(1e300), NODES.numberNode(-1), NODES.numberNode(0),
        NODES.numberNode(2147483648L), NODES.numberNode(4294967297L), NODES.numberNode(Long.MAX_VALUE),
        NODES.numberNode(new BigInteger("123456789012345678901234567890")), NODES.numberNode(1e-300),
        NODES.numberNode(1_500_000_000), NODES.numberNode(100_000), NODES.numberNode(-2147483648),
        NODES.numberNode(Double.MIN_VALUE)};
    return options[random.nextInt(options.length)];
  }

  private static String abbreviate(String s) {
    return s.length() > 40 ? s.substring(0, 37) + "..." : s;
  }

  private static void rewrite(Path p, byte[] bytes) throws IOException {
    Files.deleteIfExists(p); // never write through a hard link into the committed folder
    Files.write(p, bytes);
  }

  private static List<String> files(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile).filter(f -> !Files.isSymbolicLink(f))
          .map(f -> dir.relativize(f).toString().replace('\\', '/'))
          .filter(f -> !f.startsWith("goldens")).sorted().toList();
    }
  }

  private static void linkTree(Path base, Path target) throws IOException {
    try (Stream<Path> s = Files.walk(base)) {
      for (Path src : (Iterable<Path>) s::iterator) {
        Path rel = base.relativize(src);
        if (rel.toString().startsWith("goldens")) {
          continue;
        }
        Path dst = target.resolve(rel.toString());
        if (Files.isDirectory(src)) {
          Files.createDirectories(dst);
        } else {
          try {
            Files.createLink(dst, src);
          } catch (IOException | UnsupportedOperationException e) {
            Files.copy(src, dst);
          }
        }
      }
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  /** @return a deterministic choice of builder dtype for a folder: mostly the default */
  String dtype() {
    int r = random.nextInt(10);
    return r < 8 ? "" : r == 8 ? "fp16" : "q8";
  }

  static String utf8(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }
}
