package io.github.vlm4j.benchmarks;

import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.StageTimings;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.vision.PreprocessedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * vlm4j vs {@link QwenRawOrtLoop} on an onnx-community Qwen2-VL / Qwen2.5-VL folder: one image
 * that needs no resize, a short question, greedy, exactly {@code NEW_TOKENS} new tokens (no EOS),
 * medians after warm-up. The raw loop does its own preprocessing (ImageIO decode, patchify, the
 * chat format, HuggingFace tokenizers), so both contenders report preprocessing, vision, prefill,
 * TTFT with and without preprocessing, and decode tokens/s.
 *
 * <p>Both contenders in one JVM run interleaved and must produce identical ids. A model too large to
 * hold twice is measured one contender per process ({@code --only}); then {@code --ids FILE} appends
 * the generated ids (one line per contender and configuration, and the raw loop's prompt ids) so that a
 * script can check them
 * against the other contenders', and the process's peak RSS ({@code VmHWM}) is reported. The vlm4j
 * process also checks vlm4j's prompt ids and pixel values against the raw loop's (which it computes
 * without loading the raw loop's graphs).
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.github.vlm4j.benchmarks.QwenComparison \
 *     FOLDER IMAGE NEW_TOKENS REPS THREADS [--only vlm4j|raw] [--warmup 1] [--csv FILE] [--ids FILE] \
 *     [--question TEXT] [--allow-spinning] [--prefill-chunk N]
 * }</pre>
 * {@code --prefill-chunk} sets vlm4j's {@code prefillChunkTokens} (default 256; the raw loop
 * prefills in one run).
 * Both contenders' ONNX Runtime threads do not spin while waiting for work unless {@code
 * --allow-spinning} (ORT's default, which transformers.js keeps).
 * CSV: {@link RawLoopComparison#CSV_HEADER}'s columns (split = "nosplit", frames = images), then
 * {@code image} (WIDTHxHEIGHT), {@code image_tokens}, and two CPU figures, less sensitive than wall
 * time to other load on the machine: {@code ttft_cpu_ms} (the process's CPU time, all threads, from
 * the request's start to its first token, preprocessing included) and {@code decode_cpu_ms_per_token}
 * (from the first to the last token, per step).
 */
public final class QwenComparison {
  private QwenComparison() {}

  /** CSV columns: RawLoopComparison's, then the image size and its token count. */
  static final String CSV_HEADER = RawLoopComparison.CSV_HEADER
      + ",image,image_tokens,ttft_cpu_ms,decode_cpu_ms_per_token";

  /**
   * @param args see the class comment
   * @throws Exception on failure
   */
  public static void main(String[] args) throws Exception {
    List<String> pos = new ArrayList<>();
    int warm = 1;
    Path csv = null;
    Path idsFile = null;
    String only = null;
    String question = "Describe this image.";
    boolean spin = false;
    int prefillChunk = 0;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--warmup" -> warm = Integer.parseInt(args[++i]);
        case "--csv" -> csv = Path.of(args[++i]);
        case "--ids" -> idsFile = Path.of(args[++i]);
        case "--only" -> only = args[++i];
        case "--question" -> question = args[++i];
        case "--allow-spinning" -> spin = true;
        case "--prefill-chunk" -> prefillChunk = Integer.parseInt(args[++i]);
        default -> pos.add(args[i]);
      }
    }
    if (pos.size() != 5 || (only != null && !only.equals("vlm4j") && !only.equals("raw"))) {
      throw new IllegalArgumentException("usage: QwenComparison FOLDER IMAGE NEW_TOKENS REPS THREADS"
          + " [--only vlm4j|raw] [--warmup N] [--csv FILE] [--ids FILE] [--question TEXT] [--allow-spinning]"
          + " [--prefill-chunk N]");
    }
    Path folder = Path.of(pos.get(0));
    Path image = Path.of(pos.get(1));
    int newTokens = Integer.parseInt(pos.get(2));
    int reps = Integer.parseInt(pos.get(3));
    int threads = Integer.parseInt(pos.get(4));
    boolean runVlm = only == null || only.equals("vlm4j");
    boolean runRaw = only == null || only.equals("raw");

    QwenRawOrtLoop.Shapes shapes = QwenRawOrtLoop.Shapes.read(folder);
    QwenRawOrtLoop.Prepared reference;
    try (var tok = QwenRawOrtLoop.openTokenizer(folder)) {
      reference = QwenRawOrtLoop.prepare(image, question, shapes, tok);
    }
    int imageTokens = reference.imageTokens(shapes.merge());
    List<Message> chat = List.of(Message.user(ImageInput.of(image), question));
    GenerationConfig config = GenerationConfig.builder().maxNewTokens(newTokens)
        .eosTokenIds(List.of(Integer.MAX_VALUE)).build();   // never stops early: equal work for all
    Heap.resetPeakRss();
    VisionLanguageModel vlm = null;
    QwenRawOrtLoop raw = null;
    try {
      if (runVlm) {
        var builder = VisionLanguageModel.builder(folder).threads(threads).allowSpinning(spin).dtype("fp32")
            .imageCacheBytes(0);
        if (prefillChunk > 0) {
          builder.prefillChunkTokens(prefillChunk);
        }
        vlm = builder.build();
        checkInputs(vlm, chat, reference);
      }
      if (runRaw) {
        raw = QwenRawOrtLoop.open(folder, threads, spin);
      }
      // rows: 0/1 preprocess, 2/3 vision, 4/5 prefill, 6/7 TTFT, 8/9 TTFT - pre, 10/11 decode tok/s, 12/13 heap,
      // 14/15 TTFT CPU ms, 16/17 decode CPU ms per step
      double[][] v = new double[18][reps];
      int[] vlmIds = null;
      int[] rawIds = null;
      for (int i = -warm; i < reps; i++) {
        if (vlm != null) {
          StepHeap heap = new StepHeap();
          long c0 = Heap.processCpuNanos();
          GenerationResult g = vlm.generate(chat, config, RequestOptions.DEFAULT, heap);
          vlmIds = g.tokenIds();
          if (i >= 0) {
            StageTimings t = g.usage().timings();
            v[0][i] = t.preprocessMs();
            v[2][i] = t.visionMs();
            v[4][i] = t.prefillMs();
            v[6][i] = t.timeToFirstTokenMs();
            v[8][i] = t.timeToFirstTokenMs() - t.preprocessMs();
            v[10][i] = 1000.0 / Arrays.stream(t.decodeStepMs()).average().orElse(Double.NaN);
            v[12][i] = heap.perStep();
            v[14][i] = (heap.cpuFirst - c0) / 1e6;
            v[16][i] = (heap.cpuLast - heap.cpuFirst) / 1e6 / (heap.tokens - 1);
          }
        }
        if (raw != null) {
          QwenRawOrtLoop.Run r = raw.generate(raw.prepare(image, question), newTokens);
          rawIds = r.ids();
          if (i >= 0) {
            v[1][i] = r.preprocessMs();
            v[3][i] = r.visionMs();
            v[5][i] = r.prefillMs();
            v[7][i] = r.ttftMs();
            v[9][i] = r.ttftMinusPreprocessMs();
            v[11][i] = 1000.0 / Arrays.stream(r.stepMs()).average().orElse(Double.NaN);
            v[13][i] = r.heapBytesPerStep();
            v[15][i] = r.ttftCpuMs();
            v[17][i] = r.decodeCpuMsPerStep();
          }
        }
        if (vlmIds != null && rawIds != null && !Arrays.equals(vlmIds, rawIds)) {
          throw new IllegalStateException("vlm4j and the raw loop disagree: " + Arrays.toString(vlmIds) + " vs "
              + Arrays.toString(rawIds));
        }
      }
      double rss = only != null ? Heap.peakRssMib() : Double.NaN;
      String model = folder.getFileName().toString();
      String size = sizeOf(reference, shapes);
      System.out.printf(Locale.ROOT, "%s, %s image (%d image tokens), %d threads, prompt %d tokens, %d new tokens,"
          + " medians of %d after %d warm-up%s%n%n", model, size, imageTokens, threads, reference.ids().length,
          newTokens, reps, warm, only == null ? ", ids identical" : ", only " + only
              + String.format(Locale.ROOT, ", peak RSS %.0f MiB", rss));
      System.out.printf(Locale.ROOT, "| figure (median) | vlm4j | raw ORT loop | vlm4j / raw |%n|---|---|---|---|%n");
      String[] names = {"preprocess ms", "vision ms", "embed + prefill ms", "TTFT ms", "TTFT − preprocess ms",
          "decode tokens/s", "Java heap bytes per decode step", "CPU ms to first token", "CPU ms per decode step"};
      for (int k = 0; k < names.length; k++) {
        double a = median(v[2 * k]);
        double b = median(v[2 * k + 1]);
        System.out.printf(Locale.ROOT, "| %s | %.2f | %.2f | %.3f |%n", names[k], runVlm ? a : Double.NaN,
            runRaw ? b : Double.NaN, runVlm && runRaw ? a / b : Double.NaN);
      }
      if (csv != null) {
        List<String> rows = new ArrayList<>();
        if (!Files.exists(csv)) {
          rows.add(CSV_HEADER);
        }
        for (int c = 0; c < 2; c++) {
          if (c == 0 ? !runVlm : !runRaw) {
            continue;
          }
          double vision = median(v[2 + c]);
          rows.add(String.format(Locale.ROOT,
              "%s,%s,fp32,%d,nosplit,1,%d,%d,%d,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.3f,%.0f,%.0f,%s,%d,%.0f,%.2f",
              c == 0 ? "vlm4j" + (prefillChunk > 0 ? "-prefill-chunk-" + prefillChunk : "")
                  + (spin ? "-spinning" : "") : "raw-ort" + (spin ? "-spinning" : ""), model, threads, reference.ids().length, newTokens, reps,
              median(v[c]), vision, vision, median(v[4 + c]), median(v[6 + c]), median(v[8 + c]),
              median(v[10 + c]), median(v[12 + c]), rss, size, imageTokens, median(v[14 + c]), median(v[16 + c])));
        }
        Files.write(csv, rows, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
      }
      if (idsFile != null) {
        List<String> lines = new ArrayList<>();
        lines.add(idsLine("raw-ort-prompt", size, threads, reference.ids()));
        if (vlmIds != null) {
          lines.add(idsLine("vlm4j", size, threads, vlmIds));
        }
        if (rawIds != null) {
          lines.add(idsLine("raw-ort", size, threads, rawIds));
        }
        Files.write(idsFile, lines, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
      }
    } finally {
      if (raw != null) {
        raw.close();
      }
      if (vlm != null) {
        vlm.close();
      }
    }
  }

  /** vlm4j's prompt ids must equal the raw loop's; its pixel values are compared (reported) when as long. */
  private static void checkInputs(VisionLanguageModel vlm, List<Message> chat, QwenRawOrtLoop.Prepared reference) {
    int[] ids = vlm.tokenize(chat, RequestOptions.DEFAULT).ids();
    if (!Arrays.equals(ids, reference.ids())) {
      throw new IllegalStateException("vlm4j's prompt ids differ from the raw loop's: " + ids.length + " vs "
          + reference.ids().length + " ids");
    }
    List<PreprocessedImage> images = vlm.preprocessImages(chat, RequestOptions.DEFAULT);
    float[] a = images.get(0).pixels();
    float[] b = reference.pixels();
    if (a.length != b.length) {
      System.out.printf(Locale.ROOT, "note: vlm4j's pixel values have %d floats, the raw loop's %d%n", a.length,
          b.length);
      return;
    }
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      max = Math.max(max, Math.abs(a[i] - b[i]));
    }
    // informational: vlm4j may lay its pixel values out differently; equal greedy ids are the check
    System.out.printf(Locale.ROOT, "vlm4j vs raw loop inputs: prompt ids identical (%d), pixel values max |diff| %.2e%n",
        ids.length, max);
  }

  static String sizeOf(QwenRawOrtLoop.Prepared p, QwenRawOrtLoop.Shapes s) {
    return (p.grid()[2] * s.patch()) + "x" + (p.grid()[1] * s.patch());
  }

  static String idsLine(String contender, String size, int threads, int[] ids) {
    return contender + " " + size + " " + threads + ": "
        + Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(","));
  }

  static double median(double[] x) {
    double[] s = x.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}
