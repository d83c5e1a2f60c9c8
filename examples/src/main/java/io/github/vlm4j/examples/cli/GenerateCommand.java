package io.github.vlm4j.examples.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.StageTimings;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code vlm4j generate}: one prompt with images in, text out (streamed, or one JSON object). */
@Command(name = "generate", mixinStandardHelpOptions = true,
    description = {"Generate a reply to a prompt with images.",
        "If the prompt contains <image> markers, their count must equal the number of --image options and the"
            + " images go there; otherwise all images come before the text in one user turn."})
public final class GenerateCommand implements Callable<Integer> {
  @Mixin
  Vlm4jCommand.ModelOptions model = new Vlm4jCommand.ModelOptions();

  @Option(names = "--image", paramLabel = "PATH", description = "An image file (repeatable, in order).")
  List<Path> images = new ArrayList<>();

  @Option(names = "--prompt", paramLabel = "TEXT", required = true, description = "The user's text.")
  String prompt;

  @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "128",
      description = "Most tokens to generate (default: ${DEFAULT-VALUE}).")
  int maxNewTokens;

  @Option(names = "--no-image-splitting", description = "Do not tile images (one frame per image).")
  boolean noImageSplitting;

  @Option(names = "--temperature", paramLabel = "T", defaultValue = "0",
      description = "Sampling temperature; 0 = greedy (default: ${DEFAULT-VALUE}).")
  double temperature;

  @Option(names = "--top-k", paramLabel = "K", defaultValue = "0", description = "Top-k when sampling (0 = off).")
  int topK;

  @Option(names = "--top-p", paramLabel = "P", defaultValue = "1", description = "Top-p when sampling (1 = off).")
  double topP;

  @Option(names = "--repetition-penalty", paramLabel = "R", defaultValue = "1", description = "Repetition penalty (1 = off).")
  double repetitionPenalty;

  @Option(names = "--seed", paramLabel = "S", description = "Seed for sampling.")
  Long seed;

  @Option(names = "--stop", paramLabel = "STRING", description = "Stop when this text appears (repeatable).")
  List<String> stops = new ArrayList<>();

  @Option(names = "--adapter", paramLabel = "NAME", description = "Use this cross-modal adapter (modular models).")
  String adapter;

  @Option(names = "--json", description = "Print one JSON object (text, ids, counts, finish reason, timings) instead of streaming text.")
  boolean json;

  static final String MARKER = "<image>";

  @Override
  public Integer call() {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    try {
      Message message = buildMessage(prompt, images);
      GenerationConfig.Builder cfg = GenerationConfig.builder().maxNewTokens(maxNewTokens).temperature(temperature)
          .topK(topK).topP(topP).repetitionPenalty(repetitionPenalty).stopStrings(stops);
      if (seed != null) {
        cfg.seed(seed);
      }
      GenerationConfig config = cfg.build();
      RequestOptions options = RequestOptions.DEFAULT;
      if (noImageSplitting) {
        options = options.withImageSplitting(false);
      }
      if (adapter != null) {
        options = options.withAdapter(adapter);
      }
      try (VisionLanguageModel m = model.load()) {
        TokenStreamer streamer = json ? TokenStreamer.none() : out::print;
        GenerationResult r = m.generate(List.of(message), config, options, streamer);
        if (json) {
          out.println(toJson(r, m));
        } else {
          out.println();
        }
      }
      return 0;
    } catch (Exception e) {
      return Errors.report(e, model.verbose);
    }
  }

  /**
   * @param prompt user text, possibly with {@code <image>} markers
   * @param images image files
   * @return the user message
   */
  static Message buildMessage(String prompt, List<Path> images) {
    int markers = prompt.split(java.util.regex.Pattern.quote(MARKER), -1).length - 1;
    List<Object> parts = new ArrayList<>();
    if (markers == 0) {
      images.forEach(p -> parts.add(ImageInput.of(p)));
      parts.add(prompt);
      return Message.user(parts.toArray());
    }
    if (markers != images.size()) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_COUNT_MISMATCH,
          "the prompt has " + markers + " " + MARKER + " marker(s) but " + images.size() + " --image option(s) were given");
    }
    String[] pieces = prompt.split(java.util.regex.Pattern.quote(MARKER), -1);
    for (int i = 0; i < pieces.length; i++) {
      if (!pieces[i].isEmpty()) {
        parts.add(pieces[i]);
      }
      if (i < images.size()) {
        parts.add(ImageInput.of(images.get(i)));
      }
    }
    return Message.user(parts.toArray());
  }

  static String toJson(GenerationResult r, VisionLanguageModel m) {
    ObjectMapper mapper = new ObjectMapper();
    ObjectNode o = mapper.createObjectNode();
    o.put("text", r.text());
    ArrayNode ids = o.putArray("generatedTokenIds");
    for (int id : r.tokenIds()) {
      ids.add(id);
    }
    o.put("promptTokenCount", r.usage().promptTokens());
    o.put("imageTokenCount", r.usage().imageTokens());
    o.put("generatedTokenCount", r.usage().generatedTokens());
    o.put("finishReason", r.finishReason().name());
    StageTimings t = r.usage().timings();
    ObjectNode tm = o.putObject("timingsMs");
    tm.put("preprocess", round(t.preprocessMs()));
    tm.put("vision", round(t.visionMs()));
    tm.put("prefill", round(t.prefillMs()));
    tm.put("timeToFirstToken", round(t.timeToFirstTokenMs()));
    tm.put("decodePerToken", round(t.meanDecodeStepMs()));
    tm.put("total", round(t.totalMs()));
    o.put("model", m.source());
    o.put("modelType", m.modelType());
    return o.toString();
  }

  private static double round(double v) {
    return Math.round(v * 1000) / 1000.0;
  }
}
