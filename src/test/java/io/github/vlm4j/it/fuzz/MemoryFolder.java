package io.github.vlm4j.it.fuzz;

import io.github.vlm4j.core.model.ModelFolder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLConnection;
import java.net.URLStreamHandler;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A model folder held in memory, served through {@link ModelFolder#onClasspath} by a class loader
 * that knows only these files: the fuzz harnesses replace one file per input without touching the
 * disk. Not thread-safe while being modified; each harness input builds its own.
 */
final class MemoryFolder {
  private static final String PREFIX = "fuzz-model/";
  private final Map<String, byte[]> files;

  private MemoryFolder(Map<String, byte[]> files) {
    this.files = files;
  }

  /**
   * @param dir a committed model folder
   * @param withGraphs also read {@code onnx/**} (megabytes), else only the top-level files
   * @return its files in memory
   */
  static MemoryFolder copyOf(Path dir, boolean withGraphs) {
    Map<String, byte[]> files = new HashMap<>();
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        String name = dir.relativize(p).toString().replace('\\', '/');
        if (Files.isRegularFile(p) && (withGraphs || !name.contains("/"))) {
          files.put(name, Files.readAllBytes(p));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new MemoryFolder(files);
  }

  /** @return a copy whose file {@code name} holds {@code bytes} (null removes it) */
  MemoryFolder with(String name, byte[] bytes) {
    Map<String, byte[]> copy = new HashMap<>(files);
    if (bytes == null) {
      copy.remove(name);
    } else {
      copy.put(name, bytes);
    }
    return new MemoryFolder(copy);
  }

  /** @param name a file @return its bytes, or null */
  byte[] get(String name) {
    return files.get(name);
  }

  /** @return the folder as vlm4j sees classpath models */
  ModelFolder folder() {
    return ModelFolder.onClasspath(new Loader(), PREFIX);
  }

  private final class Loader extends ClassLoader {
    Loader() {
      super(null);
    }

    @Override
    public URL getResource(String name) {
      byte[] b = lookup(name);
      if (b == null) {
        return null;
      }
      try {
        return new URL("memory", "", -1, "/" + name, new URLStreamHandler() {
          @Override
          protected URLConnection openConnection(URL u) {
            return new URLConnection(u) {
              @Override
              public void connect() {}

              @Override
              public InputStream getInputStream() {
                return new ByteArrayInputStream(b);
              }
            };
          }
        });
      } catch (MalformedURLException e) {
        throw new IllegalStateException(e);
      }
    }

    @Override
    public InputStream getResourceAsStream(String name) {
      byte[] b = lookup(name);
      return b == null ? null : new ByteArrayInputStream(b);
    }

    private byte[] lookup(String name) {
      return name.startsWith(PREFIX) ? files.get(name.substring(PREFIX.length())) : null;
    }
  }
}
