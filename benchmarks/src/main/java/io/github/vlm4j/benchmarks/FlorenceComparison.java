package io.github.vlm4j.benchmarks;

import io.github.vlm4j.core.StageTimings;
import io.github.vlm4j.core.onnx.Dtype;
import io.github.vlm4j.core.onnx.SessionSettings;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.florence.FlorenceAnswer;
import io.github.vlm4j.florence.FlorenceModel;
import io.github.vlm4j.florence.FlorenceTask;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * vlm4j's side of the Florence-2 benchmark (BENCHMARKS.md, "Florence-2-base shape"): one process loads
 * a Florence-2 folder with {@link FlorenceModel}, runs one task on one image that needs no resize,
 * greedy, {@code NEW_TOKENS} new tokens, and appends one CSV row of medians after warm-up. The
 * transformers.js side is {@code src/test/node/bench-transformersjs-florence2.mjs} (same columns);
 * {@code benchmarks/florence.sh} alternates both and checks that their ids agree.
 *
 * <p>No early stop: the end-of-sequence ids are replaced by {@code -1} (never generated), so the run
 * ends at {@code NEW_TOKENS}, whose last token the model's forced EOS makes {@code </s>} (as
 * transformers.js, which stops there too). The row fails unless exactly {@code NEW_TOKENS} ids came.
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.github.vlm4j.benchmarks.FlorenceComparison \
 *     FOLDER IMAGE NEW_TOKENS THREADS [--task OD] [--reps 1] [--warmup 1] [--csv FILE] [--ids FILE]
 *     [--allow-spinning]
 * }</pre>
 * Columns ({@link #CSV_HEADER}): load ms (FlorenceModel.load: four sessions, tokenizer, configs),
 * preprocess ms (prompt tokenization, PNG decode, normalisation), vision ms (vision_encoder), prefill ms
 * (embed_tokens, encoder_model, the merged decoder's first step without cache), TTFT ms (request start to
 * the first new token, preprocessing included), decode tokens/s (mean over the later steps), total ms,
 * peak RSS MiB ({@code VmHWM} over load and all runs), and the process's CPU time (all threads) to the first
 * token and per decode step. ONNX Runtime's threads do not spin unless {@code --allow-spinning}.
 */
public final class FlorenceComparison {
  private FlorenceComparison() {}

  /** The CSV columns this class and the transformers.js script write. */
  static final String CSV_HEADER = "contender,model,task,threads,image,image_tokens,prompt_tokens,new_tokens,reps,"
      + "load_ms,preprocess_ms,vision_ms,prefill_ms,ttft_ms,decode_tok_s,total_ms,peak_rss_mib,ttft_cpu_ms,"
      + "decode_cpu_ms_per_token";

  /**
   * @param args see the class comment
   * @throws Exception on failure
   */
  public static void main(String[] args) throws Exception {
    List<String> pos = new ArrayList<>();
    FlorenceTask task = FlorenceTask.OD;
    int warm = 1;
    int reps = 1;
    Path csv = null;
    Path idsFile = null;
    boolean spin = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--task" -> task = FlorenceTask.valueOf(args[++i]);
        case "--warmup" -> warm = Integer.parseInt(args[++i]);
        case "--reps" -> reps = Integer.parseInt(args[++i]);
        case "--csv" -> csv = Path.of(args[++i]);
        case "--ids" -> idsFile = Path.of(args[++i]);
        case "--allow-spinning" -> spin = true;
        default -> pos.add(args[i]);
      }
    }
    if (pos.size() != 4 || reps < 1) {
      throw new IllegalArgumentException("usage: FlorenceComparison FOLDER IMAGE NEW_TOKENS THREADS [--task OD]"
          + " [--reps N>=1] [--warmup N] [--csv FILE] [--ids FILE] [--allow-spinning]");
    }
    Path folder = Path.of(pos.get(0));
    Path image = Path.of(pos.get(1));
    int newTokens = Integer.parseInt(pos.get(2));
    int threads = Integer.parseInt(pos.get(3));
    GenerationConfig config = GenerationConfig.builder().maxNewTokens(newTokens).eosTokenIds(List.of(-1)).build();
    SessionSettings settings = SessionSettings.builder().intraOpThreads(threads).allowSpinning(spin).build();

    Heap.resetPeakRss();
    long l0 = System.nanoTime();
    double[][] v = new double[8][reps];   // preprocess, vision, prefill, TTFT, tok/s, total, TTFT CPU, step CPU
    int[] ids = null;
    int[] prompt;
    int imageTokens = 0;
    String size;
    double loadMs;
    try (FlorenceModel model = FlorenceModel.load(folder, Dtype.FP32, settings)) {
      loadMs = (System.nanoTime() - l0) / 1e6;
      prompt = model.promptIds(task);
      var img = javax.imageio.ImageIO.read(image.toFile());
      if (img == null) {
        throw new IllegalArgumentException("not an image ImageIO can read: " + image);
      }
      size = img.getWidth() + "x" + img.getHeight();
      for (int i = -warm; i < reps; i++) {
        StepHeap clock = new StepHeap();
        long c0 = Heap.processCpuNanos();
        FlorenceAnswer a = model.run(task, ImageInput.of(image), null, config, clock);
        GenerationResult g = a.generation();
        if (g.tokenIds().length != newTokens) {
          throw new IllegalStateException("expected " + newTokens + " new tokens, found " + g.tokenIds().length
              + " (" + g.finishReason() + ")");
        }
        if (ids != null && !Arrays.equals(ids, g.tokenIds())) {
          throw new IllegalStateException("the greedy ids changed between runs");
        }
        ids = g.tokenIds();
        imageTokens = g.usage().imageTokens();
        if (i >= 0) {
          StageTimings t = g.usage().timings();
          v[0][i] = t.preprocessMs();
          v[1][i] = t.visionMs();
          v[2][i] = t.prefillMs();
          v[3][i] = t.timeToFirstTokenMs();
          v[4][i] = 1000.0 / Arrays.stream(t.decodeStepMs()).average().orElse(Double.NaN);
          v[5][i] = t.totalMs();
          v[6][i] = (clock.cpuFirst - c0) / 1e6;
          v[7][i] = (clock.cpuLast - clock.cpuFirst) / 1e6 / (clock.tokens - 1);
        }
      }
    }
    double rss = Heap.peakRssMib();
    double[] m = Arrays.stream(v).mapToDouble(QwenComparison::median).toArray();
    String row = String.format(Locale.ROOT,
        "vlm4j%s,%s,%s,%d,%s,%d,%d,%d,%d,%.1f,%.2f,%.2f,%.2f,%.2f,%.3f,%.2f,%.0f,%.0f,%.2f", spin ? "-spinning" : "",
        folder.getFileName(), task.name(), threads, size, imageTokens, prompt.length, newTokens, reps, loadMs,
        m[0], m[1], m[2], m[3], m[4], m[5], rss, m[6], m[7]);
    System.out.println(CSV_HEADER);
    System.out.println(row);
    if (csv != null) {
      List<String> lines = new ArrayList<>();
      if (!Files.exists(csv)) {
        lines.add(CSV_HEADER);
      }
      lines.add(row);
      Files.write(csv, lines, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }
    if (idsFile != null) {
      Files.write(idsFile, List.of(QwenComparison.idsLine("vlm4j-prompt", size, threads, prompt),
          QwenComparison.idsLine("vlm4j", size, threads, ids)), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }
  }
}
