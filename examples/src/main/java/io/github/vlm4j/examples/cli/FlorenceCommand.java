package io.github.vlm4j.examples.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.vlm4j.LabelScores;
import io.github.vlm4j.core.onnx.SessionSettings;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import io.github.vlm4j.florence.FlorenceAnswer;
import io.github.vlm4j.florence.FlorenceBox;
import io.github.vlm4j.florence.FlorenceInput;
import io.github.vlm4j.florence.FlorenceModel;
import io.github.vlm4j.florence.FlorenceQuad;
import io.github.vlm4j.florence.FlorenceRegion;
import io.github.vlm4j.florence.FlorenceResult;
import io.github.vlm4j.florence.FlorenceTask;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code vlm4j florence}: runs one Florence-2 task on an image and prints its post-processed answer
 * (boxes and quadrilaterals in the image's pixel coordinates, or text).
 */
@Command(name = "florence", mixinStandardHelpOptions = true,
    description = "Run a Florence-2 task (caption, OCR, detection, grounding, region tasks) on an image.")
public final class FlorenceCommand implements Callable<Integer> {
  /** Creates the command; picocli sets its options and parameters from the command line. */
  public FlorenceCommand() {}

  @Spec
  CommandSpec spec;

  @Mixin
  Vlm4jCommand.ModelOptions model = new Vlm4jCommand.ModelOptions();

  @Option(names = "--task", paramLabel = "TASK", required = true,
      description = "The task, e.g. OD, CAPTION, DETAILED_CAPTION, OCR, OCR_WITH_REGION, DENSE_REGION_CAPTION,"
          + " REGION_PROPOSAL, CAPTION_TO_PHRASE_GROUNDING, REGION_TO_CATEGORY (with or without <>).")
  String task;

  @Option(names = "--image", paramLabel = "PATH", required = true, description = "The image file.")
  Path image;

  @Option(names = "--input", paramLabel = "TEXT",
      description = "The text input of tasks that take one (a caption for CAPTION_TO_PHRASE_GROUNDING, ...).")
  String input;

  @Option(names = "--region", paramLabel = "X1,Y1,X2,Y2", split = ",",
      description = "The region of a REGION_TO_* task as four location bins in [0, 999].")
  int[] region;

  @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "1024",
      description = "Most tokens to generate (default: ${DEFAULT-VALUE}).")
  int maxNewTokens;

  @Option(names = "--labels", paramLabel = "A,B,...", split = ",",
      description = "Score these candidate answers instead of generating (e.g. captions with --task CAPTION):"
          + " prints each label's probability, best first in --json's \"best\".")
  List<String> labels;

  @Option(names = "--json", description = "Print one JSON object (task, prompt, raw text, result, ids, timings).")
  boolean json;

  @Override
  public Integer call() {
    model.validate();
    if (model.model == null) {
      throw Flags.usage(spec, "--model is required: the built-in model is not a Florence-2 model");
    }
    String token = task.startsWith("<") ? task : "<" + task.toUpperCase(Locale.ROOT) + ">";
    FlorenceTask t = FlorenceTask.fromToken(token).orElseThrow(() -> Flags.usage(spec, "unknown --task " + task
        + "; tasks: " + Arrays.stream(FlorenceTask.values()).map(FlorenceTask::name).toList()));
    if (maxNewTokens < 1 || maxNewTokens > 1 << 16) {
      throw Flags.usage(spec, "--max-new-tokens must be in [1, 65536], got " + maxNewTokens);
    }
    FlorenceInput in = null;
    if (t.takesRegion()) {
      if (region == null || region.length != 4 || input != null) {
        throw Flags.usage(spec, t.name() + " takes --region X1,Y1,X2,Y2 (four location bins) and no --input");
      }
      try {
        in = new FlorenceRegion(region[0], region[1], region[2], region[3]);
      } catch (IllegalArgumentException e) {
        throw Flags.usage(spec, "--region: " + e.getMessage());
      }
    } else if (t.takesInput()) {
      if (input == null || region != null) {
        throw Flags.usage(spec, t.name() + " takes --input TEXT (and no --region)");
      }
      in = FlorenceInput.text(input);
    } else if (input != null || region != null) {
      throw Flags.usage(spec, t.name() + " takes no --input or --region");
    }
    SessionSettings settings = SessionSettings.builder().intraOpThreads(model.threads).build();
    try (FlorenceModel m = FlorenceModel.load(model.model, model.dtype, settings)) {
      if (labels != null) {
        LabelScores sc = m.classify(t, ImageInput.of(image), in, labels);
        if (json) {
          System.out.println(toJson(sc));
        } else {
          for (LabelScores.LabelScore l : sc.scores()) {
            System.out.printf(Locale.ROOT, "%s\t%.4f\t%.4f%n", l.label(), l.probability(), l.logProb());
          }
        }
        return 0;
      }
      FlorenceAnswer a = m.run(t, ImageInput.of(image), in, GenerationConfig.greedy(maxNewTokens), TokenStreamer.none());
      if (json) {
        System.out.println(toJson(a));
      } else {
        print(a);
      }
      return 0;
    } catch (Exception e) {
      return Errors.report(e, model.verbose);
    }
  }

  private static void print(FlorenceAnswer a) {
    if (a.result().isEmpty()) {
      System.out.println(a.rawText());
      return;
    }
    FlorenceResult r = a.result().get();
    if (r instanceof FlorenceResult.Text text) {
      System.out.println(text.text());
    } else if (r instanceof FlorenceResult.Boxes boxes) {
      for (FlorenceBox b : boxes.boxes()) {
        System.out.printf(Locale.ROOT, "%s\t%.1f %.1f %.1f %.1f%n", b.label(), b.x1(), b.y1(), b.x2(), b.y2());
      }
    } else if (r instanceof FlorenceResult.Quads quads) {
      for (FlorenceQuad q : quads.quads()) {
        double[] c = q.coordinates();
        StringBuilder sb = new StringBuilder(q.label()).append('\t');
        for (int i = 0; i < c.length; i++) {
          sb.append(i == 0 ? "" : " ").append(String.format(Locale.ROOT, "%.1f", c[i]));
        }
        System.out.println(sb);
      }
    }
  }

  static String toJson(LabelScores sc) {
    ObjectNode o = new ObjectMapper().createObjectNode();
    o.put("best", sc.best().label());
    ArrayNode arr = o.putArray("scores");
    for (LabelScores.LabelScore l : sc.scores()) {
      ArrayNode ids = arr.addObject().put("label", l.label()).put("logProb", l.logProb())
          .put("probability", l.probability()).putArray("tokenIds");
      for (int id : l.tokenIds()) {
        ids.add(id);
      }
    }
    o.put("promptTokens", sc.usage().promptTokens());
    o.put("imageTokens", sc.usage().imageTokens());
    o.put("ms", sc.usage().timings().totalMs());
    return o.toString();
  }

  static String toJson(FlorenceAnswer a) {
    ObjectMapper om = new ObjectMapper();
    ObjectNode o = om.createObjectNode();
    o.put("task", a.task().token());
    o.put("prompt", a.prompt());
    o.put("rawText", a.rawText());
    ObjectNode result = o.putObject("result");
    a.result().ifPresentOrElse(r -> {
      if (r instanceof FlorenceResult.Text text) {
        result.put("text", text.text());
      } else if (r instanceof FlorenceResult.Boxes boxes) {
        ArrayNode arr = result.putArray("boxes");
        for (FlorenceBox b : boxes.boxes()) {
          ObjectNode n = arr.addObject().put("label", b.label());
          ArrayNode c = n.putArray("box");
          for (double v : b.coordinates()) {
            c.add(v);
          }
        }
      } else if (r instanceof FlorenceResult.Quads quads) {
        ArrayNode arr = result.putArray("quads");
        for (FlorenceQuad q : quads.quads()) {
          ObjectNode n = arr.addObject().put("label", q.label());
          ArrayNode c = n.putArray("quad");
          for (double v : q.coordinates()) {
            c.add(v);
          }
        }
      }
    }, () -> result.putNull("text"));
    ArrayNode ids = o.putArray("generatedTokenIds");
    for (int id : a.generation().tokenIds()) {
      ids.add(id);
    }
    o.put("finishReason", a.generation().finishReason().name().toLowerCase(Locale.ROOT));
    var t = a.generation().usage().timings();
    o.putObject("timingsMs").put("preprocess", t.preprocessMs()).put("vision", t.visionMs()).put("prefill", t.prefillMs())
        .put("timeToFirstToken", t.timeToFirstTokenMs()).put("total", t.totalMs());
    return o.toString();
  }
}
