package io.github.vlm4j.it.soak;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.Demo;
import io.github.vlm4j.FewShotPrompt;
import io.github.vlm4j.GenerationSession;
import io.github.vlm4j.LabelScores;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import io.github.vlm4j.it.Fixtures;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * The requests a soak sends to one shared model, each with its expected result: greedy ids and text
 * from the folder's {@code goldens.json} (the PyTorch reference), and — for requests without a
 * golden (label scores, few-shot generation, a generation cut by cancellation) — the result of the
 * same request run once on a single thread before the soak starts.
 *
 * <p><b>Thread-safety:</b> immutable after construction; the model it holds is shared and
 * thread-safe. <b>Ownership:</b> the model is owned by the {@link SoakHarness} that built this.
 */
final class ModelWorkload {
  /** Labels scored by the plain (non-few-shot) classify requests. */
  static final List<String> PLAIN_LABELS = List.of("ok", "defective", "circle");

  /** A generation whose expected ids and text are known. */
  record Generate(String name, List<Message> messages, FewShotPrompt fewShot, RequestOptions options,
      GenerationConfig config, int[] expectedIds, String expectedText) {
    GenerationResult run(GenerationSession s, TokenStreamer streamer) {
      return fewShot != null ? s.generate(fewShot, config, options, streamer)
          : s.generate(messages, config, options, streamer);
    }
  }

  /** Label scoring whose single-thread scores are known. */
  record Classify(String name, List<Message> messages, FewShotPrompt fewShot, List<String> labels,
      RequestOptions options, LabelScores expected) {
    LabelScores run(GenerationSession s) {
      return fewShot != null ? s.classify(fewShot, labels, options) : s.classify(messages, labels, options);
    }
  }

  final String name;
  final VisionLanguageModel model;
  final List<Generate> goldens = new ArrayList<>();
  final List<Generate> fewShotGenerates = new ArrayList<>();
  final List<Classify> classifies = new ArrayList<>();
  /** A generation that never meets an end-of-sequence id: the target of cancellations. */
  final Generate endless;
  /** A valid PNG of this model's goldens, for the corrupt-image requests. */
  final Path image;

  /**
   * Builds the request catalogue and computes the single-thread references (one request at a time).
   *
   * @param name the model folder's name
   * @param model the loaded model
   * @param goldensPerModel how many golden cases to use (0 = all), picked with {@code seed}
   * @param seed picks the golden subset
   * @throws IllegalStateException if a single-thread run does not reproduce its golden (that is
   *     {@code GoldenParityTest}'s failure, not a concurrency one)
   */
  ModelWorkload(String name, VisionLanguageModel model, int goldensPerModel, long seed) {
    this.name = name;
    this.model = model;
    Path dir = Fixtures.model(name);
    List<JsonNode> cases = new ArrayList<>();
    Fixtures.json(dir.resolve("goldens.json")).get("cases").forEach(cases::add);
    if (goldensPerModel > 0 && goldensPerModel < cases.size()) {
      java.util.Collections.shuffle(cases, new Random(seed ^ name.hashCode()));
      cases = new ArrayList<>(cases.subList(0, goldensPerModel));
    }
    for (JsonNode c : cases) {
      List<Path> images = new ArrayList<>();
      c.get("images").forEach(i -> images.add(dir.resolve(i.asText())));
      goldens.add(new Generate(name + "/" + c.get("name").asText(), Fixtures.messages(c.get("messages"), images), null,
          options(c), GenerationConfig.greedy(c.get("max_new_tokens").asInt()), Fixtures.ints(c.get("generated_ids")),
          c.get("text").asText()));
    }
    try (GenerationSession s = model.newSession()) {
      for (Generate g : goldens) {
        GenerationResult r = g.run(s, TokenStreamer.none());
        if (!Arrays.equals(r.tokenIds(), g.expectedIds()) || !r.text().equals(g.expectedText())) {
          throw new IllegalStateException(g.name() + ": a single-thread run gives " + Arrays.toString(r.tokenIds())
              + ", the golden is " + Arrays.toString(g.expectedIds()) + " (see GoldenParityTest)");
        }
      }
      Generate first = goldens.stream().filter(g -> g.messages().stream().anyMatch(m -> !m.images().isEmpty()))
          .findFirst().orElse(goldens.get(0));
      image = first.messages().stream().flatMap(m -> m.images().stream()).findFirst().flatMap(ImageInput::path)
          .orElse(dir.resolve("goldens/scene_shapes_0.png"));
      GenerationConfig noEos = GenerationConfig.builder().maxNewTokens(48).eosTokenIds(List.of(Integer.MAX_VALUE)).build();
      endless = reference(s, new Generate(name + "/endless", first.messages(), null, first.options(), noEos, null, null));
      // plain classify on three golden prompts
      for (Generate g : goldens.subList(0, Math.min(3, goldens.size()))) {
        Classify c = new Classify(g.name() + "/classify", g.messages(), null, PLAIN_LABELS, g.options(), null);
        classifies.add(new Classify(c.name(), c.messages(), null, c.labels(), c.options(), c.run(s)));
      }
      // few-shot episodes of the held-out set: classify by label scores and generate
      List<Fixtures.EvalCase> episodes = new ArrayList<>(Fixtures.evalCases("icl_2shot").subList(0, 2));
      episodes.addAll(Fixtures.evalCases("icl_1shot").subList(0, 2));
      GenerationConfig shortGreedy = GenerationConfig.greedy(12);
      for (Fixtures.EvalCase ec : episodes) {
        FewShotPrompt p = fewShot(ec);
        List<String> labels = new ArrayList<>();
        ec.meta().get("labels").forEach(n -> labels.add(n.asText()));
        classifies.add(new Classify(name + "/" + ec.id(), null, p, labels, RequestOptions.DEFAULT,
            s.classify(p, labels, RequestOptions.DEFAULT)));
        fewShotGenerates.add(reference(s, new Generate(name + "/" + ec.id() + "/generate", null, p,
            RequestOptions.DEFAULT, shortGreedy, null, null)));
      }
      // a query-conditioned adapter on a few-shot prompt, for every adapter the model has
      List<Fixtures.EvalCase> parts = Fixtures.evalCases("inspection").subList(0, 5);
      for (String adapter : model.adapterNames()) {
        FewShotPrompt.Builder b = FewShotPrompt.builder();
        for (int i = 0; i < 4; i++) {
          b.demo(Demo.of(List.of(ImageInput.of(parts.get(i).images().get(0))), "Is this part ok or defective?",
              parts.get(i).answer()));
        }
        FewShotPrompt p = b.query(ImageInput.of(parts.get(4).images().get(0))).build();
        RequestOptions o = RequestOptions.DEFAULT.withAdapter(adapter);
        List<String> labels = List.of("ok", "defective");
        classifies.add(new Classify(name + "/fewshot-" + adapter, null, p, labels, o, s.classify(p, labels, o)));
      }
    }
  }

  private static Generate reference(GenerationSession s, Generate g) {
    GenerationResult r = g.run(s, TokenStreamer.none());
    return new Generate(g.name(), g.messages(), g.fewShot(), g.options(), g.config(), r.tokenIds(), r.text());
  }

  static RequestOptions options(JsonNode c) {
    RequestOptions o = RequestOptions.DEFAULT;
    if (c.path("options").has("do_image_splitting")) {
      o = o.withImageSplitting(c.path("options").path("do_image_splitting").asBoolean());
    }
    if (c.hasNonNull("adapter")) {
      o = o.withAdapter(c.get("adapter").asText());
    }
    return o;
  }

  /** The few-shot prompt of a held-out ICL episode: its demos (image, label) and its query image. */
  static FewShotPrompt fewShot(Fixtures.EvalCase ec) {
    return Fixtures.fewShot(ec);
  }

  /**
   * @param got a concurrent result
   * @param expected the single-thread one
   * @return null if every label's token ids are equal and its log-probability agrees within 1e-5,
   *     otherwise what differs
   */
  static String compare(LabelScores got, LabelScores expected) {
    if (got.scores().size() != expected.scores().size()) {
      return got.scores().size() + " scores, expected " + expected.scores().size();
    }
    for (int i = 0; i < got.scores().size(); i++) {
      LabelScores.LabelScore g = got.scores().get(i);
      LabelScores.LabelScore e = expected.scores().get(i);
      if (!g.label().equals(e.label()) || !Arrays.equals(g.tokenIds(), e.tokenIds())
          || !(Math.abs(g.logProb() - e.logProb()) <= 1e-5)) {
        return "label " + e.label() + ": got " + g + ", single-thread " + e;
      }
    }
    return null;
  }

  @Override
  public String toString() {
    return name + " (" + goldens.size() + " goldens, " + classifies.size() + " classify, " + fewShotGenerates.size()
        + " few-shot generate)";
  }
}
