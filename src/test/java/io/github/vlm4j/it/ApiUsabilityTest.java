package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.vlm4j.DemoPool;
import io.github.vlm4j.FewShotPrompt;
import io.github.vlm4j.ModelModule;
import io.github.vlm4j.Progress;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.onnx.Dtype;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.vision.PreprocessedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** The API frictions of issue 18: each test failed on the code before the fix. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ApiUsabilityTest {
  private final Path dir = Fixtures.model("vlm4j-tiny-idefics3");
  private final Path scene = dir.resolve("goldens/scene_shapes_0.png");
  private VisionLanguageModel model;

  @BeforeAll
  void load() throws Exception {
    model = VisionLanguageModel.load(dir);
  }

  @AfterAll
  void close() {
    model.close();
  }

  @Test
  void dtypesNameEveryGraphAlsoForTheDefault() throws Exception {
    Map<ModelModule, Dtype> all32 = new EnumMap<>(ModelModule.class);
    for (ModelModule m : ModelModule.values()) {
      all32.put(m, Dtype.FP32);
    }
    assertEquals(all32, model.dtypes());
    try (VisionLanguageModel q8 = VisionLanguageModel.builder(dir).dtype("q8")
        .dtype(ModelModule.VISION_ENCODER, Dtype.FP32).build()) {
      assertEquals(Dtype.FP32, q8.dtypes().get(ModelModule.VISION_ENCODER));
      assertEquals(Dtype.Q8, q8.dtypes().get(ModelModule.DECODER));
      assertEquals(Dtype.Q8, q8.dtypes().get(ModelModule.EMBED_TOKENS));
    }
  }

  @Test
  void aPathInAMessageIsAnImageAndOtherObjectsAreRefusedAtOnce() {
    RequestOptions o = RequestOptions.DEFAULT;
    int[] viaPath = model.tokenize(List.of(Message.user(scene, "What shapes?")), o).ids();
    int[] viaInput = model.tokenize(List.of(Message.user(ImageInput.of(scene), "What shapes?")), o).ids();
    assertArrayEquals(viaInput, viaPath);
    VlmInputException e = assertThrows(VlmInputException.class, () -> Message.user("count", 42));
    assertEquals(VlmInputException.Reason.INVALID_PROMPT, e.reason());
    assertTrue(e.getMessage().contains("message part 1") && e.getMessage().contains("java.lang.Integer"), e.getMessage());
    assertEquals(VlmInputException.Reason.INVALID_PROMPT,
        assertThrows(VlmInputException.class, () -> Message.user((Object) null)).reason());
  }

  @Test
  void fewShotGenerationStreams() {
    FewShotPrompt prompt = FewShotPrompt.builder().question("Is this part ok or defective?")
        .demo(io.github.vlm4j.Demo.of(ImageInput.of(scene), "ok"))
        .query(ImageInput.of(scene)).build();
    GenerationConfig greedy = GenerationConfig.greedy(8);
    StringBuilder streamed = new StringBuilder();
    GenerationResult r = model.generate(prompt, greedy, RequestOptions.DEFAULT, streamed::append);
    assertFalse(r.text().isEmpty());
    assertEquals(r.text(), streamed.toString());
    assertEquals(r.text(), model.generate(prompt, greedy, RequestOptions.DEFAULT).text());
  }

  @Test
  void negativeThreadsIsATypedOptionError() {
    VlmInputException e = assertThrows(VlmInputException.class, () -> VisionLanguageModel.builder(dir).threads(-1));
    assertEquals(VlmInputException.Reason.INVALID_OPTION, e.reason());
  }

  @Test
  void imageSplittingOnAModelThatNeverSplitsIsRefused() throws Exception {
    assertTrue(model.supportsImageSplitting());
    for (String name : List.of("vlm4j-tiny-modular", "vlm4j-tiny-llava")) {
      Path d = Fixtures.model(name);
      try (VisionLanguageModel m = VisionLanguageModel.load(d)) {
        assertFalse(m.supportsImageSplitting(), name);
        List<Message> chat = List.of(Message.user(scene, "What shapes?"));
        for (boolean split : new boolean[] {true, false}) {
          VlmInputException e = assertThrows(VlmInputException.class,
              () -> m.tokenize(chat, RequestOptions.DEFAULT.withImageSplitting(split)), name);
          assertEquals(VlmInputException.Reason.INVALID_OPTION, e.reason());
          assertTrue(e.getMessage().contains("image splitting is not an option"), e.getMessage());
        }
        assertTrue(m.tokenize(chat, RequestOptions.DEFAULT).length() > 0);
      }
    }
  }

  @Test
  void loadingAndPoolEncodingReportProgress() throws Exception {
    List<Progress> events = new ArrayList<>();
    try (VisionLanguageModel m = VisionLanguageModel.builder(dir).progress(events::add).build()) {
      assertEquals(List.of("tokenizer.json", "onnx/vision_encoder.onnx", "onnx/embed_tokens.onnx",
          "onnx/decoder_model_merged.onnx", ""), events.stream().map(Progress::item).toList());
      for (int i = 0; i < 4; i++) {
        assertEquals(i, events.get(i).done());
        assertFalse(events.get(i).finished());
      }
      assertEquals(new Progress(Progress.Task.LOAD_MODEL, "", 4, 4), events.get(4));
      events.clear();
      Path pool = Fixtures.models().getParent().resolve("fewshot/inspection/pool");
      long images;
      try (Stream<Path> s = Files.walk(pool)) {
        images = s.filter(Files::isRegularFile).count();
      }
      DemoPool p = DemoPool.fromFolder(m, pool, RequestOptions.DEFAULT.withImageSplitting(false), events::add);
      assertEquals(images, p.size());
      assertEquals(images + 1, events.size());
      for (int i = 0; i < images; i++) {
        assertEquals(new Progress(Progress.Task.ENCODE_POOL, p.entries().get(i).name(), i, images), events.get(i));
      }
      assertTrue(events.get((int) images).finished());
    }
  }

  @Test
  void aThrowingListenerFailsTheLoadWithItsException() {
    RuntimeException boom = new IllegalStateException("stop");
    assertEquals(boom, assertThrows(IllegalStateException.class, () -> VisionLanguageModel.builder(dir)
        .progress(p -> {
          if (p.finished()) {
            throw boom;
          }
        }).build()));
  }

  @Test
  void preprocessImagesGivesTheEncoderFrames() {
    List<Message> chat = List.of(Message.user(scene, "What shapes?", scene));
    List<PreprocessedImage> split = model.preprocessImages(chat, RequestOptions.DEFAULT);
    assertEquals(2, split.size());
    PreprocessedImage img = split.get(0);
    // goldens: scene_shapes has a 2 x 2 grid, 5 frames of image features
    assertEquals(2, img.rows());
    assertEquals(2, img.cols());
    assertEquals(5, img.frames());
    assertArrayEquals(img.pixels(), split.get(1).pixels());
    float min = Float.MAX_VALUE;
    float max = -Float.MAX_VALUE;
    for (float v : img.pixels()) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    assertTrue(min >= -1f && max <= 1f && max > min, min + " .. " + max);
    PreprocessedImage one = model.preprocessImages(chat, RequestOptions.DEFAULT.withImageSplitting(false)).get(0);
    assertEquals(1, one.frames());
  }
}
