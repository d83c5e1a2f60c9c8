package io.github.vlm4j.decoder;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.model.TextConfig;
import io.github.vlm4j.core.onnx.OnnxGraph;
import io.github.vlm4j.core.onnx.SessionSettings;
import io.github.vlm4j.core.onnx.TensorSpec;
import io.github.vlm4j.core.onnx.Tensors;

/**
 * An encoder–decoder language model in the onnx-community layout (BART-style, as Florence-2
 * exports it): {@code encoder_model.onnx} ({@code inputs_embeds [batch, enc_seq, H]}, {@code
 * attention_mask [batch, enc_seq]} to {@code last_hidden_state}) and a merged {@code
 * decoder_model_merged.onnx} ({@code inputs_embeds}, {@code encoder_hidden_states}, {@code
 * encoder_attention_mask}, {@code use_cache_branch [1]} bool and per layer {@code
 * past_key_values.{i}.decoder.key/value} (self-attention, growing) and {@code
 * past_key_values.{i}.encoder.key/value} (cross-attention, computed once) to {@code logits} and the
 * matching {@code present.*}). The decoder takes no position ids (its positions are its past
 * length). Validated against the text config at load (layers, heads, head size, width, vocabulary).
 *
 * <p>Thread-safe; owns its two graphs. Per-request state lives in {@link Seq2SeqState}.
 */
public final class Seq2SeqDecoder implements AutoCloseable {
  /** The merged decoder's branch switch: false on the first step (computes the cross-attention cache). */
  public static final String USE_CACHE_BRANCH = "use_cache_branch";
  private final OnnxGraph encoder;
  private final OnnxGraph decoder;
  private final TextConfig config;
  private final OnnxJavaType kvType;
  private final OnnxJavaType embedsType;
  private final OnnxJavaType logitsType;
  private final boolean cacheBranch;
  private final String encoderOutput;

  private Seq2SeqDecoder(OnnxGraph encoder, OnnxGraph decoder, TextConfig config, OnnxJavaType kvType,
      OnnxJavaType embedsType, OnnxJavaType logitsType, boolean cacheBranch, String encoderOutput) {
    this.encoder = encoder;
    this.decoder = decoder;
    this.config = config;
    this.kvType = kvType;
    this.embedsType = embedsType;
    this.logitsType = logitsType;
    this.cacheBranch = cacheBranch;
    this.encoderOutput = encoderOutput;
  }

  /**
   * Opens the encoder and the merged decoder and checks both against the text config.
   *
   * @param folder model folder
   * @param encoderFile e.g. {@code onnx/encoder_model.onnx}
   * @param decoderFile e.g. {@code onnx/decoder_model_merged.onnx}
   * @param settings session settings
   * @param config the decoder's dimensions ({@code d_model}, {@code decoder_layers}, {@code
   *     decoder_attention_heads}, {@code vocab_size})
   * @return the model; the caller owns it
   * @throws ModelLoadException MISSING_FILE, RUNTIME or GRAPH_MISMATCH naming the file and the input
   *     or output expected
   */
  public static Seq2SeqDecoder open(ModelFolder folder, String encoderFile, String decoderFile,
      SessionSettings settings, TextConfig config) throws ModelLoadException {
    OnnxGraph enc = OnnxGraph.open(folder, encoderFile, settings);
    OnnxGraph dec = null;
    try {
      int h = config.hiddenSize();
      TensorSpec ee = enc.requireInput("inputs_embeds");
      requireEmbeds(enc, ee, h);
      TensorSpec em = enc.requireInput("attention_mask");
      if (em.type() != OnnxJavaType.INT64 || em.rank() != 2) {
        throw enc.mismatch("input " + em.describe() + " must be int64 [batch, encoder_sequence]");
      }
      if (enc.inputs().size() != 2 || enc.outputs().size() != 1) {
        throw enc.mismatch("must take inputs_embeds and attention_mask and return last_hidden_state; it declares "
            + enc.inputs().values() + " -> " + enc.outputs().values());
      }
      TensorSpec out = enc.outputs().values().iterator().next();
      if (out.rank() != 3 || (out.dim(2) >= 0 && out.dim(2) != h)) {
        throw enc.mismatch("output " + out.describe() + " must be [batch, encoder_sequence, " + h + "]");
      }
      dec = OnnxGraph.open(folder, decoderFile, settings);
      TensorSpec de = dec.requireInput("inputs_embeds");
      requireEmbeds(dec, de, h);
      TensorSpec hs = dec.requireInput("encoder_hidden_states");
      if (hs.rank() != 3 || (hs.dim(2) >= 0 && hs.dim(2) != h)) {
        throw dec.mismatch("input " + hs.describe() + " must be [batch, encoder_sequence, " + h + "]");
      }
      TensorSpec am = dec.requireInput("encoder_attention_mask");
      if (am.type() != OnnxJavaType.INT64 || am.rank() != 2) {
        throw dec.mismatch("input " + am.describe() + " must be int64 [batch, encoder_sequence]");
      }
      boolean branch = dec.input(USE_CACHE_BRANCH).isPresent();
      if (branch) {
        TensorSpec b = dec.input(USE_CACHE_BRANCH).get();
        if (b.type() != OnnxJavaType.BOOL || b.rank() != 1) {
          throw dec.mismatch("input " + b.describe() + " must be bool [1]");
        }
      }
      OnnxJavaType kv = null;
      int expected = 3 + (branch ? 1 : 0) + 4 * config.numLayers();
      for (int i = 0; i < config.numLayers(); i++) {
        for (String part : new String[] {"decoder", "encoder"}) {
          for (String kind : new String[] {"key", "value"}) {
            String name = "past_key_values." + i + "." + part + "." + kind;
            if (dec.input(name).isEmpty()) {
              throw dec.mismatch("has no input " + name + " [batch, " + config.numKvHeads() + ", "
                  + (part.equals("decoder") ? "past" : "encoder_sequence") + ", " + config.headDim() + "] (layer " + i
                  + " of text_config's " + config.numLayers() + " decoder layers)");
            }
            TensorSpec p = dec.input(name).get();
            dec.requireOutput("present." + i + "." + part + "." + kind);
            if (p.rank() != 4 || (p.dim(1) >= 0 && p.dim(1) != config.numKvHeads())
                || (p.dim(3) >= 0 && p.dim(3) != config.headDim())) {
              throw dec.mismatch("input " + p.describe() + " must be [batch, " + config.numKvHeads() + ", sequence, "
                  + config.headDim() + "] (decoder_attention_heads, d_model / heads)");
            }
            if ((p.type() != OnnxJavaType.FLOAT && p.type() != OnnxJavaType.FLOAT16) || (kv != null && kv != p.type())) {
              throw dec.mismatch("input " + p.describe() + " must be float or float16, as every other cache input");
            }
            kv = p.type();
          }
        }
      }
      if (dec.inputs().size() != expected) {
        throw dec.mismatch("declares " + dec.inputs().size() + " inputs but a " + config.numLayers() + "-layer decoder"
            + " takes " + expected + " (inputs_embeds, encoder_hidden_states, encoder_attention_mask"
            + (branch ? ", use_cache_branch" : "") + " and 4 cache tensors per layer): " + dec.inputs().keySet());
      }
      TensorSpec logits = dec.requireOutput("logits");
      if (logits.rank() != 3 || (logits.dim(2) >= 0 && logits.dim(2) != config.vocabSize())
          || (logits.type() != OnnxJavaType.FLOAT && logits.type() != OnnxJavaType.FLOAT16)) {
        throw dec.mismatch("output " + logits.describe() + " must be float [batch, sequence, " + config.vocabSize()
            + "] (vocab_size)");
      }
      return new Seq2SeqDecoder(enc, dec, config, kv, de.type(), logits.type(), branch, out.name());
    } catch (ModelLoadException | RuntimeException e) {
      enc.close();
      if (dec != null) {
        dec.close();
      }
      throw e;
    }
  }

  private static void requireEmbeds(OnnxGraph g, TensorSpec e, int h) throws ModelLoadException {
    if (e.rank() != 3 || (e.dim(2) >= 0 && e.dim(2) != h)
        || (e.type() != OnnxJavaType.FLOAT && e.type() != OnnxJavaType.FLOAT16)) {
      throw g.mismatch("input " + e.describe() + " must be float [batch, sequence, " + h + "] (d_model)");
    }
  }

  /**
   * Starts the state of one request.
   *
   * @return a fresh state (nothing encoded yet); the caller owns it
   */
  public Seq2SeqState newState() {
    return new Seq2SeqState(this, 1);
  }

  /**
   * Starts a state of several sequences that are encoded together and step together (batch rows of
   * equal encoder length, e.g. one task on several images).
   *
   * @param rows sequences, at least 1
   * @return a fresh state; the caller owns it
   * @throws IllegalArgumentException if {@code rows} is less than 1
   */
  public Seq2SeqState newState(int rows) {
    return new Seq2SeqState(this, rows);
  }

  /**
   * Returns the encoder graph.
   *
   * @return the encoder graph (owned by this object)
   */
  public OnnxGraph encoder() {
    return encoder;
  }

  /**
   * Returns the merged decoder graph.
   *
   * @return the decoder graph (owned by this object)
   */
  public OnnxGraph decoder() {
    return decoder;
  }

  /**
   * Returns the text config.
   *
   * @return the dimensions the graphs were checked against
   */
  public TextConfig config() {
    return config;
  }

  OnnxJavaType embedsType() {
    return embedsType;
  }

  OnnxJavaType logitsType() {
    return logitsType;
  }

  boolean takesCacheBranch() {
    return cacheBranch;
  }

  String encoderOutput() {
    return encoderOutput;
  }

  /** An empty cache tensor {@code [rows, heads, 0, head_dim]} of the graph's cache type. */
  OnnxTensor emptyPast(int rows) {
    return Tensors.empty(kvType, rows, config.numKvHeads(), 0, config.headDim());
  }

  @Override
  public void close() {
    encoder.close();
    decoder.close();
  }
}
