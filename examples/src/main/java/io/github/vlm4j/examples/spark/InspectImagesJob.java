package io.github.vlm4j.examples.spark;

import io.github.vlm4j.spark.FewShotDemos;
import io.github.vlm4j.spark.ModelSource;
import io.github.vlm4j.spark.VlmMetrics;
import io.github.vlm4j.spark.VlmTransformer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;

/**
 * A Spark job that labels part photos ok / defective with few-shot demos and writes Parquet: the
 * images are read with Spark's {@code binaryFile} source, the demos (the first images of each label
 * folder of a pool, read on the driver) are broadcast once, and every image becomes a query scored
 * against the pool's labels on the executors. Writes {@code path, label, probability, probabilities,
 * prompt_tokens, completion_tokens, timings, error} to {@code --out} and prints the label counts and
 * the job's accumulators.
 *
 * <pre>{@code
 * spark-submit --master local[2] --class io.github.vlm4j.examples.spark.InspectImagesJob \
 *     examples/target/vlm4j.jar --out /tmp/vlm4j-inspection.parquet
 * }</pre>
 *
 * Options (defaults for a run from the repository root on the kit's tiny model):
 * {@code --master M} (only when not started by spark-submit), {@code --model DIR} (a folder at this
 * path on every node) or {@code --shipped-model NAME} (an {@code --archives ...#NAME} alias or
 * {@code addFile} name), {@code --images DIR} (any Hadoop path, PNG/JPEG files below it),
 * {@code --pool DIR} (local to the driver, {@code <label>/<image>}), {@code --shots K} (demos per
 * label, 2), {@code --group N} (rows per concurrent group, 8), {@code --threads N} (ONNX Runtime
 * threads per graph, 0 = its default), {@code --out DIR}.
 */
public final class InspectImagesJob {
  private InspectImagesJob() {}

  /**
   * Runs the job.
   *
   * @param args see the class comment
   */
  public static void main(String[] args) {
    Map<String, String> o = options(args);
    String kit = "src/test/resources";
    SparkSession.Builder b = SparkSession.builder().appName("vlm4j-inspect-images");
    if (o.containsKey("master")) {
      b.master(o.get("master")).config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
          .config("spark.driver.bindAddress", "127.0.0.1");
    }
    SparkSession spark = b.getOrCreate();
    try {
      ModelSource source = (o.containsKey("shipped-model") ? ModelSource.sparkFile(o.get("shipped-model"))
          : ModelSource.localFolder(Path.of(o.getOrDefault("model", kit + "/models/vlm4j-tiny-idefics3"))
              .toAbsolutePath().toString()))
          .withThreads(Integer.parseInt(o.getOrDefault("threads", "0")));
      String images = o.getOrDefault("images", Path.of(kit + "/fewshot/inspection/queries").toAbsolutePath().toString());
      Path pool = Path.of(o.getOrDefault("pool", kit + "/fewshot/inspection/pool"));
      String out = o.getOrDefault("out", "/tmp/vlm4j-inspection.parquet");
      FewShotDemos demos = FewShotDemos.fromFolder(pool, Integer.parseInt(o.getOrDefault("shots", "2")),
          "Is this part ok or defective?").build();
      List<String> labels = demos.answers().stream().distinct().sorted().toList();

      Dataset<Row> files = spark.read().format("binaryFile").option("recursiveFileLookup", "true")
          .option("pathGlobFilter", "*.{png,jpg,jpeg}").load(images);
      VlmMetrics metrics = VlmMetrics.register(spark.sparkContext(), "vlm4j");
      VlmTransformer inspect = VlmTransformer.builder(source).imageColumn("content").demos(demos)
          .imageSplitting(false).groupSize(Integer.parseInt(o.getOrDefault("group", "8"))).metrics(metrics).build();
      long t0 = System.nanoTime();
      inspect.classify(files, labels)
          .select("path", "label", "probability", "probabilities", "prompt_tokens", "completion_tokens", "timings",
              "error")
          .write().mode(SaveMode.Overwrite).parquet(out);
      double seconds = (System.nanoTime() - t0) / 1e9;

      Dataset<Row> written = spark.read().parquet(out);
      System.out.printf("wrote %d rows to %s in %.1f s (%s demos: %s)%n", written.count(), out, seconds,
          demos.size(), demos.answers());
      written.groupBy("label").count().orderBy("label").collectAsList()
          .forEach(r -> System.out.println("  " + r.get(0) + ": " + r.getLong(1)));
      written.filter("error is not null").select("path", "error.reason", "error.message").collectAsList()
          .forEach(r -> System.out.println("  error " + r.get(0) + ": " + r.get(1) + " " + r.get(2)));
      System.out.println("metrics " + metrics.values());
    } finally {
      spark.stop();
    }
  }

  private static Map<String, String> options(String[] args) {
    Map<String, String> o = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--") || i + 1 == args.length) {
        throw new IllegalArgumentException("expected --name value pairs, got '" + args[i] + "'");
      }
      o.put(args[i].substring(2), args[++i]);
    }
    return o;
  }
}
