package io.github.vlm4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.vlm4j.Demo;
import io.github.vlm4j.FewShotPrompt;
import io.github.vlm4j.LabelScores;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;

/**
 * The transformations in local[2] over hundreds of rows equal the library called directly, row by
 * row; bad rows carry the library's typed errors and the job succeeds.
 */
class SparkTransformTest {
  private static final String INSPECT = "Is this part ok or defective?";
  private static final List<String> PROMPTS = List.of(INSPECT, "What colours are in the image?",
      "What shapes are there?");
  private static final Integer[] MAX_TOKENS = {null, 3, 8, 16};
  private static final int DEFAULT_MAX = 12;
  /** One 64x64 frame per image instead of up to 4x4 tiles plus a global frame: keeps the test short. */
  private static final RequestOptions NO_SPLIT = RequestOptions.DEFAULT.withImageSplitting(false);
  private static final StructType SCHEMA = new StructType()
      .add("id", DataTypes.LongType, false)
      .add("image", DataTypes.BinaryType, true)
      .add("prompt", DataTypes.StringType, true)
      .add("max_tokens", DataTypes.IntegerType, true);

  /** One input row and what the library says for it when called directly. */
  private record Case(long id, byte[] image, String prompt, Integer maxTokens) {
    Row row() {
      return RowFactory.create(id, image, prompt, maxTokens);
    }
  }

  private static List<Path> pictures() {
    List<Path> all = new ArrayList<>(TestSpark.pngs(TestSpark.inspection()));
    all.addAll(TestSpark.pngs(TestSpark.tinyModel().resolve("goldens")));
    return all;
  }

  @Test
  void generateOverHundredsOfRowsEqualsDirectCallsAndBadRowsAreTyped() {
    List<Path> pictures = pictures();
    List<Case> cases = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      cases.add(new Case(i, TestSpark.read(pictures.get(i % pictures.size())), PROMPTS.get(i % PROMPTS.size()),
          MAX_TOKENS[i % MAX_TOKENS.length]));
    }
    byte[] png = TestSpark.read(pictures.get(0));
    byte[] junk = new byte[300];
    new Random(7).nextBytes(junk);
    String tooLong = "describe every part in detail ".repeat(400);
    cases.add(new Case(1000, Arrays.copyOf(png, png.length / 3), INSPECT, null));   // truncated PNG
    cases.add(new Case(1001, junk, INSPECT, null));                                 // not an image
    cases.add(new Case(1002, new byte[0], INSPECT, null));                          // empty
    cases.add(new Case(1003, png, tooLong, null));                                  // over the context window
    cases.add(new Case(1004, png, tooLong + tooLong, 8));
    cases.add(new Case(1005, png, INSPECT, 0));                                     // token limit out of range
    cases.add(new Case(1006, png, null, null));                                     // no prompt
    cases.add(new Case(1007, null, "Say something about shapes.", 8));              // text only

    SparkSession spark = TestSpark.spark();
    VlmMetrics metrics = VlmMetrics.register(spark.sparkContext(), "test.generate");
    VlmTransformer t = VlmTransformer.builder(ModelSource.localFolder(TestSpark.tinyModel().toString()))
        .imageColumn("image").promptColumn("prompt").maxTokensColumn("max_tokens").maxNewTokens(DEFAULT_MAX)
        .imageSplitting(false).groupSize(6).metrics(metrics).build();
    Dataset<Row> input = spark.createDataFrame(cases.stream().map(Case::row).toList(), SCHEMA).repartition(5);
    Dataset<Row> output = t.generate(input);
    assertEquals(List.of("id", "image", "prompt", "max_tokens", "text", "finish_reason", "prompt_tokens",
        "image_tokens", "completion_tokens", "timings", "error"), Arrays.asList(output.schema().fieldNames()));
    Map<Long, Row> byId = new HashMap<>();
    for (Row r : output.collectAsList()) {
      byId.put(r.getLong(0), r);
    }
    assertEquals(cases.size(), byId.size());
    VisionLanguageModel model = TestSpark.directModel();
    long errors = 0;
    long promptTokens = 0;
    long completionTokens = 0;
    for (Case c : cases) {
      Row r = byId.get(c.id());
      assertNotNull(r, "row " + c.id());
      if (c.prompt() == null) {
        Row e = r.getStruct(r.fieldIndex("error"));
        assertEquals("INVALID_PROMPT", e.getString(0));
        assertTrue(e.getString(1).contains("prompt column 'prompt' is null"), e.getString(1));
        errors++;
        continue;
      }
      List<Object> parts = new ArrayList<>();
      if (c.image() != null) {
        parts.add(ImageInput.of(c.image()));
      }
      parts.add(c.prompt());
      GenerationResult expected;
      try {
        expected = model.generate(List.of(Message.user(parts.toArray())),
            GenerationConfig.greedy(c.maxTokens() == null ? DEFAULT_MAX : c.maxTokens()), NO_SPLIT,
            TokenStreamer.none());
      } catch (VlmInputException ex) {
        Row e = r.getStruct(r.fieldIndex("error"));
        assertNotNull(e, "row " + c.id() + " should carry " + ex.reason());
        assertEquals(ex.reason().name(), e.getString(0), "row " + c.id());
        assertEquals(ex.getMessage(), e.getString(1), "row " + c.id());
        assertTrue(r.isNullAt(r.fieldIndex("text")) && r.isNullAt(r.fieldIndex("timings")));
        errors++;
        continue;
      }
      assertNull(r.get(r.fieldIndex("error")), () -> "row " + c.id() + ": " + r.get(r.fieldIndex("error")));
      assertEquals(expected.text(), r.getString(r.fieldIndex("text")), "row " + c.id());
      assertEquals(expected.finishReason().name(), r.getString(r.fieldIndex("finish_reason")), "row " + c.id());
      assertEquals(expected.usage().promptTokens(), r.getInt(r.fieldIndex("prompt_tokens")));
      assertEquals(expected.usage().imageTokens(), r.getInt(r.fieldIndex("image_tokens")));
      assertEquals(expected.usage().generatedTokens(), r.getInt(r.fieldIndex("completion_tokens")));
      Row timings = r.getStruct(r.fieldIndex("timings"));
      assertEquals(expected.usage().generatedTokens() - 1, timings.getInt(timings.fieldIndex("decode_steps")));
      assertTrue(timings.getDouble(timings.fieldIndex("total_ms")) > 0);
      promptTokens += expected.usage().promptTokens();
      completionTokens += expected.usage().generatedTokens();
    }
    // the bad rows above: truncated, junk, empty, two over-long prompts, token limit 0, no prompt
    assertEquals(7, errors);
    assertEquals("IMAGE_CORRUPT", byId.get(1000L).getStruct(10).getString(0));
    assertEquals("PROMPT_TOO_LONG", byId.get(1003L).getStruct(10).getString(0));
    assertEquals("INVALID_OPTION", byId.get(1005L).getStruct(10).getString(0));
    assertEquals(cases.size(), metrics.rows().value());
    assertEquals(errors, metrics.errors().value());
    assertEquals(promptTokens, metrics.promptTokens().value());
    assertEquals(completionTokens, metrics.completionTokens().value());
    assertTrue(metrics.visionMs().value() > 0 && metrics.prefillMs().value() > 0 && metrics.decodeMs().value() > 0);
  }

  @Test
  void fewShotClassifyWithBroadcastDemosEqualsDirectClassify() {
    Path pool = TestSpark.inspection().resolve("pool");
    List<Path> demoFiles = List.of(pool.resolve("ok/inspection-0001.png"), pool.resolve("defective/inspection-0000.png"),
        pool.resolve("ok/inspection-0002.png"), pool.resolve("defective/inspection-0003.png"));
    List<String> answers = List.of("ok", "defective", "ok", "defective");
    FewShotDemos.Builder b = FewShotDemos.builder().question(INSPECT);
    List<Demo> directDemos = new ArrayList<>();
    for (int i = 0; i < demoFiles.size(); i++) {
      b.demo(TestSpark.read(demoFiles.get(i)), answers.get(i));
      directDemos.add(Demo.of(ImageInput.of(TestSpark.read(demoFiles.get(i))), answers.get(i)));
    }
    List<Path> all = TestSpark.pngs(TestSpark.inspection().resolve("queries"));
    List<Path> queries = new ArrayList<>();
    for (int i = 0; i < all.size(); i += 2) {   // 40 of the 80 parts, both labels
      queries.add(all.get(i));
    }
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < queries.size(); i++) {
      rows.add(RowFactory.create((long) i, TestSpark.read(queries.get(i)), null, null));
    }
    rows.add(RowFactory.create(999L, new byte[] {(byte) 0x89, 'P', 'N', 'G'}, null, null));
    SparkSession spark = TestSpark.spark();
    VlmMetrics metrics = VlmMetrics.register(spark.sparkContext(), "test.classify");
    List<String> labels = List.of("ok", "defective");
    VlmTransformer t = VlmTransformer.builder(ModelSource.localFolder(TestSpark.tinyModel().toString()))
        .imageColumn("image").demos(b.build()).metrics(metrics).build();
    Dataset<Row> out = t.classify(spark.createDataFrame(rows, SCHEMA).repartition(3), labels);
    Map<Long, Row> byId = new HashMap<>();
    for (Row r : out.collectAsList()) {
      byId.put(r.getLong(0), r);
    }
    assertEquals(rows.size(), byId.size());
    VisionLanguageModel model = TestSpark.directModel();
    FewShotPrompt base = FewShotPrompt.builder().question(INSPECT).demos(directDemos)
        .query(ImageInput.of(TestSpark.read(queries.get(0)))).build();
    for (int i = 0; i < queries.size(); i++) {
      LabelScores expected = model.classify(base.withQuery(List.of(ImageInput.of(TestSpark.read(queries.get(i)))),
          INSPECT), labels, RequestOptions.DEFAULT);
      Row r = byId.get((long) i);
      assertNull(r.get(r.fieldIndex("error")));
      assertEquals(expected.best().label(), r.getString(r.fieldIndex("label")), "query " + queries.get(i));
      assertEquals(expected.best().probability(), r.getDouble(r.fieldIndex("probability")), 1e-5);
      Map<String, Double> probabilities = r.getJavaMap(r.fieldIndex("probabilities"));
      assertEquals(labels, new ArrayList<>(probabilities.keySet()).stream().sorted((x, y) ->
          labels.indexOf(x) - labels.indexOf(y)).toList());
      for (LabelScores.LabelScore s : expected.scores()) {
        assertEquals(s.probability(), probabilities.get(s.label()), 1e-5, s.label());
      }
      assertEquals(expected.usage().promptTokens(), r.getInt(r.fieldIndex("prompt_tokens")));
    }
    Row bad = byId.get(999L).getStruct(byId.get(999L).fieldIndex("error"));
    VlmInputException direct = assertThrows(VlmInputException.class, () -> model.classify(
        base.withQuery(List.of(ImageInput.of(new byte[] {(byte) 0x89, 'P', 'N', 'G'})), INSPECT), labels,
        RequestOptions.DEFAULT));
    assertEquals(direct.reason().name(), bad.getString(0));
    assertEquals(direct.getMessage(), bad.getString(1));
    assertEquals(rows.size(), metrics.rows().value());
    assertEquals(1, metrics.errors().value());
  }

  @Test
  void zeroShotClassifyAndPathColumnEqualDirectCalls() throws Exception {
    List<Path> pictures = TestSpark.pngs(TestSpark.inspection().resolve("queries")).subList(0, 10);
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < pictures.size(); i++) {
      rows.add(RowFactory.create((long) i, (i % 2 == 0 ? pictures.get(i).toUri().toString() : pictures.get(i).toString()),
          INSPECT));
    }
    rows.add(RowFactory.create(100L, TestSpark.inspection().resolve("missing.png").toString(), INSPECT));
    rows.add(RowFactory.create(101L, TestSpark.inspection().toString(), INSPECT));   // a directory
    StructType schema = new StructType().add("id", DataTypes.LongType).add("path", DataTypes.StringType)
        .add("question", DataTypes.StringType);
    SparkSession spark = TestSpark.spark();
    List<String> labels = List.of("ok", "defective");
    VlmTransformer t = VlmTransformer.builder(ModelSource.localFolder(TestSpark.tinyModel().toString()))
        .imagePathColumn("path").promptColumn("question").maxNewTokens(8).build();
    Dataset<Row> input = spark.createDataFrame(rows, schema);
    Map<Long, Row> generated = new HashMap<>();
    t.generate(input).collectAsList().forEach(r -> generated.put(r.getLong(0), r));
    Map<Long, Row> classified = new HashMap<>();
    t.classify(input, labels).collectAsList().forEach(r -> classified.put(r.getLong(0), r));
    VisionLanguageModel model = TestSpark.directModel();
    for (int i = 0; i < pictures.size(); i++) {
      List<Message> chat = List.of(Message.user(ImageInput.of(pictures.get(i)), INSPECT));
      assertEquals(model.generate(chat, GenerationConfig.greedy(8)).text(), generated.get((long) i).getString(3));
      LabelScores s = model.classify(chat, labels, RequestOptions.DEFAULT);
      assertEquals(s.best().label(), classified.get((long) i).getString(3));
      assertEquals(s.best().probability(), classified.get((long) i).getDouble(4), 1e-5);
    }
    for (long id : new long[] {100, 101}) {
      for (Row r : List.of(generated.get(id), classified.get(id))) {
        Row e = r.getStruct(r.fieldIndex("error"));
        assertEquals("IMAGE_NOT_FOUND", e.getString(0), e.getString(1));
      }
    }
  }

  @Test
  void configurationMistakesAreRefusedOnTheDriver() {
    SparkSession spark = TestSpark.spark();
    Dataset<Row> df = spark.createDataFrame(List.of(RowFactory.create(1L, new byte[0], "x", 1)), SCHEMA);
    ModelSource src = ModelSource.localFolder(TestSpark.tinyModel().toString());
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
        () -> VlmTransformer.builder(src).imageColumn("picture").promptColumn("prompt").build().generate(df));
    assertTrue(missing.getMessage().contains("no column 'picture'"), missing.getMessage());
    IllegalArgumentException type = assertThrows(IllegalArgumentException.class,
        () -> VlmTransformer.builder(src).imagePathColumn("image").promptColumn("prompt").build().generate(df));
    assertTrue(type.getMessage().contains("must be string or array<string>"), type.getMessage());
    IllegalArgumentException clash = assertThrows(IllegalArgumentException.class,
        () -> VlmTransformer.builder(src).imageColumn("image").promptColumn("prompt").build()
            .generate(df.withColumn("text", functions.lit("x"))));
    assertTrue(clash.getMessage().contains("already has a column 'text'"), clash.getMessage());
    assertThrows(IllegalArgumentException.class, () -> VlmTransformer.builder(src).imageColumn("image").build()
        .generate(df));
    assertThrows(IllegalArgumentException.class, () -> ModelSource.sparkFile("../model"));
    List<String> order = FewShotDemos.fromFolder(TestSpark.inspection().resolve("pool"), 2, INSPECT).build().answers();
    assertEquals(List.of("defective", "ok", "defective", "ok"), order);
  }

  @Test
  void pixelBudgetReachesEveryRowOfAQwenModel() throws Exception {
    java.nio.file.Path folder = TestSpark.root().resolve("src/test/resources/models/vlm4j-tiny-qwen2-vl");
    byte[] png = TestSpark.read(folder.resolve("goldens/large_no_resize_0.png"));   // 224x196: 56 image tokens
    String prompt = "What colour is the circle?";
    SparkSession spark = TestSpark.spark();
    VlmTransformer t = VlmTransformer.builder(ModelSource.localFolder(folder.toString()))
        .imageColumn("image").promptColumn("prompt").maxNewTokens(6).pixelBudget(784, 12544).groupSize(2).build();
    List<Row> rows = List.of(RowFactory.create(1L, png, prompt, null), RowFactory.create(2L, png, prompt, null));
    List<Row> out = t.generate(spark.createDataFrame(rows, SCHEMA)).collectAsList();
    try (VisionLanguageModel model = VisionLanguageModel.load(folder)) {
      GenerationResult expected = model.generate(List.of(Message.user(ImageInput.of(png), prompt)),
          GenerationConfig.greedy(6), io.github.vlm4j.RequestOptions.DEFAULT.withPixelBudget(784, 12544),
          TokenStreamer.none());
      assertEquals(12, expected.usage().imageTokens());
      for (Row r : out) {
        assertEquals(expected.text(), r.getString(r.fieldIndex("text")));
        assertEquals(12, r.getInt(r.fieldIndex("image_tokens")));
      }
    }
    assertThrows(VlmInputException.class, () -> VlmTransformer.builder(ModelSource.localFolder(folder.toString()))
        .pixelBudget(10, 1));
  }
}
