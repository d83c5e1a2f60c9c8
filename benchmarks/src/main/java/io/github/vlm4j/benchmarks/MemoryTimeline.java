package io.github.vlm4j.benchmarks;

import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.onnx.SessionSettings;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Where vlm4j's resident memory goes: RSS and peak RSS of this process at start, after loading the
 * model, after a short request (one 512-px frame) and after a request padded to CONTEXT tokens, with
 * the decode speed of each request. Session options can be varied to see their memory/speed trade.
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.github.vlm4j.benchmarks.MemoryTimeline \
 *     FOLDER IMAGE CONTEXT THREADS [--no-arena] [--keep-vision-memory] [--session-config KEY=VALUE]...
 * }</pre>
 */
public final class MemoryTimeline {
  private MemoryTimeline() {}

  /**
   * @param args folder, image, context, threads, options
   * @throws Exception on failure
   */
  public static void main(String[] args) throws Exception {
    Path folder = Path.of(args[0]);
    Path image = Path.of(args[1]);
    int context = Integer.parseInt(args[2]);
    SessionSettings.Builder s = SessionSettings.builder().intraOpThreads(Integer.parseInt(args[3])).allowSpinning(false);
    StringBuilder label = new StringBuilder("defaults");
    boolean keepVisionMemory = false;
    for (int i = 4; i < args.length; i++) {
      if (args[i].equals("--no-arena")) {
        s.cpuMemoryArena(false);
        label.append(", no arena");
      } else if (args[i].equals("--keep-vision-memory")) {
        keepVisionMemory = true;
        label.append(", vision memory kept");
      } else if (args[i].equals("--session-config")) {
        String[] kv = args[++i].split("=", 2);
        s.configEntry(kv[0], kv[1]);
        label.append(", ").append(args[i]);
      }
    }
    print("start (" + label + ")", null);
    try (VisionLanguageModel m = VisionLanguageModel.builder(folder).sessionSettings(s.build()).imageCacheBytes(0)
        .releaseVisionMemory(!keepVisionMemory).build()) {
      print("model loaded", null);
      RequestOptions o = RequestOptions.DEFAULT.withImageSplitting(false);
      GenerationConfig cfg = GenerationConfig.builder().maxNewTokens(32).eosTokenIds(List.of(Integer.MAX_VALUE)).build();
      List<Message> shortChat = List.of(Message.user(ImageInput.of(image), "Describe this image."));
      print("after a short request", m.generate(shortChat, cfg, o, TokenStreamer.none()));
      List<Message> longChat = RawLoopComparison.paddedChat(m, image, o, context);
      print("after a request of " + m.countTokens(longChat, o).promptTokens() + " tokens",
          m.generate(longChat, cfg, o, TokenStreamer.none()));
    }
  }

  private static void print(String when, GenerationResult r) {
    System.out.printf(Locale.ROOT, "| %s | %.0f | %.0f | %s |%n", when, Heap.rssMib(), Heap.peakRssMib(),
        r == null ? "" : String.format(Locale.ROOT, "prefill %.0f ms, decode %.1f ms/token", r.usage().timings().prefillMs(),
            r.usage().timings().meanDecodeStepMs()));
  }
}
