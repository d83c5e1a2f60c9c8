package io.github.vlm4j.spark;

import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.stream.Stream;
import org.apache.spark.SparkFiles;

/**
 * Where each executor finds the model folder, and how it loads it: a local path present on every
 * node (a shared or replicated file system), or a folder shipped with the job and found through
 * {@link SparkFiles} ({@code spark-submit --archives model.tar.gz#model}, or
 * {@code SparkContext.addFile(dir, true)} for a directory on a Hadoop-supported file system).
 * Load options (dtype, threads, batch size) are part of the identity: an executor loads one model
 * per distinct source (see {@link ExecutorModels}).
 *
 * <p>Immutable, serializable and thread-safe; it holds names only, never the model itself.
 */
public final class ModelSource implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The folder path, or the SparkFiles name. */
  private final String location;
  /** Whether {@link #location} is a SparkFiles name. */
  private final boolean shipped;
  /** The dtype name, or null for the library's default. */
  private final String dtype;
  /** ONNX Runtime threads per graph, 0 for its default. */
  private final int threads;
  /** Rows per shared decoder step, 0 for the library's default. */
  private final int maxBatchSize;
  /** Whether idle ONNX Runtime threads spin, or null for the library's default. */
  private final Boolean spinning;

  private ModelSource(String location, boolean shipped, String dtype, int threads, int maxBatchSize,
      Boolean spinning) {
    this.location = location;
    this.shipped = shipped;
    this.dtype = dtype;
    this.threads = threads;
    this.maxBatchSize = maxBatchSize;
    this.spinning = spinning;
  }

  /**
   * A model folder at the same local path on every node.
   *
   * @param folder the folder's path as the executors see it
   * @return the source, with the library's default load options
   * @throws IllegalArgumentException if the path is blank
   */
  public static ModelSource localFolder(String folder) {
    Objects.requireNonNull(folder, "folder");
    if (folder.isBlank()) {
      throw new IllegalArgumentException("the model folder path is blank");
    }
    return new ModelSource(folder, false, null, 0, 0, null);
  }

  /**
   * A model folder shipped with the job, resolved on each executor with {@link SparkFiles#get}: the
   * name of a directory added with {@code addFile(dir, true)}, or the alias of an archive given to
   * {@code --archives model.tar.gz#model} (an archive whose only entry is a top-level folder holding
   * {@code config.json} is fine too).
   *
   * @param name the file name or archive alias, without any directory
   * @return the source, with the library's default load options
   * @throws IllegalArgumentException if the name is blank or contains a path separator or {@code ..}
   */
  public static ModelSource sparkFile(String name) {
    Objects.requireNonNull(name, "name");
    if (name.isBlank() || name.contains("/") || name.contains("\\") || name.equals("..") || name.equals(".")) {
      throw new IllegalArgumentException("a SparkFiles name is a plain file or archive alias name (no '/', '\\' "
          + "or '..'), got '" + name + "'");
    }
    return new ModelSource(name, true, null, 0, 0, null);
  }

  /**
   * Returns a copy loading another precision.
   *
   * @param value a dtype name as {@link VisionLanguageModel.Builder#dtype(String)} takes it ("fp32", "q8", ...)
   * @return the new source
   */
  public ModelSource withDtype(String value) {
    return new ModelSource(location, shipped, Objects.requireNonNull(value, "value"), threads, maxBatchSize, spinning);
  }

  /**
   * Returns a copy with an ONNX Runtime thread count per graph; give each executor's model about
   * its cores ({@code spark.executor.cores}).
   *
   * @param n threads, 0 for ONNX Runtime's choice; checked by the library when the model loads
   * @return the new source
   */
  public ModelSource withThreads(int n) {
    return new ModelSource(location, shipped, dtype, n, maxBatchSize, spinning);
  }

  /**
   * Returns a copy with another bound on the rows that share a decoder step
   * ({@link VisionLanguageModel.Builder#maxBatchSize(int)}).
   *
   * @param rows at least 1; 0 keeps the library's default
   * @return the new source
   */
  public ModelSource withMaxBatchSize(int rows) {
    return new ModelSource(location, shipped, dtype, threads, rows, spinning);
  }

  /**
   * Returns a copy that lets ONNX Runtime's idle threads spin or not
   * ({@link VisionLanguageModel.Builder#allowSpinning(boolean)}); unset = the library's default (spinning).
   *
   * @param allow whether idle threads spin; {@code false} when tasks or other work share the executor's cores
   * @return the new source
   */
  public ModelSource withAllowSpinning(boolean allow) {
    return new ModelSource(location, shipped, dtype, threads, maxBatchSize, allow);
  }

  /**
   * Returns whether the folder is shipped with the job.
   *
   * @return true for {@link #sparkFile}, false for {@link #localFolder}
   */
  public boolean shipped() {
    return shipped;
  }

  /**
   * Finds the model folder on this node; call it on an executor (for a shipped folder, after the
   * files have been fetched, i.e. inside a task).
   *
   * @return the absolute, normalised folder
   * @throws ModelLoadException MISSING_FILE if no folder with a {@code config.json} is there
   */
  public Path resolveFolder() throws ModelLoadException {
    Path base = shipped ? Path.of(SparkFiles.get(location)) : Path.of(location);
    base = base.toAbsolutePath().normalize();
    if (Files.isRegularFile(base.resolve("config.json"))) {
      return base;
    }
    if (Files.isDirectory(base)) {
      List<Path> inner = subfolders(base);
      if (inner.size() == 1 && Files.isRegularFile(inner.get(0).resolve("config.json"))) {
        return inner.get(0);
      }
    }
    throw new ModelLoadException(ModelLoadException.Reason.MISSING_FILE, (shipped
        ? "SparkFiles name '" + location + "' (resolved to " + base + ", SparkFiles root " + SparkFiles.getRootDirectory()
            + ")"
        : "model folder " + base) + " holds no config.json, nor a single sub-folder with one; expected a model "
        + "folder present on every node, or shipped with --archives model.tar.gz#" + (shipped ? location : "model"));
  }

  private static List<Path> subfolders(Path dir) {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(Files::isDirectory).toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir, e);
    }
  }

  /**
   * Loads the model from a resolved folder with this source's options.
   *
   * @param folder the folder {@link #resolveFolder()} returned
   * @return a new model, owned by the caller
   * @throws ModelLoadException if the folder cannot be loaded
   */
  VisionLanguageModel load(Path folder) throws ModelLoadException {
    VisionLanguageModel.Builder b = VisionLanguageModel.builder(folder).threads(threads);
    if (dtype != null) {
      b.dtype(dtype);
    }
    if (maxBatchSize > 0) {
      b.maxBatchSize(maxBatchSize);
    }
    if (spinning != null) {
      b.allowSpinning(spinning);
    }
    return b.build();
  }

  /**
   * The identity of the model an executor loads for this source: the resolved folder and the load options.
   *
   * @param folder the resolved folder
   * @return a key for {@link ExecutorModels}
   */
  String key(Path folder) {
    return folder + " " + options();
  }

  private String options() {
    return "[dtype=" + (dtype == null ? "default" : dtype) + ", threads=" + threads + ", maxBatchSize="
        + (maxBatchSize == 0 ? "default" : maxBatchSize) + ", spinning=" + (spinning == null ? "default" : spinning)
        + "]";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ModelSource m && location.equals(m.location) && shipped == m.shipped
        && Objects.equals(dtype, m.dtype) && threads == m.threads && maxBatchSize == m.maxBatchSize
        && Objects.equals(spinning, m.spinning);
  }

  @Override
  public int hashCode() {
    return Objects.hash(location, shipped, dtype, threads, maxBatchSize, spinning);
  }

  @Override
  public String toString() {
    return (shipped ? "SparkFiles:" : "") + location + " " + options();
  }
}
