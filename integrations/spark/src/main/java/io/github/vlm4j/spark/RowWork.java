package io.github.vlm4j.spark;

import io.github.vlm4j.Demo;
import io.github.vlm4j.GenerationSession;
import io.github.vlm4j.LabelScores;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.core.StageTimings;
import io.github.vlm4j.core.Usage;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.StructField;
import scala.jdk.javaapi.CollectionConverters;

/** What a transformer does with one row: generation or label scoring. Immutable and thread-safe. */
abstract class RowWork implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The outcome of one row: the appended column values and the usage for the metrics. */
  record Outcome(Object[] values, Usage usage) {}

  /**
   * Settings of the requests, shared by every row.
   *
   * @param maxNewTokens the token limit of rows without their own
   * @param imageSplitting image splitting for every row, or null for the model's default
   * @param maxImageTokens the image-token cap of a prompt, or null for none
   * @param pixelBudget {min, max} pixels each image is resized into (Qwen-VL, LFM2-VL), or null for the model's
   */
  record Settings(int maxNewTokens, Boolean imageSplitting, Integer maxImageTokens, int[] pixelBudget)
      implements Serializable {
    private static final long serialVersionUID = 1L;

    RequestOptions options() {
      RequestOptions o = RequestOptions.DEFAULT;
      if (imageSplitting != null) {
        o = o.withImageSplitting(imageSplitting);
      }
      if (pixelBudget != null) {
        o = o.withPixelBudget(pixelBudget[0], pixelBudget[1]);
      }
      return maxImageTokens == null ? o : o.withMaxImageTokens(maxImageTokens);
    }
  }

  final Settings settings;

  RowWork(Settings settings) {
    this.settings = settings;
  }

  /** @return the appended columns, the error column last */
  abstract StructField[] fields();

  /**
   * Runs one row in its own session.
   *
   * @param demos the library's demos built from {@code demoSet}, or null without demos
   */
  abstract Outcome run(GenerationSession session, RowRequest row, FewShotDemos demoSet, List<Demo> demos);

  /** @return the appended values of a row that failed: nulls and the error struct */
  Object[] error(String reason, String message) {
    Object[] v = new Object[fields().length];
    v[v.length - 1] = RowFactory.create(reason, message);
    return v;
  }

  static Row timings(StageTimings t) {
    return RowFactory.create(t.preprocessMs(), t.visionMs(), t.prefillMs(), t.timeToFirstTokenMs(), t.decodeMs(),
        t.decodeStepMs().length, t.totalMs());
  }

  static List<Message> chat(RowRequest row, String defaultPrompt) {
    List<Object> parts = new ArrayList<>(row.images());
    parts.add(row.prompt() == null ? defaultPrompt : row.prompt());
    return List.of(Message.user(parts.toArray()));
  }

  /** Generation: text, finish reason, token counts, timings. */
  static final class Generate extends RowWork {
    private static final long serialVersionUID = 1L;

    Generate(Settings settings) {
      super(settings);
    }

    @Override
    StructField[] fields() {
      return VlmColumns.generateFields();
    }

    @Override
    Outcome run(GenerationSession session, RowRequest row, FewShotDemos demoSet, List<Demo> demos) {
      GenerationConfig config = GenerationConfig.greedy(
          row.maxNewTokens() == null ? settings.maxNewTokens() : row.maxNewTokens());
      GenerationResult r = demos == null
          ? session.generate(chat(row, null), config, settings.options(), TokenStreamer.none())
          : session.generate(demoSet.prompt(demos, row.images(), row.prompt()), config, settings.options(),
              TokenStreamer.none());
      Usage u = r.usage();
      return new Outcome(new Object[] {r.text(), r.finishReason().name(), u.promptTokens(), u.imageTokens(),
          u.generatedTokens(), timings(u.timings()), null}, u);
    }
  }

  /** Label scoring: best label, its probability, every label's probability, token counts, timings. */
  static final class Classify extends RowWork {
    private static final long serialVersionUID = 1L;
    private final List<String> labels;
    private final String question;

    Classify(Settings settings, List<String> labels, String question) {
      super(settings);
      this.labels = List.copyOf(labels);
      this.question = question;
    }

    @Override
    StructField[] fields() {
      return VlmColumns.classifyFields();
    }

    @Override
    Outcome run(GenerationSession session, RowRequest row, FewShotDemos demoSet, List<Demo> demos) {
      LabelScores s = demos == null
          ? session.classify(chat(row, question), labels, settings.options())
          : session.classify(demoSet.prompt(demos, row.images(), row.prompt()), labels, settings.options());
      Map<String, Object> probabilities = new LinkedHashMap<>();
      for (LabelScores.LabelScore l : s.scores()) {
        probabilities.put(l.label(), l.probability());
      }
      Usage u = s.usage();
      return new Outcome(new Object[] {s.best().label(), s.best().probability(),
          CollectionConverters.asScala(probabilities), u.promptTokens(), u.imageTokens(), u.generatedTokens(),
          timings(u.timings()), null}, u);
    }
  }
}
