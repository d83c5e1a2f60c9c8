package io.github.vlm4j.core.onnx;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Weight precision of an ONNX file, named as transformers.js names them; each maps to the file-name
 * suffix of the onnx-community layout ({@code decoder_model_merged_fp16.onnx}, ...).
 */
public enum Dtype {
  /** Full precision: no suffix. */
  FP32("fp32", ""),
  /** Float16 weights: {@code _fp16}. */
  FP16("fp16", "_fp16"),
  /** 8-bit quantized: {@code _quantized}. */
  Q8("q8", "_quantized"),
  /** Signed int8: {@code _int8}. */
  INT8("int8", "_int8"),
  /** Unsigned int8: {@code _uint8}. */
  UINT8("uint8", "_uint8"),
  /** 4-bit blockwise weights: {@code _q4}. */
  Q4("q4", "_q4"),
  /** 4-bit weights with float16 activations: {@code _q4f16}. */
  Q4F16("q4f16", "_q4f16"),
  /** bitsandbytes NF4: {@code _bnb4}. */
  BNB4("bnb4", "_bnb4");

  private final String label;
  private final String suffix;

  Dtype(String label, String suffix) {
    this.label = label;
    this.suffix = suffix;
  }

  /**
   * Returns the name transformers.js gives this dtype.
   *
   * @return the transformers.js name, e.g. {@code q8}
   */
  public String label() {
    return label;
  }

  /**
   * Returns the suffix graph files of this dtype carry.
   *
   * @return the file-name suffix, e.g. {@code _quantized}
   */
  public String suffix() {
    return suffix;
  }

  /**
   * Returns the file name of a graph in this dtype.
   *
   * @param baseName a graph base name such as {@code decoder_model_merged}
   * @return the file name inside {@code onnx/}, e.g. {@code decoder_model_merged_fp16.onnx}
   */
  public String fileName(String baseName) {
    return baseName + suffix + ".onnx";
  }

  /**
   * Parses a transformers.js dtype name ({@code fp32}, {@code fp16}, {@code q8}, {@code int8},
   * {@code uint8}, {@code q4}, {@code q4f16}, {@code bnb4}); {@code quantized} is accepted for q8.
   *
   * @param name the name, case-insensitive
   * @return the dtype
   * @throws io.github.vlm4j.core.VlmInputException INVALID_OPTION naming the accepted values
   */
  public static Dtype parse(String name) {
    if (name == null) {
      throw unknown("null");
    }
    String n = name.trim().toLowerCase(Locale.ROOT);
    if (n.equals("quantized")) {
      return Q8;
    }
    for (Dtype d : values()) {
      if (d.label.equals(n)) {
        return d;
      }
    }
    throw unknown("'" + (name.length() > 40 ? name.substring(0, 37) + "..." : name) + "'");
  }

  private static io.github.vlm4j.core.VlmInputException unknown(String found) {
    return new io.github.vlm4j.core.VlmInputException(io.github.vlm4j.core.VlmInputException.Reason.INVALID_OPTION,
        "unknown dtype " + found + "; expected one of "
            + Arrays.stream(values()).map(Dtype::label).collect(Collectors.joining(", ")) + " (or quantized = q8)");
  }
}
