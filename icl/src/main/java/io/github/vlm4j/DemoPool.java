package io.github.vlm4j;

import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ImageInput;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * A labelled pool of candidate demonstrations from which few-shot demos are picked per query by
 * image similarity: cosine similarity of {@link VisionLanguageModel#imageEmbedding pooled vision
 * features}, computed once per pool image when the pool is built.
 *
 * <p>Immutable and thread-safe once built. Holds no native resources; the model must stay open
 * while the pool selects (it embeds each query).
 */
public final class DemoPool {
  /** File name endings read as images from pool folders. */
  public static final Set<String> IMAGE_EXTENSIONS = Set.of("png", "jpg", "jpeg", "bmp", "gif", "webp", "tif",
      "tiff");

  /**
   * One labelled candidate.
   *
   * @param image the picture
   * @param label its label
   * @param name where it came from (file name or caller's name)
   */
  public record Entry(ImageInput image, String label, String name) {
    /**
     * Rejects nulls and blank labels.
     *
     * @param image the picture
     * @param label its label (non-blank)
     * @param name where it came from (file name or caller's name)
     * @throws VlmInputException INVALID_DEMO_POOL for a null or blank label
     */
    public Entry {
      Objects.requireNonNull(image, "image");
      Objects.requireNonNull(name, "name");
      if (label == null || label.isBlank()) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_DEMO_POOL,
            "pool entry " + name + " has no label (got " + Demo.quote(label) + ")");
      }
    }
  }

  private final VisionLanguageModel model;
  private final RequestOptions options;
  private final List<Entry> entries;
  private final float[][] embeddings;
  private final List<String> labels;

  private DemoPool(VisionLanguageModel model, List<Entry> entries, RequestOptions options, ProgressListener progress) {
    this.model = model;
    this.options = options;
    this.entries = List.copyOf(entries);
    this.embeddings = new float[entries.size()][];
    int n = entries.size();
    for (int i = 0; i < n; i++) {
      progress.onProgress(new Progress(Progress.Task.ENCODE_POOL, entries.get(i).name(), i, n));
      embeddings[i] = model.imageEmbedding(entries.get(i).image(), options);
    }
    progress.onProgress(new Progress(Progress.Task.ENCODE_POOL, "", n, n));
    this.labels = List.copyOf(new TreeSet<>(entries.stream().map(Entry::label).toList()));
  }

  /**
   * Builds a pool from labelled images.
   *
   * @param model embeds the images (its image feature cache is used)
   * @param entries the candidates
   * @param options preprocessing choice used for embeddings
   * @return the pool
   * @throws VlmInputException ({@link VlmInputException.Reason#INVALID_DEMO_POOL}) for an empty list
   */
  public static DemoPool of(VisionLanguageModel model, List<Entry> entries, RequestOptions options) {
    return of(model, entries, options, ProgressListener.NONE);
  }

  /**
   * Builds a pool from labelled images, reporting each image before it is embedded ({@link
   * Progress.Task#ENCODE_POOL}) and a final event.
   *
   * @param model embeds the images (its image feature cache is used)
   * @param entries the candidates
   * @param options preprocessing choice used for embeddings
   * @param progress called on this thread; an exception from it aborts the build of the pool
   * @return the pool
   * @throws VlmInputException ({@link VlmInputException.Reason#INVALID_DEMO_POOL}) for an empty list
   */
  public static DemoPool of(VisionLanguageModel model, List<Entry> entries, RequestOptions options,
      ProgressListener progress) {
    if (entries == null || entries.isEmpty()) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_DEMO_POOL, "a demo pool needs at least one entry");
    }
    Objects.requireNonNull(progress, "progress");
    return new DemoPool(model, entries, options, progress);
  }

  /**
   * Reads a folder laid out as {@code <dir>/<label>/<image file>}: every sub-folder is a label, every
   * image file in it (see {@link #IMAGE_EXTENSIONS}) a candidate. Files directly in {@code dir} are
   * an error (their label would be unknown).
   *
   * @param model embeds the images
   * @param dir the pool folder
   * @param options preprocessing choice used for embeddings
   * @return the pool
   * @throws VlmInputException ({@link VlmInputException.Reason#INVALID_DEMO_POOL}) for a missing
   *     folder, images without a label folder, or no labelled images at all
   */
  public static DemoPool fromFolder(VisionLanguageModel model, Path dir, RequestOptions options) {
    return fromFolder(model, dir, options, ProgressListener.NONE);
  }

  /**
   * Reads a {@code <dir>/<label>/<image file>} folder as {@link #fromFolder(VisionLanguageModel,
   * Path, RequestOptions)} does, reporting each image before it is embedded.
   *
   * @param model embeds the images
   * @param dir the pool folder
   * @param options preprocessing choice used for embeddings
   * @param progress receives {@link Progress.Task#ENCODE_POOL} events on this thread
   * @return the pool
   * @throws VlmInputException ({@link VlmInputException.Reason#INVALID_DEMO_POOL}) for a missing
   *     folder, images without a label folder, or no labelled images at all
   */
  public static DemoPool fromFolder(VisionLanguageModel model, Path dir, RequestOptions options,
      ProgressListener progress) {
    return of(model, readFolder(dir), options, progress);
  }

  /**
   * Lists a {@code <dir>/<label>/<image>} folder without embedding anything.
   *
   * @param dir the folder
   * @return entries sorted by label then file name
   */
  public static List<Entry> readFolder(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_DEMO_POOL,
          "demo pool folder " + dir + " does not exist or is not a directory");
    }
    List<Entry> out = new ArrayList<>();
    List<String> unlabelled = new ArrayList<>();
    try (Stream<Path> top = Files.list(dir)) {
      for (Path p : top.sorted().toList()) {
        if (Files.isDirectory(p)) {
          try (Stream<Path> files = Files.list(p)) {
            for (Path f : files.sorted().toList()) {
              if (Files.isRegularFile(f) && isImage(f)) {
                out.add(new Entry(ImageInput.of(f), p.getFileName().toString(), dir.relativize(f).toString()));
              }
            }
          }
        } else if (isImage(p)) {
          unlabelled.add(p.getFileName().toString());
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list demo pool folder " + dir, e);
    }
    if (!unlabelled.isEmpty()) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_DEMO_POOL,
          "demo pool folder " + dir + " has images without a label folder (" + String.join(", ",
              unlabelled.subList(0, Math.min(3, unlabelled.size()))) + (unlabelled.size() > 3 ? ", ..." : "")
              + "); expected <pool>/<label>/<image>");
    }
    if (out.isEmpty()) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_DEMO_POOL,
          "demo pool folder " + dir + " has no labelled images; expected <pool>/<label>/<image> with image files ("
              + String.join(", ", new TreeSet<>(IMAGE_EXTENSIONS)) + ")");
    }
    return out;
  }

  private static boolean isImage(Path p) {
    String n = p.getFileName().toString();
    int dot = n.lastIndexOf('.');
    return dot > 0 && IMAGE_EXTENSIONS.contains(n.substring(dot + 1).toLowerCase(Locale.ROOT));
  }

  /**
   * Returns the labels of the pool.
   *
   * @return the distinct labels, sorted
   */
  public List<String> labels() {
    return labels;
  }

  /**
   * Returns the candidate demos.
   *
   * @return the candidates
   */
  public List<Entry> entries() {
    return entries;
  }

  /**
   * Returns the number of candidate demos.
   *
   * @return number of candidates
   */
  public int size() {
    return entries.size();
  }

  /**
   * The {@code k} candidates most similar to the query, as demos (least similar first, so the most
   * similar demo sits next to the query).
   *
   * @param query the query image
   * @param k number of demos, 1..size()
   * @return the demos
   */
  public List<Demo> nearest(ImageInput query, int k) {
    if (k < 1 || k > entries.size()) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION,
          "k must be between 1 and the pool size " + entries.size() + ", got " + k);
    }
    List<Integer> order = ranked(model.imageEmbedding(query, options));
    List<Demo> out = new ArrayList<>();
    for (int i = k - 1; i >= 0; i--) {
      Entry e = entries.get(order.get(i));
      out.add(Demo.of(e.image(), e.label()));
    }
    return out;
  }

  /**
   * The {@code perLabel} most similar candidates of every label (balanced demos), interleaved by rank
   * and ordered least similar first.
   *
   * @param query the query image
   * @param perLabel demos per label, at least 1 and at most the smallest label's count
   * @return {@code perLabel * labels().size()} demos
   */
  public List<Demo> nearestPerLabel(ImageInput query, int perLabel) {
    Map<String, List<Integer>> byLabel = new LinkedHashMap<>();
    for (String l : labels) {
      byLabel.put(l, new ArrayList<>());
    }
    float[] q = model.imageEmbedding(query, options);
    for (int i : ranked(q)) {
      byLabel.get(entries.get(i).label()).add(i);
    }
    int smallest = byLabel.values().stream().mapToInt(List::size).min().orElse(0);
    if (perLabel < 1 || perLabel > smallest) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION,
          "demos per label must be between 1 and " + smallest + " (the smallest label's candidates), got " + perLabel);
    }
    List<Integer> chosen = new ArrayList<>();
    for (int r = 0; r < perLabel; r++) {
      for (List<Integer> idx : byLabel.values()) {
        chosen.add(idx.get(r));
      }
    }
    chosen.sort(Comparator.comparingDouble(i -> dot(q, embeddings[i])));
    return chosen.stream().map(i -> Demo.of(entries.get(i).image(), entries.get(i).label())).toList();
  }

  private List<Integer> ranked(float[] q) {
    List<Integer> idx = new ArrayList<>();
    for (int i = 0; i < entries.size(); i++) {
      idx.add(i);
    }
    double[] sim = new double[entries.size()];
    for (int i = 0; i < sim.length; i++) {
      sim[i] = dot(q, embeddings[i]);
    }
    idx.sort((a, b) -> sim[a] != sim[b] ? Double.compare(sim[b], sim[a]) : Integer.compare(a, b));
    return idx;
  }

  private static double dot(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += (double) a[i] * b[i];
    }
    return s;
  }
}
