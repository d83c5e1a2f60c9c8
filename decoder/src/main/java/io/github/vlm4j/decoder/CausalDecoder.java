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
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The {@code decoder_model_merged} graph of the onnx-community layout: {@code inputs_embeds},
 * {@code attention_mask}, {@code position_ids} (optional; {@code [batch, sequence]}, or {@code [axes, batch,
 * sequence]} for multimodal rotary positions such as Qwen-VL's M-RoPE) and the cache of each layer
 * to {@code logits} and the new cache. A layer's cache is what {@code text_config.layer_types} says
 * it is: keys and values ({@code past_key_values.{i}.key/value [batch, kv_heads, past, head_dim]}
 * to {@code present.{i}.key/value}) for attention layers, a fixed-size convolution state ({@code
 * past_conv.{i} [batch, conv_dim, conv_L_cache]} to {@code present_conv.{i}}, zeros before the first
 * position) for {@code conv} layers (LFM2's hybrid decoder). Validated against the text config at
 * load (layer count and kinds, KV heads, head size, state shape, hidden size, vocabulary). The cache
 * dtype is whatever the graph declares (float32, or float16 in fp16 exports).
 *
 * <p>Thread-safe; owns its graph. Per-request state lives in {@link DecoderState}.
 */
public final class CausalDecoder implements AutoCloseable {
  /**
   * The optional input of decoders that add features to their hidden states after their first
   * layers (Qwen3-VL's DeepStack): float {@code [layers, batch, sequence, hidden]}, zeros where
   * nothing is added.
   */
  public static final String INJECTED = "deepstack_embeds";
  private final OnnxGraph graph;
  private final TextConfig config;
  private final OnnxJavaType kvType;
  private final OnnxJavaType embedsType;
  private final OnnxJavaType logitsType;
  private final boolean positionIds;
  private final int positionAxes;
  private final int injectedLayers;
  private final CacheEntry[] cache;
  /** Prefill logits buffers between requests (direct memory is only freed by the GC otherwise). */
  private final ConcurrentLinkedQueue<ByteBuffer> prefillLogits = new ConcurrentLinkedQueue<>();
  private static final int MAX_POOLED_PREFILL_BUFFERS = 2;
  /** Opened on first use (batching, batched label scoring); guarded by {@code this}. */
  private KvRows kvRows;
  /** Zeros behind {@link #injectedStepZeros}; guarded by {@code this}. */
  private java.nio.Buffer injectedZeros;
  private boolean closed;

  private CausalDecoder(OnnxGraph graph, TextConfig config, OnnxJavaType kvType, OnnxJavaType embedsType,
      OnnxJavaType logitsType, boolean positionIds, int positionAxes, int injectedLayers, CacheEntry[] cache) {
    this.cache = cache;
    this.injectedLayers = injectedLayers;
    this.graph = graph;
    this.config = config;
    this.kvType = kvType;
    this.embedsType = embedsType;
    this.logitsType = logitsType;
    this.positionIds = positionIds;
    this.positionAxes = positionAxes;
  }

  /**
   * Opens a decoder graph and checks it against the text config.
   *
   * @param folder model folder
   * @param file graph file, e.g. {@code onnx/decoder_model_merged.onnx}
   * @param settings session settings
   * @param config the text config the graph must match
   * @return the decoder; the caller owns it
   * @throws ModelLoadException MISSING_FILE, RUNTIME or GRAPH_MISMATCH naming the disagreeing value
   */
  public static CausalDecoder open(ModelFolder folder, String file, SessionSettings settings, TextConfig config)
      throws ModelLoadException {
    OnnxGraph g = OnnxGraph.open(folder, file, settings);
    try {
      TensorSpec emb = g.requireInput("inputs_embeds");
      if (emb.rank() != 3 || (emb.dim(2) >= 0 && emb.dim(2) != config.hiddenSize())) {
        throw g.mismatch("input " + emb.describe() + " must be [batch, sequence, " + config.hiddenSize()
            + "] (text_config.hidden_size = " + config.hiddenSize() + ")");
      }
      if (emb.type() != OnnxJavaType.FLOAT && emb.type() != OnnxJavaType.FLOAT16) {
        throw g.mismatch("input " + emb.describe() + " must be float or float16");
      }
      TensorSpec mask = g.requireInput("attention_mask");
      if (mask.type() != OnnxJavaType.INT64 || mask.rank() != 2) {
        throw g.mismatch("input " + mask.describe() + " must be int64 [batch, total_sequence]");
      }
      boolean pos = g.input("position_ids").isPresent();
      int axes = 1;
      if (pos) {
        TensorSpec p = g.input("position_ids").get();
        if (p.type() != OnnxJavaType.INT64 || (p.rank() != 2 && p.rank() != 3)) {
          throw g.mismatch("input " + p.describe() + " must be int64 [batch, sequence] (1-D rotary positions) or"
              + " [axes, batch, sequence] (multimodal rotary positions, e.g. M-RoPE's 3 axes)");
        }
        if (p.rank() == 3) {
          if (p.dim(0) < 1 || p.dim(0) > 8) {
            throw g.mismatch("input " + p.describe() + " must declare its number of position axes (1 to 8) as a"
                + " fixed first dimension; it is " + (p.dim(0) < 0 ? "dynamic" : String.valueOf(p.dim(0))));
          }
          axes = (int) p.dim(0);
        }
      }
      int injected = 0;
      if (g.input(INJECTED).isPresent()) {
        TensorSpec in = g.input(INJECTED).get();
        if (in.type() != emb.type() || in.rank() != 4 || in.dim(0) < 1 || in.dim(0) > 64
            || (in.dim(3) >= 0 && in.dim(3) != config.hiddenSize())) {
          throw g.mismatch("input " + in.describe() + " must be " + emb.type() + " [layers, batch, sequence, "
              + config.hiddenSize() + "] (as inputs_embeds) with a fixed number of layers, 1 to 64");
        }
        if (in.dim(0) > config.numLayers()) {
          throw g.mismatch("input " + in.describe() + " feeds " + in.dim(0) + " layers but text_config.num_hidden_layers"
              + " = " + config.numLayers());
        }
        injected = (int) in.dim(0);
      }
      java.util.List<CacheEntry> entries = new java.util.ArrayList<>();
      OnnxJavaType kv = cacheEntries(g, config, entries);
      for (String in : g.inputs().keySet()) {
        if (!in.equals("inputs_embeds") && !in.equals("attention_mask") && !in.equals("position_ids")
            && !in.equals(INJECTED) && entries.stream().noneMatch(e -> e.past().equals(in))) {
          throw g.mismatch("declares input '" + in + "' that vlm4j does not feed; inputs are " + g.inputs().values());
        }
      }
      TensorSpec logits = g.requireOutput("logits");
      if (logits.rank() != 3 || (logits.dim(2) >= 0 && logits.dim(2) != config.vocabSize())) {
        throw g.mismatch("output " + logits.describe() + " must be [batch, sequence, " + config.vocabSize()
            + "] (text_config.vocab_size)");
      }
      if (logits.type() != OnnxJavaType.FLOAT && logits.type() != OnnxJavaType.FLOAT16) {
        throw g.mismatch("output " + logits.describe() + " must be float or float16");
      }
      return new CausalDecoder(g, config, kv, emb.type(), logits.type(), pos, axes, injected,
          entries.toArray(CacheEntry[]::new));
    } catch (ModelLoadException | RuntimeException e) {
      g.close();
      throw e;
    }
  }

  /**
   * The cache tensors of every layer, as {@code text_config.layer_types} says (keys and values unless
   * a layer is {@code conv}), each checked against the graph; no other past input may exist.
   *
   * @return the cache element type (one for all entries)
   */
  private static OnnxJavaType cacheEntries(OnnxGraph g, TextConfig config, java.util.List<CacheEntry> out)
      throws ModelLoadException {
    long kvInputs = g.inputs().keySet().stream().filter(n -> n.startsWith("past_key_values.")).count();
    long convInputs = g.inputs().keySet().stream().filter(n -> n.startsWith("past_conv.")).count();
    int convLayers = config.numLayers() - config.attentionLayers();
    if (kvInputs != 2L * config.attentionLayers() || convInputs != convLayers) {
      throw g.mismatch("has " + kvInputs / 2 + " layers of past_key_values and " + convInputs + " of past_conv but"
          + " the text config has " + config.attentionLayers() + " attention and " + convLayers + " convolution layers"
          + " (num_hidden_layers = " + config.numLayers() + (config.layerTypes().isEmpty() ? ", no layer_types"
              : ", layer_types = " + config.layerTypes()) + ")");
    }
    OnnxJavaType type = null;
    for (int i = 0; i < config.numLayers(); i++) {
      java.util.List<CacheEntry> layer = config.isConvLayer(i) ? java.util.List.of(convEntry(g, config, i))
          : java.util.List.of(kvEntry(g, config, i, "key"), kvEntry(g, config, i, "value"));
      for (CacheEntry e : layer) {
        OnnxJavaType t = g.inputs().get(e.past()).type();
        if (type != null && type != t) {
          throw g.mismatch("mixes cache types " + type + " and " + t + " (" + e.past() + ")");
        }
        type = t;
        out.add(e);
      }
    }
    return type == null ? OnnxJavaType.FLOAT : type;
  }

  private static CacheEntry kvEntry(OnnxGraph g, TextConfig config, int layer, String kind) throws ModelLoadException {
    String name = "past_key_values." + layer + "." + kind;
    if (g.input(name).isEmpty()) {
      throw g.mismatch("has no input " + name + " [batch, " + config.numKvHeads() + ", past, " + config.headDim()
          + "]: layer " + layer + " is an attention layer" + layerType(config, layer));
    }
    TensorSpec p = g.requireInput(name);
    g.requireOutput("present." + layer + "." + kind);
    if (p.rank() != 4) {
      throw g.mismatch("input " + p.describe() + " must have rank 4 [batch, kv_heads, past, head_dim]");
    }
    if (p.dim(1) >= 0 && p.dim(1) != config.numKvHeads()) {
      throw g.mismatch("input " + p.describe() + " has " + p.dim(1) + " KV heads but text_config says "
          + config.numKvHeads() + " (num_key_value_heads)");
    }
    if (p.dim(3) >= 0 && p.dim(3) != config.headDim()) {
      throw g.mismatch("input " + p.describe() + " has head size " + p.dim(3) + " but text_config says "
          + config.headDim() + " (head_dim)");
    }
    requireFloat(g, p);
    return new CacheEntry(name, "present." + layer + "." + kind, true,
        new long[] {1, config.numKvHeads(), 0, config.headDim()});
  }

  private static CacheEntry convEntry(OnnxGraph g, TextConfig config, int layer) throws ModelLoadException {
    String name = "past_conv." + layer;
    String expected = name + " [batch, " + config.convWidth() + ", " + config.convCacheLength() + "]";
    if (g.input(name).isEmpty()) {
      throw g.mismatch("has no input " + expected + ": layer " + layer + " is a convolution layer"
          + layerType(config, layer));
    }
    TensorSpec p = g.requireInput(name);
    g.requireOutput("present_conv." + layer);
    if (p.rank() != 3 || (p.dim(1) >= 0 && p.dim(1) != config.convWidth())
        || (p.dim(2) >= 0 && p.dim(2) != config.convCacheLength())) {
      throw g.mismatch("input " + p.describe() + " must be " + expected + " (text_config conv_dim or hidden_size,"
          + " conv_L_cache)");
    }
    requireFloat(g, p);
    return new CacheEntry(name, "present_conv." + layer, false,
        new long[] {1, config.convWidth(), config.convCacheLength()});
  }

  private static String layerType(TextConfig config, int layer) {
    return config.layerTypes().isEmpty() ? " (text_config has no layer_types)"
        : " (text_config.layer_types[" + layer + "] = \"" + config.layerTypes().get(layer) + "\")";
  }

  private static void requireFloat(OnnxGraph g, TensorSpec p) throws ModelLoadException {
    if (p.type() != OnnxJavaType.FLOAT && p.type() != OnnxJavaType.FLOAT16) {
      throw g.mismatch("input " + p.describe() + " must be float or float16");
    }
  }

  /**
   * Returns the decoder graph.
   *
   * @return the graph
   */
  public OnnxGraph graph() {
    return graph;
  }

  /**
   * Returns the text config.
   *
   * @return the text config it was validated against
   */
  public TextConfig config() {
    return config;
  }

  /**
   * Returns the KV-cache element type.
   *
   * @return the KV-cache element type the graph declares
   */
  public OnnxJavaType kvType() {
    return kvType;
  }

  /**
   * Returns the element type of the input embeddings.
   *
   * @return the {@code inputs_embeds} element type
   */
  public OnnxJavaType embedsType() {
    return embedsType;
  }

  /**
   * Returns the element type of the logits.
   *
   * @return the {@code logits} element type
   */
  public OnnxJavaType logitsType() {
    return logitsType;
  }

  /**
   * Tells whether the graph takes position ids.
   *
   * @return whether the graph takes {@code position_ids}
   */
  public boolean takesPositionIds() {
    return positionIds;
  }

  /**
   * Returns the number of position axes the graph takes.
   *
   * @return 1 for {@code position_ids [batch, sequence]} (or no position ids), else the first
   *     dimension of {@code position_ids [axes, batch, sequence]} (3 for M-RoPE)
   */
  public int positionAxes() {
    return positionAxes;
  }

  /**
   * A {@code position_ids} tensor for {@code b} rows of {@code s} positions whose ids are the same in
   * every axis: {@code [b, s]}, or {@code [axes, b, s]} with {@code values} repeated per axis.
   *
   * @param values {@code b × s} ids from its position 0 (read, not consumed)
   * @return a new tensor the caller closes
   */
  OnnxTensor positionsTensor(LongBuffer values, int b, int s) {
    if (positionAxes == 1) {
      return Tensors.longs(values.duplicate().position(0).limit(b * s), b, s);
    }
    LongBuffer all = Tensors.directLongs(positionAxes * b * s);
    for (int a = 0; a < positionAxes; a++) {
      for (int i = 0; i < b * s; i++) {
        all.put(values.get(i));
      }
    }
    return Tensors.longs(all.flip(), positionAxes, b, s);
  }

  /**
   * Returns how many layers the graph's {@link #INJECTED} input feeds.
   *
   * @return 0 when the graph has no such input
   */
  public int injectedLayers() {
    return injectedLayers;
  }

  /**
   * A scratch buffer for {@link #injectedTensor}: {@code layers × rows × hidden} values of the
   * graph's input type.
   */
  java.nio.Buffer injectedScratch(int rows) {
    int n = Math.multiplyExact(injectedLayers * rows, config.hiddenSize());
    return embedsType == OnnxJavaType.FLOAT16 ? Tensors.directShorts(n) : Tensors.directFloats(n);
  }

  /**
   * An {@link #INJECTED} tensor {@code [layers, 1, s, hidden]} holding {@code given}'s positions
   * {@code [from, from + s)}, or zeros when {@code given} is null, written into {@code scratch}
   * (from {@link #injectedScratch} with at least {@code s} rows; overwritten).
   *
   * @return a new tensor over {@code scratch} the caller closes
   */
  OnnxTensor injectedTensor(InjectedFeatures given, int from, int s, java.nio.Buffer scratch) {
    int h = config.hiddenSize();
    int n = injectedLayers * s * h;
    if (scratch instanceof java.nio.ShortBuffer buf) {
      for (int l = 0; l < injectedLayers; l++) {
        int at = given == null ? 0 : (l * given.length() + from) * h;
        for (int i = 0; i < s * h; i++) {
          buf.put(l * s * h + i, given == null ? 0 : Tensors.toHalf(given.data()[at + i]));
        }
      }
      return Tensors.halfs(buf.duplicate().position(0).limit(n), injectedLayers, 1, s, h);
    }
    java.nio.FloatBuffer buf = (java.nio.FloatBuffer) scratch;
    for (int l = 0; l < injectedLayers; l++) {
      if (given != null) {
        buf.put(l * s * h, given.data(), (l * given.length() + from) * h, s * h);
      } else {
        for (int i = 0; i < s * h; i++) {
          buf.put(l * s * h + i, 0f);
        }
      }
    }
    return Tensors.floats(buf.duplicate().position(0).limit(n), injectedLayers, 1, s, h);
  }

  /**
   * Zeros for the {@link #INJECTED} input of {@code b} rows of {@code s} positions.
   *
   * @return a new tensor the caller closes
   */
  OnnxTensor injectedZeros(int b, int s) {
    int n = Math.multiplyExact(injectedLayers * b * s, config.hiddenSize());
    return embedsType == OnnxJavaType.FLOAT16
        ? Tensors.halfs(Tensors.directShorts(n), injectedLayers, b, s, config.hiddenSize())
        : Tensors.floats(Tensors.directFloats(n), injectedLayers, b, s, config.hiddenSize());
  }

  /**
   * Zeros for the {@link #INJECTED} input of a decode step of {@code b} rows ({@code [layers, b, 1,
   * hidden]}), backed by one zero buffer of this decoder that only grows (to the most rows seen) and
   * is never written, so a step allocates no buffer for it.
   *
   * @return a new tensor the caller closes (the buffer stays)
   */
  OnnxTensor injectedStepZeros(int b) {
    int n = injectedLayers * b * config.hiddenSize();
    java.nio.Buffer zeros;
    synchronized (this) {
      if (injectedZeros == null || injectedZeros.capacity() < n) {
        injectedZeros = embedsType == OnnxJavaType.FLOAT16 ? Tensors.directShorts(n) : Tensors.directFloats(n);
      }
      zeros = injectedZeros;
    }
    return zeros instanceof java.nio.ShortBuffer h
        ? Tensors.halfs(h.duplicate().position(0).limit(n), injectedLayers, b, 1, config.hiddenSize())
        : Tensors.floats(((java.nio.FloatBuffer) zeros).duplicate().position(0).limit(n), injectedLayers, b, 1,
            config.hiddenSize());
  }

  String pastName(int i) {
    return cache[i].past();
  }

  String presentName(int i) {
    return cache[i].present();
  }

  /**
   * The state of cache entry {@code i} before the first position, for one row: no elements for keys
   * and values, zeros for a convolution state.
   *
   * @return a new tensor the caller closes
   */
  OnnxTensor startState(int i) {
    long[] shape = cache[i].startShape();
    if (cache[i].growsWithSequence()) {
      return Tensors.empty(kvType, shape);
    }
    int n = Math.toIntExact(shape[0] * shape[1] * shape[2]);
    return kvType == OnnxJavaType.FLOAT16 ? Tensors.halfs(Tensors.directShorts(n), shape)
        : Tensors.floats(Tensors.directFloats(n), shape);
  }

  CacheEntry cacheEntry(int i) {
    return cache[i];
  }

  /** Number of cache tensors (two per attention layer, one per convolution layer). */
  int kvEntries() {
    return cache.length;
  }


  /**
   * Starts the state of one request with the default prefill chunk.
   *
   * @return a fresh per-request state (empty KV cache) prefilling in chunks of {@link
   *     DecoderState#DEFAULT_PREFILL_CHUNK}; the caller owns it
   */
  public DecoderState newState() {
    return new DecoderState(this, DecoderState.DEFAULT_PREFILL_CHUNK);
  }

  /**
   * Starts the state of one request.
   *
   * @param prefillChunk longest chunk of prompt positions per decoder run (bounds the prefill's
   *     logits buffer to {@code prefillChunk × vocab} values), >= 1
   * @return a fresh per-request state (empty KV cache); the caller owns it
   */
  public DecoderState newState(int prefillChunk) {
    return new DecoderState(this, prefillChunk);
  }

  int logitsBytes() {
    return logitsType == OnnxJavaType.FLOAT16 ? 2 : 4;
  }

  /** Copies {@code count} logits from {@code bytes} (starting at element {@code from}) into {@code dst} as float32. */
  void readLogits(ByteBuffer bytes, int from, float[] dst, int at, int count) {
    if (logitsType == OnnxJavaType.FLOAT16) {
      for (int i = 0; i < count; i++) {
        dst[at + i] = Tensors.fromHalf(bytes.getShort(2 * (from + i)));
      }
    } else {
      bytes.asFloatBuffer().get(from, dst, at, count);
    }
  }

  /** A direct native-order buffer of at least {@code elements} logits, reused across requests. */
  ByteBuffer borrowPrefillLogits(int elements) {
    long bytes = (long) elements * logitsBytes();
    ByteBuffer b;
    while ((b = prefillLogits.poll()) != null) {
      if (b.capacity() >= bytes) {
        return b;
      }
    }
    return ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(ByteOrder.nativeOrder());
  }

  void returnPrefillLogits(ByteBuffer b) {
    if (prefillLogits.size() < MAX_POOLED_PREFILL_BUFFERS) {
      prefillLogits.offer(b);
    }
  }

  /** The graphs that move KV rows, opened on first use and closed with the decoder. */
  synchronized KvRows kvRows() {
    if (closed) {
      throw new IllegalStateException("the decoder is closed");
    }
    if (kvRows == null) {
      try {
        kvRows = KvRows.open(kvType);
      } catch (io.github.vlm4j.core.ModelLoadException e) {
        throw new io.github.vlm4j.core.InferenceException("cannot open vlm4j's KV row graphs: " + e.getMessage(), e);
      }
    }
    return kvRows;
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (kvRows != null) {
      kvRows.close();
      kvRows = null;
    }
    graph.close();
  }
}
