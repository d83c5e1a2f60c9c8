package io.github.vlm4j.core.model;

import com.fasterxml.jackson.core.JsonProcessingException;
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
 * segments, absolute names and symbolic links pointing outside are rejected, because names come
 * from configs and manifests.
 *
 * <p>Immutable and thread-safe.
 */
public abstract class ModelFolder {
  private static final ObjectMapper JSON = new ObjectMapper();

  ModelFolder() {}

  /**
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
   * @param loader class loader holding the files
   * @param prefix resource prefix, e.g. {@code io/github/vlm4j/builtin/vlm4j-tiny-idefics3}
   * @return the folder
   */
  public static ModelFolder onClasspath(ClassLoader loader, String prefix) {
    return new ClasspathFolder(loader, prefix.endsWith("/") ? prefix : prefix + "/");
  }

  /** @return the directory or {@code classpath:prefix}, for messages */
  public abstract String describe();

  /** @param name relative file name @return whether the file exists */
  public abstract boolean exists(String name);

  /**
   * @param name relative file name
   * @return the file as a path, if the folder is a directory
   */
  public abstract Optional<Path> path(String name);

  /**
   * @param name relative file name
   * @return the file's bytes
   * @throws ModelLoadException if the file is missing or unreadable
   */
  public abstract byte[] readBytes(String name) throws ModelLoadException;

  /**
   * @param subfolder a relative folder, e.g. {@code onnx}
   * @return the file names directly inside it (empty if unknown, e.g. on the classpath)
   */
  public abstract List<String> list(String subfolder);

  /**
   * @param name relative file name
   * @return the parsed JSON
   * @throws ModelLoadException MISSING_FILE or MALFORMED_CONFIG, naming the file
   */
  public JsonNode readJson(String name) throws ModelLoadException {
    byte[] bytes = readBytes(name);
    try {
      JsonNode node = JSON.readTree(bytes);
      if (node == null || node.isMissingNode()) {
        throw new ModelLoadException(
            ModelLoadException.Reason.MALFORMED_CONFIG, describe(name) + " is empty; expected JSON");
      }
      return node;
    } catch (JsonProcessingException e) {
      throw new ModelLoadException(
          ModelLoadException.Reason.MALFORMED_CONFIG,
          describe(name) + " is not valid JSON: " + e.getOriginalMessage()
              + " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")",
          e);
    } catch (IOException e) {
      throw new ModelLoadException(
          ModelLoadException.Reason.MALFORMED_CONFIG, "cannot parse " + describe(name) + ": " + e, e);
    }
  }

  /**
   * @param name relative file name
   * @return the parsed JSON, or empty if the file does not exist
   * @throws ModelLoadException MALFORMED_CONFIG if the file exists but is not valid JSON
   */
  public Optional<JsonNode> readJsonIfPresent(String name) throws ModelLoadException {
    return exists(name) ? Optional.of(readJson(name)) : Optional.empty();
  }

  /** @param name relative file name @return the file's full name for messages */
  public String describe(String name) {
    return path(name).map(Path::toString).orElse(describe() + name);
  }

  static void checkRelative(String name) {
    if (name.isEmpty() || name.startsWith("/") || name.contains("\\") || name.contains(":")) {
      throw new IllegalArgumentException(
          "model file names must be relative '/'-separated paths inside the folder, got '" + name + "'");
    }
    for (String seg : name.split("/")) {
      if (seg.equals("..")) {
        throw new IllegalArgumentException(
            "model file name '" + name + "' leaves the model folder ('..' is not allowed)");
      }
    }
  }

  private static final class DirectoryFolder extends ModelFolder {
    private final Path root;

    DirectoryFolder(Path root) {
      this.root = root;
    }

    private Path resolve(String name) {
      checkRelative(name);
      Path p = root.resolve(name).normalize();
      if (!p.startsWith(root)) {
        throw new IllegalArgumentException("model file name '" + name + "' leaves " + root);
      }
      if (Files.exists(p)) {
        try {
          if (!p.toRealPath().startsWith(root)) {
            throw new IllegalArgumentException(
                "model file '" + name + "' is a link to " + p.toRealPath() + ", outside " + root);
          }
        } catch (IOException e) {
          throw new IllegalArgumentException("cannot resolve model file " + p + ": " + e, e);
        }
      }
      return p;
    }

    @Override
    public String describe() {
      return root.toString();
    }

    @Override
    public boolean exists(String name) {
      return Files.isRegularFile(resolve(name));
    }

    @Override
    public Optional<Path> path(String name) {
      return Optional.of(resolve(name));
    }

    @Override
    public byte[] readBytes(String name) throws ModelLoadException {
      Path p = resolve(name);
      if (!Files.isRegularFile(p)) {
        throw new ModelLoadException(
            ModelLoadException.Reason.MISSING_FILE, "missing file " + p + " in model folder " + root);
      }
      try {
        return Files.readAllBytes(p);
      } catch (IOException e) {
        throw new ModelLoadException(ModelLoadException.Reason.MISSING_FILE, "cannot read " + p + ": " + e, e);
      }
    }

    @Override
    public List<String> list(String subfolder) {
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
    public boolean exists(String name) {
      checkRelative(name);
      return loader.getResource(prefix + name) != null;
    }

    @Override
    public Optional<Path> path(String name) {
      return Optional.empty();
    }

    @Override
    public byte[] readBytes(String name) throws ModelLoadException {
      checkRelative(name);
      try (InputStream in = loader.getResourceAsStream(prefix + name)) {
        if (in == null) {
          throw new ModelLoadException(
              ModelLoadException.Reason.MISSING_FILE, "missing resource " + describe() + name);
        }
        return in.readAllBytes();
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
