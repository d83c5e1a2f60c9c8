package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.Demo;
import io.github.vlm4j.FewShotPrompt;
import io.github.vlm4j.LabelScores;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.onnx.Dtype;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What every family added after SmolVLM and LLaVA must do beyond its goldens (which {@link
 * GoldenParityTest}, {@link PrefillChunkTest} and {@link VariantsTest} check), on the Qwen-VL,
 * LFM2-VL and Gemma 3 folders: few-shot prompts and label scores are the same with and without the prefix and
 * image caches (the cached demo prefix carries the family's position offset, Gemma 3's 1-based
 * positions included, and, for LFM2's hybrid decoder, its convolution states); concurrent requests batch (caches without a sequence axis move
 * between batches too) and get what they get alone; streaming delivers the golden ids and text.
 */
class FamilyFeaturesTest {
  /** Four inspection demos (two OK, two defective parts) and a query part. */
  static FewShotPrompt inspection(int query) {
    List<Fixtures.EvalCase> parts = Fixtures.evalCases("inspection");
    FewShotPrompt.Builder b = FewShotPrompt.builder().instruction("Inspect the part.");
    for (int i = 0; i < 4; i++) {
      b.demo(Demo.of(List.of(ImageInput.of(parts.get(i).images().get(0))), "Is this part ok or defective?",
          parts.get(i).answer()));
    }
    return b.query(ImageInput.of(parts.get(query).images().get(0))).question("Is this part ok or defective?").build();
  }


  @ParameterizedTest
  @ValueSource(strings = {"vlm4j-tiny-qwen2-vl", "vlm4j-tiny-qwen2_5-vl", "vlm4j-tiny-qwen3-vl-deepstack",
      "vlm4j-tiny-lfm2-vl", "vlm4j-tiny-gemma3"})
  void fewShotCachedEqualsUncached(String name) throws Exception {
    Path dir = Fixtures.model(name);
    List<String> labels = List.of("ok", "defective");
    GenerationConfig greedy = GenerationConfig.greedy(12);
    try (VisionLanguageModel cached = VisionLanguageModel.builder(dir).build();
        VisionLanguageModel uncached = VisionLanguageModel.builder(dir).imageCacheBytes(0).prefixCacheBytes(0).build()) {
      for (int q = 4; q < 8; q++) {
        FewShotPrompt p = inspection(q);
        LabelScores ref = uncached.classify(p, labels, RequestOptions.DEFAULT);
        GenerationResult refGen = uncached.generate(p, greedy, RequestOptions.DEFAULT);
        assertEquals(0, ref.cachedPrefixTokens());
        for (int round = 0; round < 2; round++) {
          LabelScores got = cached.classify(p, labels, RequestOptions.DEFAULT);
          GenerationResult gen = cached.generate(p, greedy, RequestOptions.DEFAULT);
          assertArrayEquals(refGen.tokenIds(), gen.tokenIds(), name + " query " + q + " round " + round);
          for (int i = 0; i < labels.size(); i++) {
            assertEquals(ref.scores().get(i).logProb(), got.scores().get(i).logProb(), 1e-4, name + " query " + q);
          }
        }
        // the demo prefix is reused by the later queries (Qwen: its images' tokens share M-RoPE positions,
        // so the query's positions continue from the prefix's offset, not from its length; LFM2: the
        // convolution layers' states continue from the prefix's)
        if (q > 4) {
          assertTrue(cached.classify(p, labels, RequestOptions.DEFAULT).cachedPrefixTokens() > 0, "prefix reused");
        }
      }
      assertTrue(cached.cacheStats().prefixHits() > 0, cached.cacheStats().toString());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"vlm4j-tiny-qwen2-vl", "vlm4j-tiny-qwen2_5-vl", "vlm4j-tiny-qwen3-vl-deepstack",
      "vlm4j-tiny-lfm2-vl", "vlm4j-tiny-gemma3"})
  void concurrentRequestsBatchAndGetWhatTheyGetAlone(String name) throws Exception {
    List<BatchedDecodingTest.Request> requests = BatchedDecodingTest.requests(name);
    List<GenerationResult> alone = BatchedDecodingTest.alone(name, Dtype.FP32, requests);
    try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(name))) {
      assertTrue(model.batchingEnabled(), name + " takes position_ids: it batches");
      List<GenerationResult> batched = BatchedDecodingTest.concurrently(model, requests,
          r -> BatchedDecodingTest.run(model, r));
      for (int i = 0; i < requests.size(); i++) {
        BatchedDecodingTest.assertSame(requests.get(i), alone.get(i), batched.get(i));
      }
      assertTrue(model.batchStats().largestBatch() >= 2, model.batchStats().toString());
    }
  }


  @org.junit.jupiter.params.ParameterizedTest
  @ValueSource(strings = {"vlm4j-tiny-qwen2-vl", "vlm4j-tiny-qwen3-vl-deepstack", "vlm4j-tiny-lfm2-vl",
      "vlm4j-tiny-gemma3"})
  void streamingDeliversTheGoldenTextAndIds(String name) throws Exception {
    try (VisionLanguageModel model = VisionLanguageModel.load(Fixtures.model(name))) {
      for (JsonNode c : Fixtures.json(Fixtures.model(name).resolve("goldens.json")).get("cases")) {
        RecordingStreamer streamer = new RecordingStreamer();
        GenerationResult r = model.generate(GoldenParityTest.messages(name, c),
            GenerationConfig.greedy(c.get("max_new_tokens").asInt()), GoldenParityTest.options(c), streamer);
        assertArrayEquals(Fixtures.ints(c.get("generated_ids")), streamer.ids(), name + " " + c.get("name").asText());
        assertEquals(r.text(), streamer.text(), name + " " + c.get("name").asText());
        assertEquals(r.finishReason(), streamer.finishReason(), name + " " + c.get("name").asText());
      }
    }
  }
}
