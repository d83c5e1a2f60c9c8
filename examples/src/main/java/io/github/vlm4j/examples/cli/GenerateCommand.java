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
import io.github.vlm4j.decoder.generation.ConstraintStatus;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import io.github.vlm4j.decoder.generation.constraint.OutputConstraint;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code vlm4j generate}: one prompt with images in, text out (streamed, or one JSON object). */
@Command(name = "generate", mixinStandardHelpOptions = true,
    description = {"Generate a reply to a prompt with images.",
        "If the prompt contains <image> markers, their count must equal the number of --image options and the"
            + " images go there; otherwise all images come before the text in one user turn."})
public final class GenerateCommand implements Callable<Integer> {
  /** Creates the command; picocli sets its options and parameters from the command line. */
  public GenerateCommand() {}

  @Mixin
  Vlm4jCommand.ModelOptions model = new Vlm4jCommand.ModelOptions();

  @Option(names = "--image", paramLabel = "PATH", description = "An image file (repeatable, in order).")
  List<Path> images = new ArrayList<>();

  @Option(names = "--prompt", paramLabel = "TEXT", required = true, description = "The user's text.")
  String prompt;

  @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "128",
      description = "Most tokens to generate, 1 to 1048576 (default: ${DEFAULT-VALUE}).")
  int maxNewTokens;

  @Option(names = "--no-image-splitting",
      description = "Do not tile images (one frame per image). Only for models that split images (Idefics3/SmolVLM, LFM2-VL);"
          + " on others it is a usage error.")
  boolean noImageSplitting;

  @Option(names = "--min-pixels", paramLabel = "N",
      description = "With --max-pixels: resize each image into [N, --max-pixels] pixels instead of the model's"
          + " min_pixels/max_pixels. Only for dynamic-resolution models (Qwen-VL, LFM2-VL); on others it is a usage error.")
  Integer minPixels;

  @Option(names = "--max-pixels", paramLabel = "N",
      description = "With --min-pixels: the most pixels each image is resized to, which bounds its image tokens"
          + " (one per 28x28 pixels on Qwen2-VL). Honoured: an image that cannot fit is refused.")
  Integer maxPixels;

  @Option(names = "--temperature", paramLabel = "T", defaultValue = "0",
      description = "Sampling temperature: 0 = greedy decoding, or 1e-6 to 1e6 to sample (default: ${DEFAULT-VALUE}).")
  double temperature;

  @Option(names = "--top-k", paramLabel = "K",
      description = "Sample from the K most likely tokens (0 = off). Needs --temperature.")
  Integer topK;

  @Option(names = "--top-p", paramLabel = "P",
      description = "Sample from the smallest set of tokens whose probability reaches P, in (0, 1] (1 = off)."
          + " Needs --temperature.")
  Double topP;

  @Option(names = "--seed", paramLabel = "S", description = "Seed for sampling (any long). Needs --temperature.")
  Long seed;

  @Option(names = "--repetition-penalty", paramLabel = "R", defaultValue = "1",
      description = "Repetition penalty, 1e-6 to 1e6 (default: ${DEFAULT-VALUE} = off); applies to greedy decoding too.")
  double repetitionPenalty;

  @Option(names = "--presence-penalty", paramLabel = "P", defaultValue = "0",
      description = "Subtracted once from the logit of each token generated so far, in [-2, 2] (default:"
          + " ${DEFAULT-VALUE} = off; OpenAI's presence_penalty).")
  double presencePenalty;

  @Option(names = "--frequency-penalty", paramLabel = "F", defaultValue = "0",
      description = "Subtracted from the logit of each generated token per time it was generated, in [-2, 2]"
          + " (default: ${DEFAULT-VALUE} = off; OpenAI's frequency_penalty).")
  double frequencyPenalty;

  @Option(names = "--stop", paramLabel = "STRING",
      description = "Stop when this text appears (repeatable; 1 to 1024 characters each, at most 1024).")
  List<String> stops = new ArrayList<>();

  @Option(names = "--json-schema", paramLabel = "FILE",
      description = "Constrain the output to JSON valid under this JSON Schema (the supported subset: README)."
          + " At most one of --json-schema, --regex, --choice; not with --stop.")
  Path jsonSchema;

  @Option(names = "--regex", paramLabel = "REGEX",
      description = "Constrain the whole output to match this regular expression (dk.brics syntax: README).")
  String regex;

  @Option(names = "--choice", paramLabel = "A,B,...", split = ",",
      description = "Constrain the output to exactly one of these strings.")
  List<String> choices;

  @Option(names = "--adapter", paramLabel = "NAME", description = "Use this cross-modal adapter (modular models).")
  String adapter;

  @Option(names = "--json", description = "Print one JSON object (text, generated and prompt token ids, counts,"
      + " finish reason, constraint status, timings) instead of streaming text.")
  boolean json;

  @Option(names = "--dump", paramLabel = "DIR",
      description = "Also write the pixel values the vision encoder gets into DIR (created if missing): one NumPy"
          + " file image-<i>-frame-<j>.npy per frame (little-endian float32, shape (3, H, W)) and pixels.json"
          + " (per image: frames, height, width, tile rows and columns, files).")
  Path dump;

  @Spec
  CommandSpec spec;

  static final String MARKER = "<image>";

  /** The accepted range of a sampling temperature and of the repetition penalty. */
  private static final String FACTOR_RANGE = "[" + Flags.num(GenerationConfig.MIN_TEMPERATURE) + ", "
      + Flags.num(GenerationConfig.MAX_FACTOR) + "]";

  @Override
  public Integer call() {
    model.validate();
    GenerationConfig config = config();
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    try {
      Message message = buildMessage(prompt, images);
      RequestOptions options = RequestOptions.DEFAULT;
      if (noImageSplitting) {
        options = options.withImageSplitting(false);
      }
      if (adapter != null) {
        options = options.withAdapter(adapter);
      }
      if ((minPixels == null) != (maxPixels == null)) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION,
            "--min-pixels and --max-pixels go together; found only " + (minPixels == null ? "--max-pixels" : "--min-pixels"));
      }
      if (minPixels != null) {
        options = options.withPixelBudget(minPixels, maxPixels);
      }
      try (ProgressReporter progress = ProgressReporter.forStderr(true); VisionLanguageModel m = model.load(progress)) {
        Flags.checkImageSplitting(m, noImageSplitting);
        List<Message> messages = List.of(message);
        if (dump != null) {
          PixelDump.write(dump, m.preprocessImages(messages, options));
        }
        int[] promptIds = json ? m.tokenize(messages, options).ids() : null;
        TokenStreamer streamer = json ? TokenStreamer.none() : out::print;
        GenerationResult r = m.generate(messages, config, options, streamer);
        if (json) {
          out.println(toJson(r, promptIds, m));
        } else {
          out.println();
        }
        if (r.constraint() == ConstraintStatus.INCOMPLETE) {
          System.err.println("vlm4j: the output is incomplete under the constraint (generation ended by "
              + r.finishReason() + "; raise --max-new-tokens)");
        }
      }
      return Vlm4jCommand.EXIT_OK;
    } catch (Exception e) {
      return Errors.report(e, model.verbose);
    }
  }

  /**
   * Checks every generation flag against the library's ranges (so messages name the flag) and that
   * sampling-only flags come with a temperature.
   *
   * @return the generation config the flags select
   * @throws picocli.CommandLine.ParameterException naming the first wrong flag
   */
  GenerationConfig config() {
    Flags.check(spec, "--max-new-tokens", maxNewTokens >= 1 && maxNewTokens <= GenerationConfig.MAX_NEW_TOKENS,
        "in [1, " + GenerationConfig.MAX_NEW_TOKENS + "]", maxNewTokens);
    Flags.check(spec, "--temperature", temperature == 0
            || (temperature >= GenerationConfig.MIN_TEMPERATURE && temperature <= GenerationConfig.MAX_FACTOR),
        "0 (greedy) or in " + FACTOR_RANGE, temperature);
    boolean sampling = temperature > 0;
    String[] samplingOnly = {"--seed", "--top-k", "--top-p"};
    Object[] given = {seed, topK, topP};
    for (int i = 0; i < samplingOnly.length; i++) {
      if (given[i] != null && !sampling) {
        throw Flags.usage(spec, samplingOnly[i] + " needs --temperature (sampling); without it decoding is greedy");
      }
    }
    Flags.check(spec, "--top-k", topK == null || topK >= 0, ">= 0 (0 = off)", topK);
    Flags.check(spec, "--top-p", topP == null || (topP > 0 && topP <= 1), "in (0, 1] (1 = off)", topP);
    Flags.check(spec, "--repetition-penalty", repetitionPenalty >= GenerationConfig.MIN_TEMPERATURE
        && repetitionPenalty <= GenerationConfig.MAX_FACTOR, "in " + FACTOR_RANGE + " (1 = off)", repetitionPenalty);
    Flags.check(spec, "--presence-penalty", Math.abs(presencePenalty) <= GenerationConfig.MAX_PENALTY,
        "in [-2, 2] (0 = off)", presencePenalty);
    Flags.check(spec, "--frequency-penalty", Math.abs(frequencyPenalty) <= GenerationConfig.MAX_PENALTY,
        "in [-2, 2] (0 = off)", frequencyPenalty);
    Flags.check(spec, "--stop", stops.size() <= GenerationConfig.MAX_STOP_STRINGS,
        "given at most " + GenerationConfig.MAX_STOP_STRINGS + " times", stops.size() + " times");
    for (String stop : stops) {
      Flags.check(spec, "--stop", !stop.isEmpty() && stop.length() <= 1024, "1 to 1024 characters",
          stop.length() + " characters");
    }
    GenerationConfig.Builder cfg = GenerationConfig.builder().maxNewTokens(maxNewTokens).temperature(temperature)
        .repetitionPenalty(repetitionPenalty).presencePenalty(presencePenalty).frequencyPenalty(frequencyPenalty)
        .stopStrings(stops);
    if (topK != null) {
      cfg.topK(topK);
    }
    if (topP != null) {
      cfg.topP(topP);
    }
    if (seed != null) {
      cfg.seed(seed);
    }
    OutputConstraint constraint = constraint();
    if (constraint != null && !stops.isEmpty()) {
      throw Flags.usage(spec, "--stop cannot be combined with --json-schema, --regex or --choice:"
          + " the constraint decides where the output ends");
    }
    return cfg.constraint(constraint).build();
  }

  /** Largest --json-schema file: 1 MiB. */
  static final long MAX_SCHEMA_BYTES = 1 << 20;

  /**
   * Builds the output constraint the flags select.
   *
   * @return the constraint, or null without one
   * @throws picocli.CommandLine.ParameterException for several constraint flags or a bad value
   */
  private OutputConstraint constraint() {
    int given = (jsonSchema != null ? 1 : 0) + (regex != null ? 1 : 0) + (choices != null ? 1 : 0);
    if (given > 1) {
      throw Flags.usage(spec, "give at most one of --json-schema, --regex and --choice");
    }
    try {
      if (regex != null) {
        return OutputConstraint.regex(regex);
      }
      if (choices != null) {
        return OutputConstraint.choice(choices);
      }
      if (jsonSchema != null) {
        if (!Files.isRegularFile(jsonSchema)) {
          throw Flags.usage(spec, "--json-schema: " + jsonSchema + " is not a readable file");
        }
        long size = Files.size(jsonSchema);
        if (size > MAX_SCHEMA_BYTES) {
          throw Flags.usage(spec, "--json-schema: " + jsonSchema + " has " + size + " bytes, at most "
              + MAX_SCHEMA_BYTES + " are read");
        }
        return OutputConstraint.jsonSchema(Files.readString(jsonSchema, StandardCharsets.UTF_8));
      }
      return null;
    } catch (VlmInputException e) {
      String flag = regex != null ? "--regex" : choices != null ? "--choice" : "--json-schema";
      throw Flags.usage(spec, flag + ": " + e.getMessage());
    } catch (java.io.IOException | java.io.UncheckedIOException e) {
      throw Flags.usage(spec, "--json-schema: cannot read " + jsonSchema + ": " + e.getMessage());
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

  static String toJson(GenerationResult r, int[] promptIds, VisionLanguageModel m) {
    ObjectMapper mapper = new ObjectMapper();
    ObjectNode o = mapper.createObjectNode();
    o.put("text", r.text());
    ArrayNode ids = o.putArray("generatedTokenIds");
    for (int id : r.tokenIds()) {
      ids.add(id);
    }
    ArrayNode prompt = o.putArray("promptTokenIds");
    for (int id : promptIds) {
      prompt.add(id);
    }
    o.put("promptTokenCount", r.usage().promptTokens());
    o.put("imageTokenCount", r.usage().imageTokens());
    o.put("generatedTokenCount", r.usage().generatedTokens());
    o.put("finishReason", r.finishReason().name());
    o.put("constraint", r.constraint().name());
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
