package io.github.vlm4j.spark;

import io.github.vlm4j.FewShotPrompt;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Vision-language inference over a DataFrame: {@link #generate(Dataset)} appends generated text,
 * {@link #classify(Dataset, List)} appends the most probable of a set of labels (few-shot with
 * {@link Builder#demos(FewShotDemos)}, zero-shot without). Every input column is kept; the appended
 * columns are listed in {@link VlmColumns}.
 *
 * <pre>{@code
 * VlmTransformer t = VlmTransformer.builder(ModelSource.sparkFile("model"))
 *     .imageColumn("content").promptColumn("prompt").maxNewTokens(32).build();
 * Dataset<Row> out = t.generate(spark.read().format("binaryFile").load("s3a://bucket/parts/")
 *     .withColumn("prompt", functions.lit("Is this part ok or defective?")));
 * }</pre>
 *
 * <p>Each executor JVM loads the model once, when its first task needs it ({@link ExecutorModels}),
 * and shares it between its tasks. A task keeps up to {@link Builder#groupSize(int)} rows of its
 * partition in flight as concurrent requests (sharing decoder steps up to the model's batch size),
 * starting the next row as soon as an earlier one has been handed on, so memory does not grow with
 * the partition. A bad row — a corrupt or missing image, a prompt over the context window, a
 * null prompt, a token limit out of range — yields an {@link VlmColumns#ERROR} value with the
 * library's reason and message, never a failed task; a model that cannot be loaded fails the task
 * ({@link ModelUnavailableException}). Decoding is greedy, so results equal
 * {@code VisionLanguageModel.generate}/{@code classify} on the same inputs.
 *
 * <p>Immutable and thread-safe; transformations are lazy, as in Spark.
 */
public final class VlmTransformer {
  private final ModelSource source;
  private final String imageColumn;
  private final boolean imagePaths;
  private final String promptColumn;
  private final String maxTokensColumn;
  private final RowWork.Settings settings;
  private final int groupSize;
  private final FewShotDemos demos;
  private final VlmMetrics metrics;
  private Broadcast<FewShotDemos> broadcast;
  private SparkContext broadcastContext;

  private VlmTransformer(Builder b) {
    source = b.source;
    imageColumn = b.imageColumn;
    imagePaths = b.imagePaths;
    promptColumn = b.promptColumn;
    maxTokensColumn = b.maxTokensColumn;
    settings = new RowWork.Settings(b.maxNewTokens, b.imageSplitting, b.maxImageTokens, b.pixelBudget);
    groupSize = b.groupSize;
    demos = b.demos;
    metrics = b.metrics;
  }

  /**
   * Starts a builder.
   *
   * @param source where executors find the model folder
   * @return a builder: no image column, no prompt column, 64 new tokens, 8 rows in flight per task
   */
  public static Builder builder(ModelSource source) {
    return new Builder(Objects.requireNonNull(source, "source"));
  }

  /**
   * Appends generated text to every row (lazy: runs when an action runs). Each row's prompt is its
   * images (if any) then its prompt text in one user turn, or, with demos, the few-shot prompt whose
   * query is the row's images and prompt text.
   *
   * @param input rows with the configured columns
   * @return the input columns followed by those of {@link VlmColumns} for generation
   * @throws IllegalArgumentException if no prompt column is set, a configured column is missing or
   *     has the wrong type, or the input already has a column named like an appended one
   */
  public Dataset<Row> generate(Dataset<Row> input) {
    if (promptColumn == null) {
      throw new IllegalArgumentException("generate needs a prompt column: set Builder.promptColumn(name)");
    }
    return run(input, new RowWork.Generate(settings));
  }

  /**
   * Appends the most probable of the candidate labels to every row (lazy). The query is the row's
   * images and prompt text (without a prompt column: the demos' question, or
   * {@link FewShotPrompt#DEFAULT_QUESTION} without demos).
   *
   * @param input rows with the configured columns
   * @param labels candidate labels (non-blank, distinct; checked by the library per row)
   * @return the input columns followed by those of {@link VlmColumns} for classification
   * @throws IllegalArgumentException if no image column is set, a configured column is missing or
   *     has the wrong type, the labels are empty, or the input already has a column named like an appended one
   */
  public Dataset<Row> classify(Dataset<Row> input, List<String> labels) {
    if (imageColumn == null) {
      throw new IllegalArgumentException("classify needs an image column: set Builder.imageColumn or imagePathColumn");
    }
    if (labels.isEmpty()) {
      throw new IllegalArgumentException("classify needs at least one candidate label, got none");
    }
    String question = demos == null ? FewShotPrompt.DEFAULT_QUESTION : demos.question();
    return run(input, new RowWork.Classify(settings, labels, question));
  }

  private Dataset<Row> run(Dataset<Row> input, RowWork work) {
    StructType in = input.schema();
    RowInputs inputs = RowInputs.bind(in, imageColumn, imagePaths, promptColumn, maxTokensColumn);
    Set<String> names = new HashSet<>(Arrays.asList(in.fieldNames()));
    StructType out = in;
    for (StructField f : work.fields()) {
      if (names.contains(f.name())) {
        throw new IllegalArgumentException("the input already has a column '" + f.name() + "', which "
            + "VlmTransformer appends; rename or drop it first");
      }
      out = out.add(f);
    }
    PartitionRunner runner = new PartitionRunner(source, inputs, work, demoBroadcast(input.sparkSession().sparkContext()),
        metrics, groupSize);
    return input.mapPartitions(runner, Encoders.row(out));
  }

  /** The demos, broadcast once per Spark context (null without demos). */
  private synchronized Broadcast<FewShotDemos> demoBroadcast(SparkContext sc) {
    if (demos == null) {
      return null;
    }
    if (broadcast == null || broadcastContext != sc) {
      broadcast = JavaSparkContext.fromSparkContext(sc).broadcast(demos);
      broadcastContext = sc;
    }
    return broadcast;
  }

  /** Configures a transformer; not thread-safe. */
  public static final class Builder {
    private final ModelSource source;
    private String imageColumn;
    private boolean imagePaths;
    private String promptColumn;
    private String maxTokensColumn;
    private int maxNewTokens = 64;
    private Boolean imageSplitting;
    private Integer maxImageTokens;
    private int[] pixelBudget;
    private int groupSize = 8;
    private FewShotDemos demos;
    private VlmMetrics metrics;

    private Builder(ModelSource source) {
      this.source = source;
    }

    /**
     * Reads images from a column of encoded bytes ({@code binary}, e.g. the {@code content} column
     * of Spark's {@code binaryFile} source) or of several images per row ({@code array<binary>}). A
     * null value means no image.
     *
     * @param column the column name
     * @return this
     */
    public Builder imageColumn(String column) {
      this.imageColumn = Objects.requireNonNull(column, "column");
      this.imagePaths = false;
      return this;
    }

    /**
     * Reads images from a column of local paths or {@code file:} URIs ({@code string} or
     * {@code array<string>}), for images on a file system mounted at the same place on every node.
     * Replaces {@link #imageColumn(String)}.
     *
     * @param column the column name
     * @return this
     */
    public Builder imagePathColumn(String column) {
      this.imageColumn = Objects.requireNonNull(column, "column");
      this.imagePaths = true;
      return this;
    }

    /**
     * Reads each row's prompt text (the question about its images) from a {@code string} column.
     *
     * @param column the column name
     * @return this
     */
    public Builder promptColumn(String column) {
      this.promptColumn = Objects.requireNonNull(column, "column");
      return this;
    }

    /**
     * Reads each row's own limit of new tokens from an integer column (null = {@link #maxNewTokens(int)}).
     *
     * @param column the column name
     * @return this
     */
    public Builder maxTokensColumn(String column) {
      this.maxTokensColumn = Objects.requireNonNull(column, "column");
      return this;
    }

    /**
     * Sets the token limit of rows without their own.
     *
     * @param n new tokens at most, at least 1
     * @return this
     * @throws IllegalArgumentException below 1
     */
    public Builder maxNewTokens(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("maxNewTokens must be at least 1, got " + n);
      }
      this.maxNewTokens = n;
      return this;
    }

    /**
     * Sets image splitting for every row ({@code RequestOptions.withImageSplitting}); unset = the model's default.
     *
     * @param split whether to split large images into tiles
     * @return this
     */
    public Builder imageSplitting(boolean split) {
      this.imageSplitting = split;
      return this;
    }

    /**
     * Caps the image tokens of a row's prompt ({@code RequestOptions.withMaxImageTokens}); a row
     * over it gets a PROMPT_TOO_LONG error value.
     *
     * @param cap image tokens at most
     * @return this
     */
    public Builder maxImageTokens(int cap) {
      this.maxImageTokens = cap;
      return this;
    }

    /**
     * Resizes every row's images into {@code [minPixels, maxPixels]} pixels
     * ({@code RequestOptions.withPixelBudget}: dynamic-resolution models such as Qwen2-VL and LFM2-VL, whose image
     * tokens follow the image size). Checked here; on a fixed-frame model every row gets an
     * INVALID_OPTION error value.
     *
     * @param minPixels smallest resized area, >= 1
     * @param maxPixels largest resized area, >= minPixels
     * @return this
     * @throws io.github.vlm4j.core.VlmInputException INVALID_OPTION for bounds out of range
     */
    public Builder pixelBudget(int minPixels, int maxPixels) {
      io.github.vlm4j.RequestOptions.DEFAULT.withPixelBudget(minPixels, maxPixels);   // validates
      this.pixelBudget = new int[] {minPixels, maxPixels};
      return this;
    }

    /**
     * Sets how many rows of a partition are in flight at once (1 = one after another on the task's
     * thread). They share decoder steps (up to the model's
     * {@link ModelSource#withMaxBatchSize(int) batch size}), and each holds its own KV cache while
     * it runs: memory per task is about {@code n} × (the KV cache of one row and its input and output row).
     *
     * @param n rows in flight, in [1, 256]
     * @return this
     * @throws IllegalArgumentException outside the range
     */
    public Builder groupSize(int n) {
      if (n < 1 || n > 256) {
        throw new IllegalArgumentException("groupSize must be in [1, 256], got " + n);
      }
      this.groupSize = n;
      return this;
    }

    /**
     * Makes every row a few-shot query with these demos (broadcast once per job).
     *
     * @param set the demos
     * @return this
     */
    public Builder demos(FewShotDemos set) {
      this.demos = Objects.requireNonNull(set, "set");
      return this;
    }

    /**
     * Counts rows, errors, tokens and stage times into these accumulators.
     *
     * @param m accumulators registered with {@link VlmMetrics#register}
     * @return this
     */
    public Builder metrics(VlmMetrics m) {
      this.metrics = Objects.requireNonNull(m, "m");
      return this;
    }

    /**
     * Builds the transformer.
     *
     * @return the transformer
     */
    public VlmTransformer build() {
      return new VlmTransformer(this);
    }
  }
}
