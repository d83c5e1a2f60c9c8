package io.github.vlm4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.SparkException;
import org.apache.spark.SparkFiles;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;

/** One model per executor JVM and source, whatever the number of tasks, partitions and jobs. */
class ExecutorModelsTest {
  private static final StructType SCHEMA = new StructType().add("id", DataTypes.LongType)
      .add("image", DataTypes.BinaryType).add("prompt", DataTypes.StringType);

  private static Dataset<Row> rows(SparkSession spark, int n, int partitions) {
    List<Path> pictures = TestSpark.pngs(TestSpark.inspection().resolve("pool"));
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      rows.add(RowFactory.create((long) i, TestSpark.read(pictures.get(i % pictures.size())), "Is this part ok?"));
    }
    return spark.createDataFrame(rows, SCHEMA).repartition(partitions);
  }

  @Test
  void oneLoadPerExecutorJvmAcrossPartitionsTasksAndJobs() {
    SparkSession spark = TestSpark.spark();
    // a source no other test uses, so that this test sees its first load whatever ran before
    ModelSource source = ModelSource.localFolder(TestSpark.tinyModel().toString()).withMaxBatchSize(4);
    long before = ExecutorModels.loadCount();
    VlmTransformer t = VlmTransformer.builder(source).imageColumn("image").promptColumn("prompt").maxNewTokens(4)
        .groupSize(3).build();
    Dataset<Row> input = rows(spark, 16, 8);
    assertEquals(8, input.rdd().getNumPartitions());
    assertEquals(16, t.generate(input).filter("error is null").count());                // job 1: 8 tasks
    assertEquals(16, t.classify(input, List.of("ok", "defective")).filter("error is null").count());   // job 2
    assertEquals(before + 1, ExecutorModels.loadCount(), "one load for 16 tasks in 2 jobs");
    // every task of a third job sees the same instance
    MapPartitionsFunction<Long, Integer> identity = it -> List.of(System.identityHashCode(ExecutorModels.model(source)))
        .iterator();
    List<Integer> ids = spark.range(0, 8, 1, 8).as(Encoders.LONG()).mapPartitions(identity, Encoders.INT())
        .collectAsList();
    assertEquals(8, ids.size());
    assertEquals(1, ids.stream().distinct().count(), ids.toString());
    assertEquals(before + 1, ExecutorModels.loadCount());
  }

  @Test
  void aFolderShippedWithTheJobIsResolvedThroughSparkFiles() {
    SparkSession spark = TestSpark.spark();
    spark.sparkContext().addFile(TestSpark.tinyModel().toString(), true);
    ModelSource shipped = ModelSource.sparkFile(TestSpark.tinyModel().getFileName().toString());
    Dataset<Row> input = rows(spark, 6, 2);
    VlmTransformer viaFiles = VlmTransformer.builder(shipped).imageColumn("image").promptColumn("prompt")
        .maxNewTokens(6).build();
    VlmTransformer local = VlmTransformer.builder(ModelSource.localFolder(TestSpark.tinyModel().toString()))
        .imageColumn("image").promptColumn("prompt").maxNewTokens(6).build();
    List<String> a = viaFiles.generate(input).orderBy("id").select("text").as(Encoders.STRING()).collectAsList();
    List<String> b = local.generate(input).orderBy("id").select("text").as(Encoders.STRING()).collectAsList();
    assertEquals(b, a);
    String root = Path.of(SparkFiles.getRootDirectory()).toAbsolutePath().normalize().toString();
    assertTrue(ExecutorModels.loadedModels().stream().anyMatch(k -> k.startsWith(root)),
        ExecutorModels.loadedModels() + " should hold a model under " + root);
  }

  @Test
  void aModelThatCannotLoadFailsTheJobNamingTheFolder() {
    SparkSession spark = TestSpark.spark();
    Path missing = TestSpark.root().resolve("no-such-model");
    VlmTransformer t = VlmTransformer.builder(ModelSource.localFolder(missing.toString())).imageColumn("image")
        .promptColumn("prompt").build();
    SparkException e = assertThrows(SparkException.class, () -> t.generate(rows(spark, 2, 1)).count());
    Throwable c = e;
    while (c != null && !(c instanceof ModelUnavailableException)) {
      c = c.getCause();
    }
    String text = c == null ? String.valueOf(e.getMessage()) : c.getMessage();
    assertTrue(text.contains("no-such-model") && text.contains("MISSING_FILE"), text);
  }
}
