package io.github.vlm4j.examples.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.vlm4j.Demo;
import io.github.vlm4j.FewShotPrompt;
import io.github.vlm4j.GenerationSession;
import io.github.vlm4j.LabelScores;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code vlm4j fewshot}: labelled demo images, then one or more query images; prints each query's
 * label scores. The demos' image features and KV cache are computed once and reused by every query.
 */
@Command(name = "fewshot", mixinStandardHelpOptions = true,
    description = {"Classify query images from a few labelled demo images (in-context learning).",
        "Example: vlm4j fewshot --demo ok1.png=ok --demo bad1.png=defective --query new.png"})
public final class FewShotCommand implements Callable<Integer> {
  /** Creates the command; picocli sets its options and parameters from the command line. */
  public FewShotCommand() {}

  @Mixin
  Vlm4jCommand.ModelOptions model = new Vlm4jCommand.ModelOptions();

  @Mixin
  FewShotOptions fewShot = new FewShotOptions();

  @Option(names = "--demo", paramLabel = "IMG=LABEL", required = true,
      description = "A demonstration: image file and its label (repeatable, in prompt order).")
  List<String> demos = new ArrayList<>();

  @Option(names = "--query", paramLabel = "IMG", required = true,
      description = "A query image (repeatable: each is answered in turn, reusing the cached demos).")
  List<Path> queries = new ArrayList<>();

  @Option(names = "--labels", paramLabel = "A,B,...", split = ",",
      description = "Candidate labels (default: the demos' distinct labels).")
  List<String> labels;

  @Option(names = "--generate", description = "Also generate a free-form answer for each query.")
  boolean generate;

  @Option(names = "--json", description = "Print one JSON object instead of text.")
  boolean json;

  @Override
  public Integer call() {
    model.validate();
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    try {
      List<Demo> demoList = parseDemos(demos);
      List<String> candidates = labels != null ? labels
          : List.copyOf(new LinkedHashSet<>(demoList.stream().map(Demo::answer).toList()));
      RequestOptions options = fewShot.requestOptions();
      ObjectMapper mapper = new ObjectMapper();
      ObjectNode root = mapper.createObjectNode();
      ArrayNode results = root.putArray("queries");
      try (ProgressReporter progress = ProgressReporter.forStderr(false); VisionLanguageModel m = model.load(progress);
          GenerationSession s = m.newSession()) {
        Flags.checkImageSplitting(m, fewShot.noImageSplitting);
        FewShotPrompt base = fewShot.promptBuilder().demos(demoList)
            .query(ImageInput.of(queries.get(0))).build();
        for (Path q : queries) {
          FewShotPrompt p = base.withQuery(List.of(ImageInput.of(q)), fewShot.question);
          LabelScores sc = s.classify(p, candidates, options);
          ObjectNode r = results.addObject();
          r.put("query", q.toString());
          r.put("label", sc.best().label());
          ArrayNode arr = r.putArray("scores");
          for (LabelScores.LabelScore l : sc.scores()) {
            arr.addObject().put("label", l.label()).put("logProb", l.logProb()).put("probability", l.probability());
          }
          r.put("promptTokens", sc.usage().promptTokens());
          r.put("imageTokens", sc.usage().imageTokens());
          r.put("cachedPrefixTokens", sc.cachedPrefixTokens());
          r.put("ms", Math.round(sc.usage().timings().totalMs() * 1000) / 1000.0);
          String line = String.format(Locale.ROOT, "%s -> %s (p=%.3f)  [%s]  %d prompt tokens, %d from cache, %.1f ms",
              q.getFileName(), sc.best().label(), sc.best().probability(),
              String.join(", ", sc.scores().stream().map(l -> String.format(Locale.ROOT, "%s %.3f", l.label(),
                  l.probability())).toList()), sc.usage().promptTokens(), sc.cachedPrefixTokens(),
              sc.usage().timings().totalMs());
          if (generate) {
            GenerationResult g = s.generate(p, GenerationConfig.builder().maxNewTokens(32).build(), options,
                TokenStreamer.none());
            r.put("generated", g.text().strip());
            line += "  generated: " + g.text().strip();
          }
          if (!json) {
            out.println(line);
          }
        }
        if (json) {
          root.put("model", m.source());
          out.println(root);
        }
      }
      return 0;
    } catch (Exception e) {
      return Errors.report(e, model.verbose);
    }
  }

  /** @param specs {@code IMG=LABEL} strings @return demos */
  static List<Demo> parseDemos(List<String> specs) {
    List<Demo> out = new ArrayList<>();
    for (String spec : specs) {
      int eq = spec.lastIndexOf('=');
      if (eq <= 0 || eq == spec.length() - 1) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_DEMO,
            "--demo expects IMG=LABEL (an image file, '=', a label), got \"" + spec + "\"");
      }
      out.add(Demo.of(ImageInput.of(Path.of(spec.substring(0, eq))), spec.substring(eq + 1)));
    }
    return out;
  }
}
