package io.github.vlm4j.spark;

import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Names and types of the columns a {@link VlmTransformer} appends to its input.
 *
 * <p>{@code generate}: {@value #TEXT} (string), {@value #FINISH_REASON} (string: {@code EOS},
 * {@code LENGTH}, {@code STOP_STRING}), {@value #PROMPT_TOKENS}, {@value #IMAGE_TOKENS},
 * {@value #COMPLETION_TOKENS} (int), {@value #TIMINGS} ({@link #TIMINGS_TYPE}) and {@value #ERROR}
 * ({@link #ERROR_TYPE}). {@code classify}: {@value #LABEL} (string), {@value #PROBABILITY} (double),
 * {@value #PROBABILITIES} (map from every candidate label to its probability), then the token counts
 * (completion tokens = the scored label tokens), timings and error. A row without error has a null
 * {@value #ERROR}; a row with one has null in every other appended column.
 */
public final class VlmColumns {
  /** Generated text. */
  public static final String TEXT = "text";
  /** Why generation stopped. */
  public static final String FINISH_REASON = "finish_reason";
  /** Prompt tokens, image tokens included. */
  public static final String PROMPT_TOKENS = "prompt_tokens";
  /** Image tokens in the prompt. */
  public static final String IMAGE_TOKENS = "image_tokens";
  /** Generated tokens (the stopping token included), or scored label tokens for classify. */
  public static final String COMPLETION_TOKENS = "completion_tokens";
  /** Stage timings of the row, a struct of type {@link #TIMINGS_TYPE}. */
  public static final String TIMINGS = "timings";
  /** The row's error, a struct of type {@link #ERROR_TYPE}, or null. */
  public static final String ERROR = "error";
  /** The most probable label. */
  public static final String LABEL = "label";
  /** The most probable label's probability, normalised over the candidate labels. */
  public static final String PROBABILITY = "probability";
  /** Every candidate label's probability. */
  public static final String PROBABILITIES = "probabilities";

  /**
   * Error reason of a row whose graph run failed ({@link io.github.vlm4j.core.InferenceException});
   * every other reason is a {@link io.github.vlm4j.core.VlmInputException.Reason} name.
   */
  public static final String INFERENCE_FAILED = "INFERENCE_FAILED";

  /**
   * {@value #TIMINGS}: milliseconds per stage ({@code preprocess_ms}, {@code vision_ms},
   * {@code prefill_ms}, {@code ttft_ms} (request start to first token), {@code decode_ms} (the sum of
   * the later steps), {@code total_ms}) and {@code decode_steps}; see {@link io.github.vlm4j.core.StageTimings}.
   */
  public static final StructType TIMINGS_TYPE = new StructType(new StructField[] {
      field("preprocess_ms", DataTypes.DoubleType), field("vision_ms", DataTypes.DoubleType),
      field("prefill_ms", DataTypes.DoubleType), field("ttft_ms", DataTypes.DoubleType),
      field("decode_ms", DataTypes.DoubleType), field("decode_steps", DataTypes.IntegerType),
      field("total_ms", DataTypes.DoubleType)});

  /**
   * {@value #ERROR}: {@code reason} (a {@link io.github.vlm4j.core.VlmInputException.Reason} name such as
   * {@code IMAGE_CORRUPT} or {@code PROMPT_TOO_LONG}, or {@value #INFERENCE_FAILED}) and {@code message}
   * (what was expected and what was found).
   */
  public static final StructType ERROR_TYPE = new StructType(new StructField[] {
      field("reason", DataTypes.StringType), field("message", DataTypes.StringType)});

  private VlmColumns() {}

  static StructField field(String name, DataType type) {
    return DataTypes.createStructField(name, type, true);
  }

  static StructField[] generateFields() {
    return new StructField[] {field(TEXT, DataTypes.StringType), field(FINISH_REASON, DataTypes.StringType),
        field(PROMPT_TOKENS, DataTypes.IntegerType), field(IMAGE_TOKENS, DataTypes.IntegerType),
        field(COMPLETION_TOKENS, DataTypes.IntegerType), field(TIMINGS, TIMINGS_TYPE), field(ERROR, ERROR_TYPE)};
  }

  static StructField[] classifyFields() {
    return new StructField[] {field(LABEL, DataTypes.StringType), field(PROBABILITY, DataTypes.DoubleType),
        field(PROBABILITIES, DataTypes.createMapType(DataTypes.StringType, DataTypes.DoubleType, false)),
        field(PROMPT_TOKENS, DataTypes.IntegerType), field(IMAGE_TOKENS, DataTypes.IntegerType),
        field(COMPLETION_TOKENS, DataTypes.IntegerType), field(TIMINGS, TIMINGS_TYPE), field(ERROR, ERROR_TYPE)};
  }
}
