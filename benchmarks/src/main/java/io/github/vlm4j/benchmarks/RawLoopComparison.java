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
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * vlm4j vs {@link RawOrtLoop} on the same onnx-community Idefics3 folder, same prompt, same thread
 * count, greedy, a fixed number of new tokens (no EOS), runs interleaved; medians after warm-up.
 * The raw loop gets vlm4j's prompt ids and pixel values for free, so its numbers are graph work only;
 * vlm4j's "TTFT" includes decoding the image, preprocessing, the chat template and tokenization, and
 * its "TTFT − preprocess" is the comparable figure. Also checks that both produce the same ids.
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.github.vlm4j.benchmarks.RawLoopComparison \
 *     src/test/resources/models/vlm4j-tiny-idefics3 IMAGE.png 128 11 1 [split|nosplit] [CONTEXT]
 * }</pre>
 */
public final class RawLoopComparison {
  private RawLoopComparison() {}

  /**
   * @param args folder, image, new tokens, repetitions, threads, split|nosplit, optional prompt length to pad to
   * @throws Exception on failure
   */
  public static void main(String[] args) throws Exception {
    Path folder = Path.of(args[0]);
    Path image = Path.of(args[1]);
    int newTokens = Integer.parseInt(args[2]);
    int reps = Integer.parseInt(args[3]);
    int threads = Integer.parseInt(args[4]);
    boolean split = args.length <= 5 || !args[5].equals("nosplit");
    int context = args.length > 6 ? Integer.parseInt(args[6]) : 0;
    RequestOptions options = RequestOptions.DEFAULT.withImageSplitting(split);
    List<Message> chat = List.of(Message.user(ImageInput.of(image), "Describe this image."));
    GenerationConfig config = GenerationConfig.builder().maxNewTokens(newTokens)
        .eosTokenIds(List.of(Integer.MAX_VALUE)).build();   // never stops early: equal work for both
    try (VisionLanguageModel vlm = VisionLanguageModel.builder(folder).threads(threads).allowSpinning(false)
        .imageCacheBytes(0).build()) {
      var text = vlm.textConfig();
      // optional: pad the prompt with text until it has `context` tokens (decode speed vs context length)
      if (context > 0) {
        String unit = "The quick brown fox jumps over the lazy dog. ";
        int base = vlm.countTokens(chat, options).promptTokens();
        int per = vlm.countTokens(List.of(Message.user(ImageInput.of(image), unit.repeat(10) + "Describe this image.")),
            options).promptTokens() - base;
        int n = Math.max(0, (int) Math.ceil((context - base) * 10.0 / per));
        chat = List.of(Message.user(ImageInput.of(image), unit.repeat(n) + "Describe this image."));
      }
      int[] ids = vlm.tokenize(chat, options).ids();
      PreprocessedImage px = new Idefics3Preprocessor(PreprocessorConfig.read(ModelFolder.of(folder)))
          .preprocess(new ImageDecoder(ImageDecoder.DEFAULT_MAX_PIXELS).decode(ImageInput.of(image)), split);
      int imageTokenId = io.github.vlm4j.core.model.ModelConfig.read(ModelFolder.of(folder)).rootInt("image_token_id")
          .orElseThrow();
      try (RawOrtLoop raw = new RawOrtLoop(folder, threads, text.numLayers(), text.numKvHeads(), text.headDim(),
          text.vocabSize(), text.hiddenSize())) {
        int warm = 3;
        double[][] v = new double[8][reps];
        for (int i = -warm; i < reps; i++) {
          GenerationResult g = vlm.generate(chat, config, options, TokenStreamer.none());
          RawOrtLoop.Run r = raw.generate(ids, imageTokenId, List.of(px.pixels()), new int[] {px.frames()},
              px.height(), newTokens, new int[0]);
          if (!Arrays.equals(g.tokenIds(), r.ids())) {
            throw new IllegalStateException("vlm4j and the raw loop disagree: " + Arrays.toString(g.tokenIds())
                + " vs " + Arrays.toString(r.ids()));
          }
          if (i >= 0) {
            StageTimings t = g.usage().timings();
            v[0][i] = t.visionMs();
            v[1][i] = r.visionMs();
            v[2][i] = t.prefillMs();
            v[3][i] = r.prefillMs();
            v[4][i] = t.timeToFirstTokenMs() - t.preprocessMs();
            v[5][i] = r.ttftMs();
            v[6][i] = 1000.0 / Arrays.stream(t.decodeStepMs()).average().orElse(Double.NaN);
            v[7][i] = 1000.0 / Arrays.stream(r.stepMs()).average().orElse(Double.NaN);
          }
        }
        System.out.printf(Locale.ROOT, "%s, %s, %d threads, prompt %d tokens, %d new tokens, ids identical%n%n",
            folder.getFileName(), split ? "split" : "no split", threads, ids.length, newTokens);
        System.out.printf(Locale.ROOT, "| figure (median) | vlm4j | raw ORT loop | vlm4j / raw |%n|---|---|---|---|%n");
        String[] names = {"vision + projector ms", "embed + prefill ms", "TTFT − preprocessing ms", "decode tokens/s"};
        for (int k = 0; k < 4; k++) {
          double a = median(v[2 * k]);
          double b = median(v[2 * k + 1]);
          System.out.printf(Locale.ROOT, "| %s | %.2f | %.2f | %.3f |%n", names[k], a, b, a / b);
        }
      }
    }
  }

  private static double median(double[] x) {
    double[] s = x.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}
