package io.github.vlm4j.spark;

import io.github.vlm4j.core.StageTimings;
import io.github.vlm4j.core.Usage;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.spark.SparkContext;
import org.apache.spark.util.DoubleAccumulator;
import org.apache.spark.util.LongAccumulator;

/**
 * Spark accumulators of a {@link VlmTransformer}'s work, named {@code <prefix>.rows},
 * {@code .errors}, {@code .promptTokens}, {@code .imageTokens}, {@code .completionTokens} and the
 * summed stage times {@code .preprocessMs}, {@code .visionMs}, {@code .prefillMs}, {@code .decodeMs}
 * (shown in the Spark UI's stage pages). Executors add to them as rows are processed; read the values on
 * the driver after an action.
 *
 * <p>Spark's rules for accumulators updated inside transformations apply: a retried task or a
 * recomputed partition (an uncached result used by two actions) counts its rows again. Cache or
 * write the output once for exact totals. Serializable; each task works on its own deserialized copy,
 * whose updates from the task's row threads are serialized (Spark's accumulators themselves are not
 * thread-safe).
 */
public final class VlmMetrics implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Rows processed, errors included. */
  private final LongAccumulator rows;
  /** Rows whose output is an error value. */
  private final LongAccumulator errors;
  /** Prompt tokens of rows without error. */
  private final LongAccumulator promptTokens;
  /** Image tokens of rows without error. */
  private final LongAccumulator imageTokens;
  /** Generated or scored tokens of rows without error. */
  private final LongAccumulator completionTokens;
  /** Summed preprocessing milliseconds. */
  private final DoubleAccumulator preprocessMs;
  /** Summed vision milliseconds. */
  private final DoubleAccumulator visionMs;
  /** Summed prefill milliseconds. */
  private final DoubleAccumulator prefillMs;
  /** Summed decode milliseconds. */
  private final DoubleAccumulator decodeMs;

  private VlmMetrics(SparkContext sc, String prefix) {
    rows = sc.longAccumulator(prefix + ".rows");
    errors = sc.longAccumulator(prefix + ".errors");
    promptTokens = sc.longAccumulator(prefix + ".promptTokens");
    imageTokens = sc.longAccumulator(prefix + ".imageTokens");
    completionTokens = sc.longAccumulator(prefix + ".completionTokens");
    preprocessMs = sc.doubleAccumulator(prefix + ".preprocessMs");
    visionMs = sc.doubleAccumulator(prefix + ".visionMs");
    prefillMs = sc.doubleAccumulator(prefix + ".prefillMs");
    decodeMs = sc.doubleAccumulator(prefix + ".decodeMs");
  }

  /**
   * Registers a new set of accumulators on the driver.
   *
   * @param sc the job's Spark context
   * @param prefix the accumulators' name prefix, e.g. {@code "vlm4j"}
   * @return the metrics, to pass to {@link VlmTransformer.Builder#metrics(VlmMetrics)}
   */
  public static VlmMetrics register(SparkContext sc, String prefix) {
    return new VlmMetrics(sc, prefix);
  }

  /**
   * Adds one processed row and its usage (generation or label scoring). Synchronized: Spark's
   * accumulators are not thread-safe, and a task's rows in flight finish on several threads.
   */
  synchronized void recordRow(Usage usage) {
    rows.add(1);
    promptTokens.add(usage.promptTokens());
    imageTokens.add(usage.imageTokens());
    completionTokens.add(usage.generatedTokens());
    StageTimings t = usage.timings();
    preprocessMs.add(t.preprocessMs());
    visionMs.add(t.visionMs());
    prefillMs.add(t.prefillMs());
    decodeMs.add(t.decodeMs());
  }

  /** Adds one row that ended in an error value (synchronized, as {@link #recordRow}). */
  synchronized void recordError() {
    rows.add(1);
    errors.add(1);
  }

  /**
   * Returns the rows processed, errors included.
   *
   * @return the accumulator (read its value on the driver)
   */
  public LongAccumulator rows() {
    return rows;
  }

  /**
   * Returns the rows whose output is an error value.
   *
   * @return the accumulator
   */
  public LongAccumulator errors() {
    return errors;
  }

  /**
   * Returns the prompt tokens (image tokens included) of the rows without error.
   *
   * @return the accumulator
   */
  public LongAccumulator promptTokens() {
    return promptTokens;
  }

  /**
   * Returns the image tokens of the rows without error.
   *
   * @return the accumulator
   */
  public LongAccumulator imageTokens() {
    return imageTokens;
  }

  /**
   * Returns the generated tokens (for label scoring: the scored label tokens) of the rows without error.
   *
   * @return the accumulator
   */
  public LongAccumulator completionTokens() {
    return completionTokens;
  }

  /**
   * Returns the summed preprocessing time (image decoding, resizing, prompt building), in milliseconds.
   *
   * @return the accumulator
   */
  public DoubleAccumulator preprocessMs() {
    return preprocessMs;
  }

  /**
   * Returns the summed vision encoder and projector time, in milliseconds.
   *
   * @return the accumulator
   */
  public DoubleAccumulator visionMs() {
    return visionMs;
  }

  /**
   * Returns the summed prompt pass (prefill) time, in milliseconds.
   *
   * @return the accumulator
   */
  public DoubleAccumulator prefillMs() {
    return prefillMs;
  }

  /**
   * Returns the summed decode step time, in milliseconds.
   *
   * @return the accumulator
   */
  public DoubleAccumulator decodeMs() {
    return decodeMs;
  }

  /**
   * Reads every value, on the driver.
   *
   * @return name (without prefix) to value, in the order above
   */
  public Map<String, Number> values() {
    Map<String, Number> m = new LinkedHashMap<>();
    m.put("rows", rows.value());
    m.put("errors", errors.value());
    m.put("promptTokens", promptTokens.value());
    m.put("imageTokens", imageTokens.value());
    m.put("completionTokens", completionTokens.value());
    m.put("preprocessMs", preprocessMs.value());
    m.put("visionMs", visionMs.value());
    m.put("prefillMs", prefillMs.value());
    m.put("decodeMs", decodeMs.value());
    return m;
  }
}
