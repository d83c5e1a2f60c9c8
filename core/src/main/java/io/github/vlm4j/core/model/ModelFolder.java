package io.github.vlm4j.core.model;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.vlm4j.core.ModelLoadException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Where a model's files come from: a directory (the usual case) or the classpath (models packaged in
 * a jar). File names are relative, '/'-separated, and may not leave the folder: {@code ..}
 * segments, absolute names and symbolic links pointing outside are rejected with {@link
 * ModelLoadException.Reason#FILE_OUTSIDE_FOLDER}, because names come from configs and manifests.
 *
 * <p>JSON files are parsed with bounds (see {@link #MAX_JSON_BYTES} and the constants next to it),
 * so a hostile config cannot exhaust memory or the stack; a file over a bound is MALFORMED_CONFIG.
 *
 * <p>Immutable and thread-safe.
 */
public abstract class ModelFolder {
  /**
   * Largest JSON file read: 128 MiB. The largest real configs are tokenizer.json files of about
   * 35 MB (Gemma's 262k-token vocabulary); every other config is a few KB.
   */
  public static final long MAX_JSON_BYTES = 128L << 20;
  /** Deepest JSON nesting accepted: 64 (real tokenizer.json files nest about 10 deep). */
  public static final int MAX_JSON_DEPTH = 64;
  /**
   * Longest JSON string accepted: 8 MiB (the longest real strings are chat templates of tens of KB
   * and Unigram normalizers' base64 {@code precompiled_charsmap} of a few hundred KB).
   */
  public static final int MAX_JSON_STRING = 8 << 20;
  /** Longest JSON number literal accepted, in characters: 64. */
  public static final int MAX_JSON_NUMBER = 64;

  private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder()
          .maxDocumentLength(MAX_JSON_BYTES)
          .maxNestingDepth(MAX_JSON_DEPTH)
          .maxStringLength(MAX_JSON_STRING)
          .maxNameLength(MAX_JSON_STRING)
          .maxNumberLength(MAX_JSON_NUMBER)
          .build())
      .build())
      .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  ModelFolder() {}

  /**
   * Opens a model directory on disk.
   *
   * @param dir a model directory
   * @return the folder
   * @throws ModelLoadException if {@code dir} does not exist or is not a directory
   */
  public static ModelFolder of(Path dir) throws ModelLoadException {
    Path abs = dir.toAbsolutePath().normalize();
    if (!Files.exists(abs)) {
      throw new ModelLoadException(
          ModelLoadException.Reason.MISSING_FILE, "model folder " + abs + " does not exist");
    }
    if (!Files.isDirectory(abs)) {
      throw new ModelLoadException(
          ModelLoadException.Reason.MISSING_FILE,
          "model folder " + abs + " is a file; expected a directory holding config.json");
    }
    try {
      return new DirectoryFolder(abs.toRealPath());
    } catch (IOException e) {
      throw new ModelLoadException(
          ModelLoadException.Reason.MISSING_FILE, "cannot read model folder " + abs + ": " + e, e);
    }
  }

  /**
   * Opens a model folder packaged as class-path resources.
   *
   * @param loader class loader holding the files
   * @param prefix resource prefix, e.g. {@code io/github/vlm4j/builtin/vlm4j-tiny-idefics3}
   * @return the folder
   */
  public static ModelFolder onClasspath(ClassLoader loader, String prefix) {
    return new ClasspathFolder(loader, prefix.endsWith("/") ? prefix : prefix + "/");
  }

  /**
   * Describes this folder for messages.
   *
   * @return the directory or {@code classpath:prefix}, for messages
   */
  public abstract String describe();

  /**
   * Tells whether a file exists in this folder.
   *
   * @param name relative file name
   * @return whether the file exists (as a regular file)
   * @throws ModelLoadException FILE_OUTSIDE_FOLDER if the name or a link leads outside the folder
   */
  public abstract boolean exists(String name) throws ModelLoadException;

  /**
   * Returns a file of this folder as a path, when the folder is on disk.
   *
   * @param name relative file name
   * @return the file as a path, if the folder is a directory
   * @throws ModelLoadException FILE_OUTSIDE_FOLDER if the name or a link leads outside the folder
   */
  public abstract Optional<Path> path(String name) throws ModelLoadException;

  /**
   * Reads a file of this folder, refusing one larger than a limit.
   *
   * @param name relative file name
   * @param maxBytes largest size accepted
   * @return the file's bytes
   * @throws ModelLoadException MISSING_FILE if the file is missing or unreadable, MALFORMED_CONFIG
   *     if it is larger than {@code maxBytes}, FILE_OUTSIDE_FOLDER if it lies outside the folder
   */
  public abstract byte[] readBytes(String name, long maxBytes) throws ModelLoadException;

  /**
   * Reads a file of this folder.
   *
   * @param name relative file name
   * @return the file's bytes (at most 2 GB)
   * @throws ModelLoadException MISSING_FILE if the file is missing or unreadable,
   *     FILE_OUTSIDE_FOLDER if it lies outside the folder
   */
  public byte[] readBytes(String name) throws ModelLoadException {
    return readBytes(name, Integer.MAX_VALUE - 8);
  }

  /**
   * Lists the files of a subfolder.
   *
   * @param subfolder a relative folder, e.g. {@code onnx}
   * @return the file names directly inside it (empty if unknown, e.g. on the classpath)
   * @throws ModelLoadException FILE_OUTSIDE_FOLDER if the name or a link leads outside the folder
   */
  public abstract List<String> list(String subfolder) throws ModelLoadException;

  /**
   * Reads a JSON file within the bounds of {@link #MAX_JSON_BYTES}, {@link #MAX_JSON_DEPTH}, {@link
   * #MAX_JSON_STRING} and {@link #MAX_JSON_NUMBER}.
   *
   * @param name relative file name
   * @return the parsed JSON
   * @throws ModelLoadException MISSING_FILE or MALFORMED_CONFIG, naming the file
   */
  public JsonNode readJson(String name) throws ModelLoadException {
    return parseJson(readBytes(name, MAX_JSON_BYTES), describe(name));
  }

  /**
   * Parses JSON bytes within the same bounds as {@link #readJson(String)}.
   *
   * @param bytes the file's content
   * @param source the file's name, for messages
   * @return the parsed JSON (never null or missing)
   * @throws ModelLoadException MALFORMED_CONFIG naming the file, line and column
   */
  public static JsonNode parseJson(byte[] bytes, String source) throws ModelLoadException {
    if (bytes.length > MAX_JSON_BYTES) {
      throw tooLarge(source, bytes.length);
    }
    try {
      JsonNode node = JSON.readTree(bytes);
      if (node == null || node.isMissingNode()) {
        throw new ModelLoadException(
            ModelLoadException.Reason.MALFORMED_CONFIG, source + " is empty; expected JSON");
      }
      if (!node.isObject()) {
        throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
            source + " must hold a JSON object, found " + node.getNodeType().toString().toLowerCase(java.util.Locale.ROOT));
      }
      return node;
    } catch (JsonProcessingException e) {
      var at = e.getLocation();
      throw new ModelLoadException(
          ModelLoadException.Reason.MALFORMED_CONFIG,
          source + " is not valid JSON: " + e.getOriginalMessage()
              + (at == null ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")"),
          e);
    } catch (IOException | RuntimeException e) {
      throw new ModelLoadException(
          ModelLoadException.Reason.MALFORMED_CONFIG, "cannot parse " + source + ": " + e, e);
    }
  }

  private static ModelLoadException tooLarge(String source, long size) {
    return new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
        source + " has " + size + " bytes; at most " + MAX_JSON_BYTES + " are read");
  }

  /**
   * Reads and parses a JSON file of this folder, if it exists.
   *
   * @param name relative file name
   * @return the parsed JSON, or empty if the file does not exist
   * @throws ModelLoadException MALFORMED_CONFIG if the file exists but is not valid JSON
   */
  public Optional<JsonNode> readJsonIfPresent(String name) throws ModelLoadException {
    return exists(name) ? Optional.of(readJson(name)) : Optional.empty();
  }

  /**
   * Describes a file of this folder for messages.
   *
   * @param name relative file name
   * @return the file's full name for messages (never throws)
   */
  public String describe(String name) {
    try {
      return path(name).map(Path::toString).orElse(describe() + name);
    } catch (ModelLoadException e) {
      return describe() + "/" + name;
    }
  }

  /**
   * Checks a file name taken from a config or manifest: relative, '/'-separated, no {@code ..}
   * segment, no drive or backslash, no control characters.
   *
   * @param name the file name
   * @param source where the name was read, for messages (e.g. {@code /m/vlm4j.json "projector.file"})
   * @throws ModelLoadException FILE_OUTSIDE_FOLDER
   */
  public static void checkRelative(String name, String source) throws ModelLoadException {
    boolean bad = name.isEmpty() || name.startsWith("/") || name.contains("\\") || name.contains(":")
        || name.chars().anyMatch(c -> c < 0x20);
    for (String seg : name.split("/", -1)) {
      bad |= seg.equals("..");
    }
    if (bad) {
      throw new ModelLoadException(ModelLoadException.Reason.FILE_OUTSIDE_FOLDER,
          source + ": model file names must be relative '/'-separated paths inside the folder without '..', got '"
              + name.replaceAll("\\p{Cntrl}", "?") + "'");
    }
  }

  /** Reads at most {@code maxBytes} (refusing more) without trusting a declared size. */
  private static byte[] readBounded(InputStream in, long maxBytes, String source)
      throws IOException, ModelLoadException {
    int cap = (int) Math.min(maxBytes, Integer.MAX_VALUE - 8);
    byte[] bytes = in.readNBytes(cap);
    if (bytes.length == cap && in.read() >= 0) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
          source + " is larger than " + cap + " bytes, the most read for this file");
    }
    return bytes;
  }

  private static final class DirectoryFolder extends ModelFolder {
    private final Path root;

    DirectoryFolder(Path root) {
      this.root = root;
    }

    private Path resolve(String name) throws ModelLoadException {
      checkRelative(name, "model folder " + root);
      Path p = root.resolve(name).normalize();
      if (!p.startsWith(root)) {
        throw new ModelLoadException(ModelLoadException.Reason.FILE_OUTSIDE_FOLDER,
            "model file name '" + name + "' leaves " + root);
      }
      if (Files.exists(p)) {
        Path real;
        try {
          real = p.toRealPath();
        } catch (IOException e) {
          throw new ModelLoadException(ModelLoadException.Reason.MISSING_FILE,
              "cannot resolve model file " + p + ": " + e, e);
        }
        if (!real.startsWith(root)) {
          throw new ModelLoadException(ModelLoadException.Reason.FILE_OUTSIDE_FOLDER,
              "model file " + p + " is a symbolic link to " + real + ", outside the model folder " + root);
        }
      } else if (Files.isSymbolicLink(p)) {
        throw new ModelLoadException(ModelLoadException.Reason.MISSING_FILE,
            "model file " + p + " is a dangling symbolic link");
      }
      return p;
    }

    @Override
    public String describe() {
      return root.toString();
    }

    @Override
    public boolean exists(String name) throws ModelLoadException {
      return Files.isRegularFile(resolve(name));
    }

    @Override
    public Optional<Path> path(String name) throws ModelLoadException {
      return Optional.of(resolve(name));
    }

    @Override
    public byte[] readBytes(String name, long maxBytes) throws ModelLoadException {
      Path p = resolve(name);
      if (!Files.isRegularFile(p)) {
        throw new ModelLoadException(
            ModelLoadException.Reason.MISSING_FILE, "missing file " + p + " in model folder " + root);
      }
      try (InputStream in = Files.newInputStream(p)) {
        return readBounded(in, maxBytes, p.toString());
      } catch (IOException e) {
        throw new ModelLoadException(ModelLoadException.Reason.MISSING_FILE, "cannot read " + p + ": " + e, e);
      }
    }

    @Override
    public List<String> list(String subfolder) throws ModelLoadException {
      Path dir = resolve(subfolder);
      if (!Files.isDirectory(dir)) {
        return List.of();
      }
      try (Stream<Path> s = Files.list(dir)) {
        return s.map(p -> p.getFileName().toString()).sorted().toList();
      } catch (IOException e) {
        return List.of();
      }
    }
  }

  private static final class ClasspathFolder extends ModelFolder {
    private final ClassLoader loader;
    private final String prefix;

    ClasspathFolder(ClassLoader loader, String prefix) {
      this.loader = loader;
      this.prefix = prefix;
    }

    @Override
    public String describe() {
      return "classpath:" + prefix;
    }

    @Override
    public boolean exists(String name) throws ModelLoadException {
      checkRelative(name, describe());
      return loader.getResource(prefix + name) != null;
    }

    @Override
    public Optional<Path> path(String name) {
      return Optional.empty();
    }

    @Override
    public byte[] readBytes(String name, long maxBytes) throws ModelLoadException {
      checkRelative(name, describe());
      try (InputStream in = loader.getResourceAsStream(prefix + name)) {
        if (in == null) {
          throw new ModelLoadException(
              ModelLoadException.Reason.MISSING_FILE, "missing resource " + describe() + name);
        }
        return readBounded(in, maxBytes, describe() + name);
      } catch (IOException e) {
        throw new ModelLoadException(
            ModelLoadException.Reason.MISSING_FILE, "cannot read " + describe() + name + ": " + e, e);
      }
    }

    @Override
    public List<String> list(String subfolder) {
      return new ArrayList<>();
    }
  }
}
