package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.vlm4j.Demo;
import io.github.vlm4j.DemoPool;
import io.github.vlm4j.FewShotPrompt;
import io.github.vlm4j.GenerationSession;
import io.github.vlm4j.LabelScores;
import io.github.vlm4j.PromptStats;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The few-shot API: results with the image-feature and demo-prefix caches equal those without;
 * the k-th query with the same demos starts from the cached prefix; label scoring agrees with
 * scoring by full runs; demo selection; typed errors for bad few-shot input.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FewShotTest {
  private VisionLanguageModel cached;
  private VisionLanguageModel uncached;
  private List<Fixtures.EvalCase> episodes;
  private final GenerationConfig greedy = GenerationConfig.builder().maxNewTokens(12).build();

  @BeforeAll
  void load() throws Exception {
    Path dir = Fixtures.model("vlm4j-tiny-idefics3");
    cached = VisionLanguageModel.builder(dir).build();
    uncached = VisionLanguageModel.builder(dir).imageCacheBytes(0).prefixCacheBytes(0).build();
    episodes = Fixtures.evalCases("icl_2shot").subList(0, 6);
  }

  @AfterAll
  void close() {
    cached.close();
    uncached.close();
  }

  private static List<String> labels(Fixtures.EvalCase ec) {
    List<String> out = new ArrayList<>();
    ec.meta().get("labels").forEach(n -> out.add(n.asText()));
    return out;
  }

  @Test
  void cachedAndUncachedRunsGiveIdenticalResults() {
    for (RequestOptions opt : List.of(RequestOptions.DEFAULT, RequestOptions.DEFAULT.withImageSplitting(false))) {
      for (Fixtures.EvalCase ec : episodes) {
        FewShotPrompt p = EvalParityTest.fewShot(ec);
        LabelScores ref = uncached.classify(p, labels(ec), opt);
        GenerationResult refGen = uncached.generate(p, greedy, opt);
        assertEquals(0, ref.cachedPrefixTokens());
        // twice on the cached model: the first fills the caches, the second reads them
        for (int round = 0; round < 2; round++) {
          LabelScores got = cached.classify(p, labels(ec), opt);
          GenerationResult gen = cached.generate(p, greedy, opt);
          assertArrayEquals(refGen.tokenIds(), gen.tokenIds(), ec.id() + " round " + round);
          for (int i = 0; i < ref.scores().size(); i++) {
            assertEquals(ref.scores().get(i).logProb(), got.scores().get(i).logProb(), 1e-5, ec.id());
            assertArrayEquals(ref.scores().get(i).tokenIds(), got.scores().get(i).tokenIds());
          }
          if (round == 1) {
            assertTrue(got.cachedPrefixTokens() > 0, "the second run with the same demos reuses their KV cache");
          }
        }
      }
    }
    VisionLanguageModel.CacheStats st = cached.cacheStats();
    assertTrue(st.prefixHits() > 0 && st.imageHits() > 0, st.toString());
  }

  @Test
  void queryConditionedAdaptersNeverReuseDemosEncodedForAnotherQuestion() throws Exception {
    // a gated adapter's image embeddings depend on the question: the demo prefix of one question must
    // not serve another; with the same question it is reused
    Path dir = Fixtures.model("vlm4j-tiny-modular");
    List<Fixtures.EvalCase> parts = Fixtures.evalCases("inspection");
    FewShotPrompt.Builder b = FewShotPrompt.builder();
    for (int i = 0; i < 4; i++) {
      b.demo(Demo.of(List.of(ImageInput.of(parts.get(i).images().get(0))), "Is this part ok or defective?",
          parts.get(i).answer()));
    }
    FewShotPrompt base = b.query(ImageInput.of(parts.get(5).images().get(0))).build();
    RequestOptions adapter = RequestOptions.DEFAULT.withAdapter("inspection");
    List<String> labels = List.of("ok", "defective");
    try (VisionLanguageModel c = VisionLanguageModel.builder(dir).build();
        VisionLanguageModel u = VisionLanguageModel.builder(dir).imageCacheBytes(0).prefixCacheBytes(0).build()) {
      for (String question : List.of("Is this part ok or defective?", "What is this?", "Is this part ok or defective?")) {
        // same demo turns (same tokens), different query question
        FewShotPrompt p = base.withQuery(base.queryImages(), question);
        LabelScores got = c.classify(p, labels, adapter);
        LabelScores ref = u.classify(p, labels, adapter);
        for (int i = 0; i < labels.size(); i++) {
          assertEquals(ref.scores().get(i).logProb(), got.scores().get(i).logProb(), 1e-5, question);
        }
      }
      assertEquals(1, c.cacheStats().prefixHits(), "only the repeated question reuses its demo prefix");
    }
  }

  @Test
  void newQueriesWithTheSameDemosReuseTheDemoPrefix() {
    Fixtures.EvalCase a = episodes.get(0);
    FewShotPrompt demos = EvalParityTest.fewShot(a);
    List<Fixtures.EvalCase> others = Fixtures.evalCases("icl_1shot").subList(0, 4);
    cached.classify(demos, labels(a), RequestOptions.DEFAULT);
    for (Fixtures.EvalCase o : others) {
      FewShotPrompt q = demos.withQuery(List.of(ImageInput.of(o.images().get(o.images().size() - 1))), null);
      LabelScores got = cached.classify(q, labels(a), RequestOptions.DEFAULT);
      LabelScores ref = uncached.classify(q, labels(a), RequestOptions.DEFAULT);
      assertTrue(got.cachedPrefixTokens() > 0, "query " + o.id() + " starts from the cached demo prefix");
      assertEquals(ref.best().label(), got.best().label());
      for (int i = 0; i < ref.scores().size(); i++) {
        assertEquals(ref.scores().get(i).logProb(), got.scores().get(i).logProb(), 1e-5);
      }
    }
  }

  @Test
  void eightThreadsSharingCachedDemosGetTheSequentialResults() throws Exception {
    // two demo sets whose prefix snapshots (~0.7 MB each) do not both fit in the 1 MiB cache: they
    // evict each other while other threads are still reading them
    Fixtures.EvalCase a = episodes.get(2);
    List<FewShotPrompt> demoSets = List.of(EvalParityTest.fewShot(a), EvalParityTest.fewShot(episodes.get(3)));
    List<Fixtures.EvalCase> others = Fixtures.evalCases("icl_1shot");
    List<FewShotPrompt> queries = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      Fixtures.EvalCase o = others.get(i % others.size());
      queries.add(demoSets.get(i % 2).withQuery(List.of(ImageInput.of(o.images().get(o.images().size() - 1))), null));
    }
    List<LabelScores> expected = new ArrayList<>();
    for (FewShotPrompt q : queries) {
      expected.add(uncached.classify(q, labels(a), RequestOptions.DEFAULT));
    }
    try (VisionLanguageModel shared = VisionLanguageModel.builder(Fixtures.model("vlm4j-tiny-idefics3"))
        .prefixCacheBytes(1L << 20).build()) {   // small: snapshots get evicted while others read them
      var pool = java.util.concurrent.Executors.newFixedThreadPool(8);
      try {
        List<java.util.concurrent.Future<LabelScores>> got = new ArrayList<>();
        for (int round = 0; round < 3; round++) {
          for (FewShotPrompt q : queries) {
            got.add(pool.submit(() -> shared.classify(q, labels(a), RequestOptions.DEFAULT)));
          }
        }
        for (int i = 0; i < got.size(); i++) {
          LabelScores g = got.get(i).get();
          LabelScores e = expected.get(i % queries.size());
          for (int l = 0; l < e.scores().size(); l++) {
            assertEquals(e.scores().get(l).logProb(), g.scores().get(l).logProb(), 1e-5, "request " + i);
          }
        }
      } finally {
        pool.shutdown();
      }
      VisionLanguageModel.CacheStats st = shared.cacheStats();
      assertTrue(st.prefixHits() > 0 && st.prefixMisses() > 2, st.toString());
      assertTrue(st.prefixBytes() <= 1L << 20, st.toString());
    }
  }

  @Test
  void labelScoresEqualTheLogProbabilitiesOfForcedGeneration() {
    Fixtures.EvalCase ec = episodes.get(1);
    FewShotPrompt p = EvalParityTest.fewShot(ec);
    LabelScores s = uncached.classify(p, labels(ec), RequestOptions.DEFAULT);
    double z = 0;
    for (LabelScores.LabelScore l : s.scores()) {
      z += l.probability();
      assertTrue(l.logProb() < 0 && l.tokenIds().length >= 2, l.toString());
      assertEquals(uncached.eosTokenIds().iterator().next().intValue(), l.tokenIds()[l.tokenIds().length - 1],
          "the answer's end-of-turn token is scored too");
    }
    assertEquals(1.0, z, 1e-9);
    // greedy generation picks the argmax token at every step: if it generated one label exactly, that
    // label's first token must be at least as likely as the other label's first token
    GenerationResult g = uncached.generate(p, greedy, RequestOptions.DEFAULT);
    for (LabelScores.LabelScore l : s.scores()) {
      if (g.text().strip().equals(l.label())) {
        for (LabelScores.LabelScore o : s.scores()) {
          assertTrue(l.tokenLogProbs()[0] >= o.tokenLogProbs()[0] - 1e-6);
        }
      }
    }
  }

  @Test
  void labelScoringPrefersTheWordTheModelIsAskedToRepeat() {
    // the model copies novel words reliably (REPORT.md); scoring must rank the asked word first
    java.util.Set<String> generatedRight = new java.util.HashSet<>();
    Fixtures.evalResults().get("idefics3").get("text").get("cases").forEach(n -> {
      if (n.get("ok").asBoolean()) {
        generatedRight.add(n.get("id").asText());
      }
    });
    int checked = 0;
    for (Fixtures.EvalCase c : Fixtures.evalCases("text")) {
      String q = c.messages().get(0).get("content").get(0).get("text").asText();
      if (!q.startsWith("Repeat the word ") || !generatedRight.contains(c.id())) {
        continue;
      }
      String distractor = c.answer().equals("circle") ? "square" : "circle";
      LabelScores s = uncached.classify(List.of(io.github.vlm4j.core.prompt.Message.user(q)),
          List.of(distractor, c.answer()), RequestOptions.DEFAULT);
      assertEquals(c.answer(), s.best().label(), q + " " + s.scores());
      checked++;
    }
    assertTrue(checked >= 5, "only " + checked + " repeat-the-word cases");
  }

  @Test
  void poolSelectsTheMostSimilarPicturesAndBalancesLabels(@TempDir Path tmp) throws IOException {
    List<Fixtures.EvalCase> all = Fixtures.evalCases("inspection");
    List<Fixtures.EvalCase> parts = all.subList(0, Math.min(16, all.size()));
    for (Fixtures.EvalCase c : parts) {
      Path d = Files.createDirectories(tmp.resolve(c.answer()));
      Files.copy(c.images().get(0), d.resolve(c.id() + ".png"));
    }
    DemoPool pool = DemoPool.fromFolder(cached, tmp, RequestOptions.DEFAULT);
    assertEquals(parts.size(), pool.size());
    Path query = parts.get(3).images().get(0);
    List<Demo> nearest = pool.nearest(ImageInput.of(query), 3);
    assertEquals(3, nearest.size());
    // the query itself is in the pool: it is the most similar, placed last (next to the query)
    assertEquals(parts.get(3).answer(), nearest.get(2).answer());
    assertEquals(Optional.of(tmp.resolve(parts.get(3).answer()).resolve(parts.get(3).id() + ".png")),
        nearest.get(2).images().get(0).path());
    if (pool.labels().size() == 2) {
      List<Demo> balanced = pool.nearestPerLabel(ImageInput.of(query), 1);
      assertEquals(2, balanced.size());
      assertEquals(2, balanced.stream().map(Demo::answer).distinct().count());
    }
  }

  @Test
  void badFewShotInputGetsTypedErrors(@TempDir Path tmp) throws IOException {
    Fixtures.EvalCase ec = episodes.get(0);
    FewShotPrompt p = EvalParityTest.fewShot(ec);
    ImageInput img = ImageInput.of(ec.images().get(0));

    VlmInputException e = assertThrows(VlmInputException.class, () -> new Demo(List.of(), Optional.empty(), "ok"));
    assertEquals(VlmInputException.Reason.INVALID_DEMO, e.reason());
    assertTrue(e.getMessage().contains("at least one image"), e.getMessage());
    e = assertThrows(VlmInputException.class, () -> Demo.of(img, " "));
    assertEquals(VlmInputException.Reason.INVALID_DEMO, e.reason());

    e = assertThrows(VlmInputException.class, () -> cached.classify(p, List.of(), RequestOptions.DEFAULT));
    assertEquals(VlmInputException.Reason.INVALID_LABELS, e.reason());
    e = assertThrows(VlmInputException.class, () -> cached.classify(p, List.of("gibo", "gibo"), RequestOptions.DEFAULT));
    assertEquals(VlmInputException.Reason.INVALID_LABELS, e.reason());
    assertTrue(e.getMessage().contains("\"gibo\" twice"), e.getMessage());

    e = assertThrows(VlmInputException.class, () -> FewShotPrompt.builder().query(img).build());
    assertEquals(VlmInputException.Reason.INVALID_PROMPT, e.reason());
    e = assertThrows(VlmInputException.class, () -> FewShotPrompt.builder().demo(Demo.of(img, "a")).build());
    assertTrue(e.getMessage().contains("query needs at least one image"), e.getMessage());

    Files.copy(ec.images().get(0), tmp.resolve("loose.png"));
    e = assertThrows(VlmInputException.class, () -> DemoPool.fromFolder(cached, tmp, RequestOptions.DEFAULT));
    assertEquals(VlmInputException.Reason.INVALID_DEMO_POOL, e.reason());
    assertTrue(e.getMessage().contains("without a label folder"), e.getMessage());
    Path empty = Files.createDirectories(tmp.resolve("x").resolve("nolabels"));
    e = assertThrows(VlmInputException.class, () -> DemoPool.fromFolder(cached, empty.getParent(), RequestOptions.DEFAULT));
    assertTrue(e.getMessage().contains("no labelled images"), e.getMessage());

    // budgets: an image-token cap, and the context window
    PromptStats stats = cached.countTokens(p, RequestOptions.DEFAULT);
    assertTrue(stats.imageTokens() > 0 && stats.textTokens() > 0, stats.toString());
    RequestOptions capped = RequestOptions.DEFAULT.withMaxImageTokens(stats.imageTokens() - 1);
    e = assertThrows(VlmInputException.class, () -> cached.classify(p, labels(ec), capped));
    assertEquals(VlmInputException.Reason.PROMPT_TOO_LONG, e.reason());
    assertTrue(e.getMessage().contains(stats.imageTokens() + " image tokens"), e.getMessage());
    FewShotPrompt.Builder big = FewShotPrompt.builder();
    int window = cached.textConfig().maxPositions();
    int perImage = stats.imageTokensPerImage()[0];
    for (int i = 0; i * perImage <= window; i++) {
      big.demo(Demo.of(img, "label" + (i % 2)));
    }
    FewShotPrompt tooLong = big.query(img).build();
    PromptStats longStats = cached.countTokens(tooLong, RequestOptions.DEFAULT);
    assertTrue(longStats.promptTokens() > window, longStats.toString());
    e = assertThrows(VlmInputException.class, () -> cached.classify(tooLong, List.of("a", "b"), RequestOptions.DEFAULT));
    assertEquals(VlmInputException.Reason.PROMPT_TOO_LONG, e.reason());
    assertTrue(e.getMessage().contains("context window is " + window), e.getMessage());

    // a cancelled classify ends with CancellationException; the session and model stay usable
    try (GenerationSession s = cached.newSession()) {
      s.cancel();
      assertThrows(java.util.concurrent.CancellationException.class,
          () -> s.classify(p, labels(ec), RequestOptions.DEFAULT));
      assertEquals(2, s.classify(p, labels(ec), RequestOptions.DEFAULT).scores().size());
    }
  }
}
