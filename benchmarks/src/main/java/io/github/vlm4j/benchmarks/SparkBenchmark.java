package io.github.vlm4j.benchmarks;

import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.Usage;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import io.github.vlm4j.spark.ModelSource;
import io.github.vlm4j.spark.VlmTransformer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Rows per second of {@link VlmTransformer#generate} in Spark local mode against the library
 * called directly (issue 14). ROWS rows (the PNGs under IMAGES, repeated, one question, greedy,
 * NEW_TOKENS at most, no image splitting) per run, REPS timed runs after a warm-up run that loads
 * the model; the median run is reported.
 *
 * <ul>
 *   <li>{@code direct GROUP}: {@code model.generate} for every row on GROUP threads of one pool
 *       (GROUP = 1: one after another), the same model options as the executors';
 *   <li>{@code local[K] GROUP}: a DataFrame of the rows (cached, 2K partitions) through
 *       {@code VlmTransformer.generate(...).groupSize(GROUP)} into Spark's {@code noop} sink.
 * </ul>
 *
 * <p>Needs Spark on the classpath (it is {@code provided}), before the benchmarks jar:
 *
 * <pre>{@code
 * java $SPARK_JVM_OPTIONS -cp "$(cat integrations/spark/target/spark.classpath):benchmarks/target/benchmarks.jar" \
 *     io.github.vlm4j.benchmarks.SparkBenchmark MODEL IMAGES ROWS NEW_TOKENS REPS direct|local[K] GROUP [--threads N] [--no-spin]
 * }</pre>
 *
 * Prints one CSV line: mode, group, rows, new tokens, threads, spinning, median seconds, rows/s, ms per row,
 * the library's own time per row (mean {@code StageTimings.totalMs}; with GROUP &gt; 1 the rows overlap),
 * generated tokens of one run, the 1-minute load average before and after, and the peak RSS (VmHWM, MiB).
 */
public final class SparkBenchmark {
  private static final String QUESTION = "Is this part ok or defective?";

  private SparkBenchmark() {}

  /**
   * Runs the benchmark.
   *
   * @param args see the class comment
   * @throws Exception on failure
   */
  public static void main(String[] args) throws Exception {
    if (args.length < 7) {
      System.err.println("usage: MODEL IMAGES ROWS NEW_TOKENS REPS direct|local[K] GROUP [--threads N] [--no-spin]");
      System.exit(2);
    }
    Path model = Path.of(args[0]).toAbsolutePath();
    List<byte[]> images = pngs(Path.of(args[1]));
    int rows = Integer.parseInt(args[2]);
    int newTokens = Integer.parseInt(args[3]);
    int reps = Integer.parseInt(args[4]);
    String mode = args[5];
    int group = Integer.parseInt(args[6]);
    int threads = 0;
    boolean spin = true;
    for (int i = 7; i < args.length; i++) {
      if (args[i].equals("--threads")) {
        threads = Integer.parseInt(args[++i]);
      } else if (args[i].equals("--no-spin")) {
        spin = false;
      }
    }
    String loadBefore = loadAverage();
    double[] seconds = new double[reps];
    long tokens;
    double libraryMs;   // mean of the library's own request time (StageTimings.totalMs) per row
    if (mode.equals("direct")) {
      try (VisionLanguageModel m = VisionLanguageModel.builder(model).threads(threads).allowSpinning(spin).build()) {
        direct(m, images, Math.min(rows, 2 * group), newTokens, group);   // warm-up
        double[] last = null;
        for (int r = 0; r < reps; r++) {
          long t0 = System.nanoTime();
          last = direct(m, images, rows, newTokens, group);
          seconds[r] = (System.nanoTime() - t0) / 1e9;
        }
        tokens = (long) last[0];
        libraryMs = last[1] / rows;
      }
    } else {
      int cores = Integer.parseInt(mode.replaceAll("\\D", ""));
      SparkSession spark = SparkSession.builder().master(mode).appName("vlm4j-spark-benchmark")
          .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
          .config("spark.driver.bindAddress", "127.0.0.1").config("spark.sql.shuffle.partitions", "4")
          .getOrCreate();
      spark.sparkContext().setLogLevel("WARN");
      VlmTransformer t = VlmTransformer.builder(ModelSource.localFolder(model.toString()).withThreads(threads)
          .withAllowSpinning(spin))
          .imageColumn("image").promptColumn("prompt").maxNewTokens(newTokens).imageSplitting(false)
          .groupSize(group).build();
      Dataset<Row> input = frame(spark, images, rows, 2 * cores).cache();
      input.count();
      t.generate(frame(spark, images, Math.min(rows, 2 * group * cores), cores)).write().format("noop")
          .mode("overwrite").save();   // warm-up: loads the model
      for (int r = 0; r < reps; r++) {
        long t0 = System.nanoTime();
        t.generate(input).write().format("noop").mode("overwrite").save();
        seconds[r] = (System.nanoTime() - t0) / 1e9;
      }
      Row sums = t.generate(input).selectExpr("sum(completion_tokens)", "avg(timings.total_ms)").first();
      tokens = sums.getLong(0);
      libraryMs = sums.getDouble(1);
      spark.stop();
    }
    double[] sorted = seconds.clone();
    Arrays.sort(sorted);
    double median = sorted[reps / 2];
    System.out.println(String.format(Locale.ROOT, "%s,%d,%d,%d,%d,%s,%.2f,%.1f,%.1f,%.1f,%d,%s,%s,%s", mode, group,
        rows, newTokens, threads, spin, median, rows / median, 1000 * median / rows, libraryMs, tokens, loadBefore,
        loadAverage(), peakRssMib()));
  }

  /** @return generated tokens and the sum of the requests' own times (ms) */
  private static double[] direct(VisionLanguageModel m, List<byte[]> images, int rows, int newTokens, int group)
      throws Exception {
    RequestOptions options = RequestOptions.DEFAULT.withImageSplitting(false);
    GenerationConfig config = GenerationConfig.greedy(newTokens);
    ExecutorService pool = Executors.newFixedThreadPool(group);
    try {
      List<Future<Usage>> futures = new ArrayList<>();
      for (int i = 0; i < rows; i++) {
        byte[] image = images.get(i % images.size());
        futures.add(pool.submit(() -> m.generate(List.of(Message.user(ImageInput.of(image), QUESTION)), config,
            options, TokenStreamer.none()).usage()));
      }
      double[] sums = new double[2];
      for (Future<Usage> f : futures) {
        Usage u = f.get();
        sums[0] += u.generatedTokens();
        sums[1] += u.timings().totalMs();
      }
      return sums;
    } finally {
      pool.shutdown();
    }
  }

  private static Dataset<Row> frame(SparkSession spark, List<byte[]> images, int rows, int partitions) {
    StructType schema = new StructType().add("image", DataTypes.BinaryType).add("prompt", DataTypes.StringType);
    List<Row> list = new ArrayList<>(rows);
    for (int i = 0; i < rows; i++) {
      list.add(RowFactory.create(images.get(i % images.size()), QUESTION));
    }
    return spark.createDataFrame(list, schema).repartition(partitions);
  }

  private static List<byte[]> pngs(Path dir) throws IOException {
    List<byte[]> out = new ArrayList<>();
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.filter(f -> f.toString().endsWith(".png")).sorted().toList()) {
        out.add(Files.readAllBytes(p));
      }
    }
    return out;
  }

  /** @return the process's peak resident set (VmHWM) in MiB */
  private static String peakRssMib() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) {
          return String.valueOf(Long.parseLong(line.replaceAll("\\D", "")) / 1024);
        }
      }
    } catch (IOException e) {
      // not Linux
    }
    return "?";
  }

  private static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    } catch (IOException e) {
      return "?";
    }
  }
}
