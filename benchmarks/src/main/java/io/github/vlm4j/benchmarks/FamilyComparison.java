package io.github.vlm4j.benchmarks;

import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.StageTimings;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * vlm4j's side of a benchmark against transformers.js on any folder vlm4j loads (every family: the
 * model type comes from config.json): one image, a short question, greedy, exactly {@code NEW_TOKENS}
 * new tokens (no EOS), medians after warm-up, in a process of its own (its peak RSS is reported). It
 * times the model's load, preprocessing, vision, prefill, TTFT with and without preprocessing, and
 * decode tokens/s. {@code --ids FILE} appends vlm4j's prompt ids and generated ids (lines {@code
 * vlm4j-prompt SIZE THREADS: ids} and {@code vlm4j SIZE THREADS: ids}) so that a script can check
 * them against transformers.js's ({@code benchmarks/families.sh} does).
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.github.vlm4j.benchmarks.FamilyComparison \
 *     FOLDER IMAGE NEW_TOKENS REPS THREADS [--warmup 1] [--csv FILE] [--ids FILE] [--question TEXT] \
 *     [--allow-spinning]
 * }</pre>
 * ONNX Runtime's intra-op threads do not spin while waiting unless {@code --allow-spinning}. CSV:
 * {@link #CSV_HEADER} ({@link QwenComparison#CSV_HEADER}'s columns, {@code image} being the file's
 * WIDTHxHEIGHT and {@code image_tokens} the prompt's image tokens, then {@code load_ms}, the
 * builder's {@code build()} in wall-clock ms).
 */
public final class FamilyComparison {
  private FamilyComparison() {}

  /** CSV columns: QwenComparison's, then the model's load time. */
  static final String CSV_HEADER = QwenComparison.CSV_HEADER + ",load_ms";

  /**
   * @param args see the class comment
   * @throws Exception on failure
   */
  public static void main(String[] args) throws Exception {
    List<String> pos = new ArrayList<>();
    int warm = 1;
    Path csv = null;
    Path idsFile = null;
    String question = "Describe this image.";
    boolean spin = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--warmup" -> warm = Integer.parseInt(args[++i]);
        case "--csv" -> csv = Path.of(args[++i]);
        case "--ids" -> idsFile = Path.of(args[++i]);
        case "--question" -> question = args[++i];
        case "--allow-spinning" -> spin = true;
        default -> pos.add(args[i]);
      }
    }
    if (pos.size() != 5) {
      throw new IllegalArgumentException("usage: FamilyComparison FOLDER IMAGE NEW_TOKENS REPS THREADS"
          + " [--warmup N] [--csv FILE] [--ids FILE] [--question TEXT] [--allow-spinning]");
    }
    Path folder = Path.of(pos.get(0));
    Path image = Path.of(pos.get(1));
    int newTokens = Integer.parseInt(pos.get(2));
    int reps = Integer.parseInt(pos.get(3));
    int threads = Integer.parseInt(pos.get(4));
    BufferedImage img = ImageIO.read(image.toFile());
    if (img == null) {
      throw new IllegalArgumentException("not an image ImageIO can read: " + image);
    }
    String size = img.getWidth() + "x" + img.getHeight();
    List<Message> chat = List.of(Message.user(ImageInput.of(image), question));
    GenerationConfig config = GenerationConfig.builder().maxNewTokens(newTokens)
        .eosTokenIds(List.of(Integer.MAX_VALUE)).build();   // never stops early: equal work for all
    Heap.resetPeakRss();
    long l0 = System.nanoTime();
    try (VisionLanguageModel vlm = VisionLanguageModel.builder(folder).threads(threads).allowSpinning(spin)
        .dtype("fp32").imageCacheBytes(0).build()) {
      double loadMs = (System.nanoTime() - l0) / 1e6;
      var prompt = vlm.tokenize(chat, RequestOptions.DEFAULT);
      int imageTokens = Arrays.stream(prompt.imageTokensPerImage()).sum();
      // rows: preprocess, vision, prefill, TTFT, TTFT - pre, decode tok/s, heap per step, TTFT CPU, decode CPU
      double[][] v = new double[9][reps];
      int[] ids = null;
      for (int i = -warm; i < reps; i++) {
        StepHeap heap = new StepHeap();
        long c0 = Heap.processCpuNanos();
        GenerationResult g = vlm.generate(chat, config, RequestOptions.DEFAULT, heap);
        if (g.tokenIds().length != newTokens) {
          throw new IllegalStateException("expected " + newTokens + " new tokens, got " + g.tokenIds().length);
        }
        if (ids != null && !Arrays.equals(ids, g.tokenIds())) {
          throw new IllegalStateException("vlm4j's greedy ids changed between runs: " + Arrays.toString(ids)
              + " vs " + Arrays.toString(g.tokenIds()));
        }
        ids = g.tokenIds();
        if (i >= 0) {
          StageTimings t = g.usage().timings();
          v[0][i] = t.preprocessMs();
          v[1][i] = t.visionMs();
          v[2][i] = t.prefillMs();
          v[3][i] = t.timeToFirstTokenMs();
          v[4][i] = t.timeToFirstTokenMs() - t.preprocessMs();
          v[5][i] = 1000.0 / Arrays.stream(t.decodeStepMs()).average().orElse(Double.NaN);
          v[6][i] = heap.perStep();
          v[7][i] = (heap.cpuFirst - c0) / 1e6;
          v[8][i] = (heap.cpuLast - heap.cpuFirst) / 1e6 / (heap.tokens - 1);
        }
      }
      double rss = Heap.peakRssMib();
      String model = folder.getFileName().toString();
      double[] m = Arrays.stream(v).mapToDouble(QwenComparison::median).toArray();
      System.out.printf(Locale.ROOT, "%s (%s), %s image (%d image tokens), %d threads, prompt %d tokens, %d new tokens,"
          + " medians of %d after %d warm-up: load %.0f ms, preprocess %.1f ms, vision %.1f ms, prefill %.1f ms,"
          + " TTFT %.1f ms, decode %.2f tokens/s, peak RSS %.0f MiB%n", model, vlm.modelType(), size, imageTokens,
          threads, prompt.ids().length, newTokens, reps, warm, loadMs, m[0], m[1], m[2], m[3], m[5], rss);
      if (csv != null) {
        List<String> rows = new ArrayList<>();
        if (!Files.exists(csv)) {
          rows.add(CSV_HEADER);
        }
        rows.add(String.format(Locale.ROOT,
            "%s,%s,fp32,%d,nosplit,1,%d,%d,%d,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.3f,%.0f,%.0f,%s,%d,%.0f,%.2f,%.0f",
            "vlm4j" + (spin ? "-spinning" : ""), model, threads, prompt.ids().length, newTokens, reps, m[0], m[1],
            m[1], m[2], m[3], m[4], m[5], m[6], rss, size, imageTokens, m[7], m[8], loadMs));
        Files.write(csv, rows, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
      }
      if (idsFile != null) {
        Files.write(idsFile, List.of(QwenComparison.idsLine("vlm4j-prompt", size, threads, prompt.ids()),
            QwenComparison.idsLine("vlm4j", size, threads, ids)), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
      }
    }
  }
}
