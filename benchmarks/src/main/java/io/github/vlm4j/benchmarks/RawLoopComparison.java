package io.github.vlm4j.benchmarks;

import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.StageTimings;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import io.github.vlm4j.vision.Idefics3Preprocessor;
import io.github.vlm4j.vision.ImageDecoder;
import io.github.vlm4j.vision.PreprocessedImage;
import io.github.vlm4j.vision.PreprocessorConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * vlm4j vs {@link RawOrtLoop} on the same onnx-community Idefics3 folder, same prompt, same thread
 * count, greedy, a fixed number of new tokens (no EOS), runs interleaved; medians after warm-up.
 * The raw loop gets vlm4j's prompt ids and pixel values for free, so its numbers are graph work only;
 * vlm4j's "TTFT" includes decoding the image, preprocessing, the chat template and tokenization, and
 * its "TTFT − preprocess" is the comparable figure. Checks that both produce the same ids.
 *
 * <p>Heap per decode step: bytes the calling thread allocated between the second and the last new
 * token, per step ({@code ThreadMXBean}); ONNX Runtime's own threads allocate no Java heap. With
 * {@code --only vlm4j|raw} a single contender runs and the process's peak RSS ({@code VmHWM}) is
 * reported (for the raw loop, after vlm4j computed its inputs and was closed, the peak is reset).
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.github.vlm4j.benchmarks.RawLoopComparison \
 *     FOLDER IMAGE NEW_TOKENS REPS THREADS split|nosplit [CONTEXT] \
 *     [--dtype fp32|q8] [--warmup 3] [--csv results.csv] [--only vlm4j|raw] [--prefill-chunk N]
 *     [--session-config KEY=VALUE]... [--keep-vision-memory] [--max-batch N]
 * }</pre>
 * CONTEXT pads the prompt with text to about that many tokens (0 = no padding).
 */
public final class RawLoopComparison {
  private RawLoopComparison() {}

  /** CSV columns (one row per contender and configuration). */
  static final String CSV_HEADER = "contender,model,dtype,threads,split,frames,prompt_tokens,new_tokens,reps,"
      + "preprocess_ms,vision_ms,vision_ms_per_frame,prefill_ms,ttft_ms,ttft_minus_preprocess_ms,decode_tok_s,"
      + "heap_bytes_per_step,peak_rss_mib";

  /**
   * @param args see the class comment
   * @throws Exception on failure
   */
  public static void main(String[] args) throws Exception {
    List<String> pos = new ArrayList<>();
    String dtype = "fp32";
    int warm = 3;
    Path csv = null;
    String only = null;
    int prefillChunk = 0;
    boolean keepVisionMemory = false;
    int maxBatch = 0;
    List<String[]> sessionConfig = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--dtype" -> dtype = args[++i];
        case "--warmup" -> warm = Integer.parseInt(args[++i]);
        case "--csv" -> csv = Path.of(args[++i]);
        case "--only" -> only = args[++i];
        case "--prefill-chunk" -> prefillChunk = Integer.parseInt(args[++i]);
        case "--session-config" -> sessionConfig.add(args[++i].split("=", 2));
        case "--keep-vision-memory" -> keepVisionMemory = true;
        case "--max-batch" -> maxBatch = Integer.parseInt(args[++i]);
        default -> pos.add(args[i]);
      }
    }
    Path folder = Path.of(pos.get(0));
    Path image = Path.of(pos.get(1));
    int newTokens = Integer.parseInt(pos.get(2));
    int reps = Integer.parseInt(pos.get(3));
    int threads = Integer.parseInt(pos.get(4));
    boolean split = pos.size() <= 5 || !pos.get(5).equals("nosplit");
    int context = pos.size() > 6 ? Integer.parseInt(pos.get(6)) : 0;
    boolean runVlm = only == null || only.equals("vlm4j");
    boolean runRaw = only == null || only.equals("raw");
    RequestOptions options = RequestOptions.DEFAULT.withImageSplitting(split);
    GenerationConfig config = GenerationConfig.builder().maxNewTokens(newTokens)
        .eosTokenIds(List.of(Integer.MAX_VALUE)).build();   // never stops early: equal work for both
    var builder = VisionLanguageModel.builder(folder).threads(threads).allowSpinning(false).dtype(dtype)
        .imageCacheBytes(0).releaseVisionMemory(!keepVisionMemory);
    if (prefillChunk > 0) {
      builder.prefillChunkTokens(prefillChunk);
    }
    if (maxBatch > 0) {
      builder.maxBatchSize(maxBatch);   // 1: each request steps alone (no continuous batching)
    }
    sessionConfig.forEach(kv -> builder.sessionConfig(kv[0], kv[1]));
    VisionLanguageModel vlm = builder.build();
    List<Message> chat = paddedChat(vlm, image, options, context);
    var text = vlm.textConfig();
    RawRequest request = RawRequest.of(vlm, folder, chat, image, options);
    int[] ids = request.ids();
    PreprocessedImage px = request.pixels();
    if (!runVlm) {
      vlm.close();
      vlm = null;
      System.gc();
      Heap.resetPeakRss();
    }
    RawOrtLoop raw = runRaw ? RawOrtLoop.open(folder, dtype, threads, text) : null;
    try {
      double[][] v = new double[14][reps];
      for (int i = -warm; i < reps; i++) {
        GenerationResult g = null;
        StepHeap heap = new StepHeap();
        if (runVlm) {
          g = vlm.generate(chat, config, options, heap);
        }
        RawOrtLoop.Run r = runRaw ? request.run(raw, newTokens) : null;
        if (g != null && r != null && !Arrays.equals(g.tokenIds(), r.ids())) {
          throw new IllegalStateException("vlm4j and the raw loop disagree: " + Arrays.toString(g.tokenIds())
              + " vs " + Arrays.toString(r.ids()));
        }
        if (i < 0) {
          continue;
        }
        if (g != null) {
          StageTimings t = g.usage().timings();
          v[0][i] = t.visionMs();
          v[2][i] = t.prefillMs();
          v[4][i] = t.timeToFirstTokenMs() - t.preprocessMs();
          v[6][i] = 1000.0 / Arrays.stream(t.decodeStepMs()).average().orElse(Double.NaN);
          v[8][i] = heap.perStep();
          v[10][i] = t.preprocessMs();
          v[12][i] = t.timeToFirstTokenMs();
        }
        if (r != null) {
          v[1][i] = r.visionMs();
          v[3][i] = r.prefillMs();
          v[5][i] = r.ttftMs();
          v[7][i] = 1000.0 / Arrays.stream(r.stepMs()).average().orElse(Double.NaN);
          v[9][i] = r.heapBytesPerStep();
          v[13][i] = r.ttftMs();
        }
      }
      double rss = only != null ? Heap.peakRssMib() : Double.NaN;
      String model = folder.getFileName().toString();
      System.out.printf(Locale.ROOT, "%s, %s, %s, %d threads, %d frame(s), prompt %d tokens, %d new tokens, medians of"
          + " %d%s%n%n", model, dtype, split ? "split" : "no split", threads, px.frames(), ids.length, newTokens, reps,
          only == null ? ", ids identical" : ", only " + only + String.format(Locale.ROOT, ", peak RSS %.0f MiB", rss));
      System.out.printf(Locale.ROOT, "| figure (median) | vlm4j | raw ORT loop | vlm4j / raw |%n|---|---|---|---|%n");
      String[] names = {"vision + projector ms", "embed + prefill ms", "TTFT − preprocessing ms", "decode tokens/s",
          "Java heap bytes per decode step"};
      for (int k = 0; k < names.length; k++) {
        double a = median(v[2 * k]);
        double b = median(v[2 * k + 1]);
        System.out.printf(Locale.ROOT, "| %s | %.2f | %.2f | %.3f |%n", names[k], a, b, a / b);
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
          double vision = median(v[c]);
          rows.add(String.format(Locale.ROOT, "%s,%s,%s,%d,%s,%d,%d,%d,%d,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.3f,%.0f,%.0f",
              c == 0 ? "vlm4j" + (prefillChunk > 0 ? "-prefill-chunk-" + prefillChunk : "")
                  + (keepVisionMemory ? "-keep-vision-memory" : "") : "raw-ort", model, dtype, threads, split ? "split" : "nosplit", px.frames(), ids.length,
              newTokens, reps, c == 0 ? median(v[10]) : 0.0, vision, vision / px.frames(), median(v[2 + c]),
              median(v[12 + c]), median(v[4 + c]), median(v[6 + c]), median(v[8 + c]), rss));
        }
        Files.write(csv, rows, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
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

  /** The chat, its text padded until the prompt has about {@code context} tokens (0: unpadded). */
  static List<Message> paddedChat(VisionLanguageModel vlm, Path image, RequestOptions options, int context) {
    List<Message> chat = List.of(Message.user(ImageInput.of(image), "Describe this image."));
    if (context <= 0) {
      return chat;
    }
    String unit = "The quick brown fox jumps over the lazy dog. ";
    int base = vlm.countTokens(chat, options).promptTokens();
    int per = vlm.countTokens(List.of(Message.user(ImageInput.of(image), unit.repeat(10) + "Describe this image.")),
        options).promptTokens() - base;
    int n = Math.max(0, (int) Math.ceil((context - base) * 10.0 / per));
    return List.of(Message.user(ImageInput.of(image), unit.repeat(n) + "Describe this image."));
  }

  /**
   * What the raw loop is given for free: vlm4j's prompt ids and the image's pixel values.
   *
   * @param ids prompt token ids (image tokens expanded)
   * @param imageTokenId id of the image placeholder token
   * @param pixels the preprocessed image
   */
  record RawRequest(int[] ids, int imageTokenId, PreprocessedImage pixels) {
    static RawRequest of(VisionLanguageModel vlm, Path folder, List<Message> chat, Path image, RequestOptions options)
        throws io.github.vlm4j.core.ModelLoadException {
      boolean split = options.imageSplitting().orElseThrow();
      return new RawRequest(vlm.tokenize(chat, options).ids(),
          io.github.vlm4j.core.model.ModelConfig.read(ModelFolder.of(folder)).rootInt("image_token_id").orElseThrow(),
          new Idefics3Preprocessor(PreprocessorConfig.read(ModelFolder.of(folder)))
              .preprocess(new ImageDecoder(ImageDecoder.DEFAULT_MAX_PIXELS).decode(ImageInput.of(image)), split));
    }

    RawOrtLoop.Run run(RawOrtLoop raw, int newTokens) throws Exception {
      return raw.generate(ids, imageTokenId, List.of(pixels.pixels()), new int[] {pixels.frames()}, pixels.height(),
          newTokens, new int[0]);
    }
  }

  /** Heap allocated by the generating thread between the second and the last new token, per step. */
  private static final class StepHeap implements TokenStreamer {
    private int tokens;
    private long atSecond;
    private long atLast;

    @Override
    public void onText(String delta) {}

    @Override
    public void onToken(int tokenId) {
      long now = Heap.allocatedBytes();
      tokens++;
      if (tokens == 2) {
        atSecond = now;
      }
      atLast = now;
    }

    double perStep() {
      return tokens > 2 ? (double) (atLast - atSecond) / (tokens - 2) : Double.NaN;
    }
  }

  private static double median(double[] x) {
    double[] s = x.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}
