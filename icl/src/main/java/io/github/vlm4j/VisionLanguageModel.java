package io.github.vlm4j;

import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.model.GenerationDefaults;
import io.github.vlm4j.core.model.ModelConfig;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.model.TextConfig;
import io.github.vlm4j.core.onnx.Dtype;
import io.github.vlm4j.core.onnx.OnnxGraph;
import io.github.vlm4j.core.onnx.SessionSettings;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.core.prompt.TokenizedPrompt;
import io.github.vlm4j.core.text.TextTokenizer;
import io.github.vlm4j.decoder.DecodeBatcher;
import io.github.vlm4j.decoder.DecoderState;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import io.github.vlm4j.family.LoadContext;
import io.github.vlm4j.family.LoadProgress;
import io.github.vlm4j.family.ModelFamilies;
import io.github.vlm4j.family.ModelFamily;
import io.github.vlm4j.family.Adapters;
import io.github.vlm4j.family.ModelParts;
import io.github.vlm4j.vision.ImagePreprocessor;
import io.github.vlm4j.projector.AdapterInfo;
import io.github.vlm4j.projector.OnnxProjector;
import io.github.vlm4j.vision.ImageDecoder;
import io.github.vlm4j.vision.ImageFeatureCache;
import io.github.vlm4j.vision.ImageFeatures;
import io.github.vlm4j.vision.ImageLayout;
import io.github.vlm4j.vision.PreprocessedImage;
import io.github.vlm4j.vision.RgbImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A vision-language model loaded from an ONNX folder: the HuggingFace onnx-community layout
 * (SmolVLM / Idefics3, LLaVA) or the vlm4j modular layout. The family is chosen by {@code
 * config.json}'s {@code model_type}; every graph's inputs and outputs are checked against the
 * configs when loading.
 *
 * <pre>{@code
 * try (VisionLanguageModel model = VisionLanguageModel.load(Path.of("SmolVLM-256M-Instruct"))) {
 *   GenerationResult r = model.generate(
 *       List.of(Message.user(ImageInput.of(Path.of("cat.jpg")), "What is in the image?")),
 *       GenerationConfig.greedy(64));
 *   System.out.println(r.text());
 * }
 * }</pre>
 *
 * <p><b>Thread-safety:</b> immutable and thread-safe; one model serves any number of threads. Each
 * request runs in a {@link GenerationSession} (one per thread or conversation) that owns its KV cache.
 *
 * <p><b>Ownership:</b> the model owns its ONNX Runtime sessions and tokenizer. {@link #close()}
 * waits for running requests (which stop at their next step) and closes every open session.
 */
public final class VisionLanguageModel implements AutoCloseable {
  /** Default capacity of the image feature cache: 64 MiB. */
  public static final long DEFAULT_IMAGE_CACHE_BYTES = 64L << 20;
  /** Default capacity of the demo-prefix KV cache: 256 MiB. */
  public static final long DEFAULT_PREFIX_CACHE_BYTES = 256L << 20;
  private static final Logger LOG = LoggerFactory.getLogger(VisionLanguageModel.class);

  private final ModelFolder folder;
  private final String modelType;
  private final TextConfig text;
  private final TextTokenizer tokenizer;
  private final ModelParts parts;
  private final GenerationDefaults defaults;
  private final Set<Integer> eosIds;
  private final ImageDecoder imageDecoder;
  private final Map<ModelModule, Dtype> dtypes;
  private final SessionSettings settings;
  private final long backboneBytes;
  private final Lifecycle lifecycle = new Lifecycle();
  private final ImageFeatureCache featureCache;
  private final PrefixCache prefixCache;
  private final int prefillChunk;
  /** @return positions per decoder run when prefilling a prompt */
  int prefillChunk() {
    return prefillChunk;
  }

  private final boolean releaseVisionMemory;
  /** @return whether vision and projector runs return their free arena memory after each run */
  boolean releaseVisionMemory() {
    return releaseVisionMemory;
  }

  /** Frame layouts of images whose features are cached (so they need no preprocessing), LRU. */
  private final Map<String, ImageLayout> layouts = lru(4096);
  /** Token prefixes shared by few-shot probe prompts, by demo set, LRU. */
  private final Map<String, int[]> probePrefixes = lru(1024);
  private final Set<GenerationSession> sessions = ConcurrentHashMap.newKeySet();
  /** Shares decode steps between concurrent requests; null when off or the decoder cannot batch. */
  private DecodeBatcher batcher;

  /** @return the batcher, or null */
  DecodeBatcher batcher() {
    return batcher;
  }

  private VisionLanguageModel(ModelFolder folder, String modelType, TextConfig text, TextTokenizer tokenizer,
      ModelParts parts, GenerationDefaults defaults, ImageDecoder imageDecoder, Map<ModelModule, Dtype> dtypes,
      SessionSettings settings, long imageCacheBytes, long prefixCacheBytes, int prefillChunk,
      boolean releaseVisionMemory, long backboneBytes) {
    this.folder = folder;
    this.prefillChunk = prefillChunk;
    // without an arena nothing is kept (and ONNX Runtime rejects shrinking an arena it lacks)
    this.releaseVisionMemory = releaseVisionMemory && settings.cpuMemoryArena();
    this.featureCache = new ImageFeatureCache(imageCacheBytes);
    this.prefixCache = new PrefixCache(prefixCacheBytes);
    this.modelType = modelType;
    this.text = text;
    this.tokenizer = tokenizer;
    this.parts = parts;
    this.defaults = defaults;
    this.eosIds = Collections.unmodifiableSet(new LinkedHashSet<>(defaults.eosTokenIds()));
    this.imageDecoder = imageDecoder;
    this.dtypes = Collections.unmodifiableMap(new EnumMap<>(dtypes));
    this.settings = settings;
    this.backboneBytes = backboneBytes;
  }

  /** @return the weight bytes of the backbone graphs, or -1 if unknown (classpath folders) */
  private static long backboneBytes(ModelFolder folder, ModelParts parts) {
    List<String> files = new ArrayList<>(parts.vision().files());
    files.addAll(List.of(parts.embedder().graph().file(), parts.decoder().graph().file()));
    if (parts.projector() instanceof OnnxProjector op) {
      files.add(op.file());
    }
    long bytes = 0;
    for (String file : files) {
      try {
        var p = folder.path(file);
        if (p.isEmpty()) {
          return -1;
        }
        bytes += io.github.vlm4j.core.onnx.OnnxFileInfo.read(p.get()).weightBytes();
      } catch (ModelLoadException e) {
        return -1;
      }
    }
    return bytes;
  }

  /**
   * Loads a model folder with default options (fp32, CPU).
   *
   * @param dir the folder holding {@code config.json}
   * @return the model; the caller owns it and must close it
   * @throws ModelLoadException if a file is missing or malformed, the type is unsupported, or a
   *     graph does not match its config
   */
  public static VisionLanguageModel load(Path dir) throws ModelLoadException {
    return builder(dir).build();
  }

  /**
   * Starts loading a model from a directory.
   *
   * @param dir the folder holding {@code config.json}
   * @return a builder for load options
   */
  public static Builder builder(Path dir) {
    return new Builder(Objects.requireNonNull(dir, "dir"), null);
  }

  /**
   * Starts loading a model from a model folder.
   *
   * @param folder a model folder (e.g. on the classpath)
   * @return a builder for load options
   */
  public static Builder builder(ModelFolder folder) {
    return new Builder(null, Objects.requireNonNull(folder, "folder"));
  }

  /**
   * Opens a session for one request or conversation. The caller owns it (close it, or use
   * try-with-resources); it is not thread-safe.
   *
   * @return a new session
   * @throws io.github.vlm4j.core.ModelClosedException if the model is closed
   */
  public GenerationSession newSession() {
    lifecycle.acquire();
    try {
      GenerationSession s = new GenerationSession(this);
      sessions.add(s);
      return s;
    } finally {
      lifecycle.release();
    }
  }

  /**
   * Generates a reply in a fresh session. Thread-safe.
   *
   * @param messages the conversation, ending with a user turn
   * @param config generation settings
   * @return the result
   */
  public GenerationResult generate(List<Message> messages, GenerationConfig config) {
    return generate(messages, config, RequestOptions.DEFAULT, TokenStreamer.none());
  }

  /**
   * Generates a reply in a fresh session, streaming text. Thread-safe.
   *
   * @param messages the conversation, ending with a user turn
   * @param config generation settings
   * @param options image splitting / adapter choices, and the {@link ContextPolicy} for a chat that does not
   *     fit the context window
   * @param streamer receives text as it is generated
   * @return the result
   */
  public GenerationResult generate(List<Message> messages, GenerationConfig config, RequestOptions options,
      TokenStreamer streamer) {
    try (GenerationSession s = newSession()) {
      return s.generate(messages, config, options, streamer);
    }
  }

  /**
   * Answers a few-shot prompt by generation, in a fresh session. Thread-safe.
   *
   * @param prompt demos and query
   * @param config generation settings
   * @param options image splitting / adapter / image-token cap
   * @return the result
   * @see GenerationSession#generate(FewShotPrompt, GenerationConfig, RequestOptions, TokenStreamer)
   */
  public GenerationResult generate(FewShotPrompt prompt, GenerationConfig config, RequestOptions options) {
    return generate(prompt, config, options, TokenStreamer.none());
  }

  /**
   * Answers a few-shot prompt by generation in a fresh session, streaming the text as it comes.
   * Thread-safe.
   *
   * @param prompt demos and query
   * @param config generation settings
   * @param options image splitting / adapter / image-token cap
   * @param streamer receives text pieces on the calling thread
   * @return the result
   * @see GenerationSession#generate(FewShotPrompt, GenerationConfig, RequestOptions, TokenStreamer)
   */
  public GenerationResult generate(FewShotPrompt prompt, GenerationConfig config, RequestOptions options,
      TokenStreamer streamer) {
    try (GenerationSession s = newSession()) {
      return s.generate(prompt, config, options, streamer);
    }
  }

  /**
   * Scores candidate labels for a few-shot prompt, in a fresh session. Thread-safe.
   *
   * @param prompt demos and query
   * @param labels candidate answers (non-blank, distinct)
   * @param options image splitting / adapter / image-token cap
   * @return scores in label order
   * @see GenerationSession#classify(FewShotPrompt, List, RequestOptions)
   */
  public LabelScores classify(FewShotPrompt prompt, List<String> labels, RequestOptions options) {
    try (GenerationSession s = newSession()) {
      return s.classify(prompt, labels, options);
    }
  }

  /**
   * Scores candidate answers to any conversation, in a fresh session. Thread-safe.
   *
   * @param messages the conversation, ending with a user turn
   * @param labels candidate answers (non-blank, distinct)
   * @param options image splitting / adapter / image-token cap
   * @return scores in label order
   * @see GenerationSession#classify(List, List, RequestOptions)
   */
  public LabelScores classify(List<Message> messages, List<String> labels, RequestOptions options) {
    try (GenerationSession s = newSession()) {
      return s.classify(messages, labels, options);
    }
  }

  /**
   * Counts a few-shot prompt's image and text tokens without running any graph, to check it against
   * the context window or an image-token cap before running. Thread-safe.
   *
   * @param prompt demos and query
   * @param options image splitting choice
   * @return the counts
   * @throws VlmInputException INVALID_OPTION for a context policy other than {@link ContextPolicy#REFUSE}
   *     (few-shot prompts refuse them)
   */
  public PromptStats countTokens(FewShotPrompt prompt, RequestOptions options) {
    ContextFitter.requireRefuse(options, "a few-shot prompt");
    return countTokens(prompt.messages(), options);
  }

  /** Preprocesses and encodes one image outside a generation (no termination). */
  private ImageFeatures encode(RgbImage rgb, Boolean splitting, RequestOptions options) {
    var pixels = preprocessorFor(options).preprocess(rgb, splitting);
    if (!releaseVisionMemory) {
      return parts.vision().encode(pixels, null);
    }
    try (var releasing = OnnxGraph.newArenaReleasingRunOptions()) {
      return parts.vision().encode(pixels, releasing);
    }
  }

  /**
   * A unit-length image embedding for similarity search (e.g. {@link DemoPool} demo selection): the
   * vision encoder's output (through the model's feature cache) averaged over tokens and frames.
   * Thread-safe.
   *
   * @param image the image
   * @param options image splitting choice
   * @return a new L2-normalised vector
   */
  public float[] imageEmbedding(ImageInput image, RequestOptions options) {
    lifecycle.acquire();
    try {
      checkOptions(options);
      io.github.vlm4j.vision.RgbImage rgb;
      try {
        rgb = imageDecoder.decode(image, lifecycle::isClosed);
      } catch (java.util.concurrent.CancellationException e) {
        throw new io.github.vlm4j.core.ModelClosedException("the model was closed while decoding the image");
      }
      Boolean splitting = options.imageSplitting().orElse(null);
      String split = GenerationSession.splitKey(options);
      // preprocessing only on a cache miss
      var f = featureCache.enabled()
          ? featureCache.get(ImageFeatureCache.key(rgb, split), () -> encode(rgb, splitting, options))
          : encode(rgb, splitting, options);
      int width = f.width();
      float[] data = f.data();
      int rows = data.length / width;
      float[] out = new float[width];
      for (int r = 0; r < rows; r++) {
        for (int c = 0; c < width; c++) {
          out[c] += data[r * width + c];
        }
      }
      double norm = 0;
      for (float v : out) {
        norm += (double) v * v;
      }
      float inv = norm == 0 ? 0f : (float) (1.0 / Math.sqrt(norm));
      for (int c = 0; c < width; c++) {
        out[c] *= inv;
      }
      return out;
    } finally {
      lifecycle.release();
    }
  }

  /**
   * Counts the prompt's tokens (decoding and preprocessing images, running no graph). Thread-safe.
   * Under a {@link ContextPolicy} the counts are those of the prompt the policy keeps for a request
   * that reserves one new token; see {@link #countTokens(List, RequestOptions, int)}.
   *
   * @param messages the conversation
   * @param options image splitting choice, context policy
   * @return the counts
   */
  public PromptStats countTokens(List<Message> messages, RequestOptions options) {
    return countTokens(messages, options, 1);
  }

  /**
   * Counts the tokens of the prompt a request generating at most {@code maxNewTokens} would run on:
   * under a {@link ContextPolicy} that leaves parts of the conversation out, the kept prompt's counts
   * and {@link PromptStats#dropped() what was left out}. Never refuses a prompt for its length (the
   * counts say whether it fits: a request whose {@code promptTokens + 1} exceeds the context window is
   * refused), except for text over the character bound. Runs no graph. Thread-safe.
   *
   * @param messages the conversation
   * @param options image splitting choice, context policy
   * @param maxNewTokens the request's {@link GenerationConfig#maxNewTokens()} (1 to {@link
   *     GenerationConfig#MAX_NEW_TOKENS})
   * @return the counts
   * @throws VlmInputException INVALID_OPTION for {@code maxNewTokens} out of range; the input errors of
   *     a request (bad images, text over the character bound, ...)
   */
  public PromptStats countTokens(List<Message> messages, RequestOptions options, int maxNewTokens) {
    GenerationSession.Prepared prepared = prepared(messages, options, maxNewTokens);
    TokenizedPrompt p = prepared.prompt();
    return new PromptStats(p.length(), p.imageTokensPerImage(), text.maxPositions(), prepared.fitted().dropped());
  }

  /**
   * The exact token ids a request would run on (chat template, image expansion, special tokens by
   * id), computed without running any graph. Thread-safe. Under a {@link ContextPolicy} these are
   * the ids of the prompt the policy keeps for a request that reserves one new token; see {@link
   * #tokenize(List, RequestOptions, int)}.
   *
   * @param messages the conversation
   * @param options image splitting choice, context policy
   * @return the prompt's ids and image tokens per image
   */
  public TokenizedPrompt tokenize(List<Message> messages, RequestOptions options) {
    return tokenize(messages, options, 1);
  }

  /**
   * The exact token ids a request generating at most {@code maxNewTokens} would run on, after its
   * {@link ContextPolicy} (see {@link #countTokens(List, RequestOptions, int)}). Thread-safe.
   *
   * @param messages the conversation
   * @param options image splitting choice, context policy
   * @param maxNewTokens the request's {@link GenerationConfig#maxNewTokens()} (1 to {@link
   *     GenerationConfig#MAX_NEW_TOKENS})
   * @return the prompt's ids and image tokens per image
   * @throws VlmInputException INVALID_OPTION for {@code maxNewTokens} out of range; the input errors of
   *     a request
   */
  public TokenizedPrompt tokenize(List<Message> messages, RequestOptions options, int maxNewTokens) {
    return prepared(messages, options, maxNewTokens).prompt();
  }

  private GenerationSession.Prepared prepared(List<Message> messages, RequestOptions options, int maxNewTokens) {
    if (maxNewTokens < 1 || maxNewTokens > GenerationConfig.MAX_NEW_TOKENS) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "maxNewTokens must be in [1, "
          + GenerationConfig.MAX_NEW_TOKENS + "], got " + maxNewTokens);
    }
    lifecycle.acquire();
    try {
      return GenerationSession.prepare(this, messages, options, maxNewTokens);
    } finally {
      lifecycle.release();
    }
  }

  /** Sends the load's final progress event; a listener that throws closes this model. */
  private void reportLoaded(LoadProgress loads) {
    try {
      loads.finished();
    } catch (RuntimeException | Error e) {
      close();
      throw e;
    }
  }

  /**
   * The pixel values the vision encoder would receive for each image of a conversation (decoded,
   * EXIF-oriented, resized, split into frames and normalised as this model's preprocessing does),
   * computed without running any graph — for debugging prompts and comparing runtimes. Thread-safe.
   *
   * @param messages the conversation
   * @param options image splitting choice
   * @return one entry per image of the prompt (under a {@link ContextPolicy}, per image it keeps, as
   *     {@link #tokenize(List, RequestOptions)} does), in prompt order; new arrays the caller owns
   * @throws VlmInputException for bad images or options, as a request would
   */
  public List<PreprocessedImage> preprocessImages(List<Message> messages, RequestOptions options) {
    lifecycle.acquire();
    try {
      GenerationSession.Prepared prepared = GenerationSession.prepare(this, messages, options, 1);
      List<PreprocessedImage> out = new ArrayList<>(prepared.imageCount());
      for (int i = 0; i < prepared.imageCount(); i++) {
        out.add(prepared.pixels(i));
      }
      return List.copyOf(out);
    } finally {
      lifecycle.release();
    }
  }

  /**
   * Tells whether this model splits images into tiles.
   *
   * @return whether this model splits large images into tiles (Idefics3/SmolVLM, LFM2-VL), so that {@link
   *     RequestOptions#withImageSplitting(boolean)} applies to it; models that always encode an
   *     image as one frame refuse that option
   */
  public boolean supportsImageSplitting() {
    return parts.preprocessor().splitsImages();
  }

  /**
   * Refuses request options this model cannot honour: an unknown adapter, or an image-splitting
   * choice on a model that never splits.
   */
  void checkOptions(RequestOptions options) {
    if (options.imageSplitting().isPresent() && !supportsImageSplitting()) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "image splitting is not an option of this "
          + modelType + " model: it encodes every image as one " + parts.preprocessor().frameWidth() + "×"
          + parts.preprocessor().frameHeight() + " frame; leave imageSplitting unset (see supportsImageSplitting())");
    }
    if (options.adapter().isPresent()) {
      parts.adapters().acquire(options.adapter().get()).close(); // fail fast on unknown names
    }
    if (options.pixelBudget().isPresent() && !supportsPixelBudget()) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "a pixel budget is not an option of this "
          + modelType + " model: its images are resized to fixed frames of " + parts.preprocessor().frameWidth() + "×"
          + parts.preprocessor().frameHeight() + " pixels; leave pixelBudget unset (see supportsPixelBudget())");
    }
  }

  /**
   * Tells whether requests can set {@link RequestOptions#withPixelBudget(int, int)}: true for
   * dynamic-resolution models (Qwen-VL, LFM2-VL), whose image tokens follow the resized image size.
   *
   * @return whether a per-request pixel budget means anything for this model
   */
  public boolean supportsPixelBudget() {
    return parts.preprocessor().supportsPixelBudget();
  }

  /**
   * The preprocessor a request's images go through: the model's, or one with the request's pixel
   * budget (INVALID_OPTION for a budget this model cannot resize within).
   */
  ImagePreprocessor preprocessorFor(RequestOptions options) {
    if (options.pixelBudget().isEmpty()) {
      return parts.preprocessor();
    }
    try {
      return parts.preprocessor().withPixelBudget(options.pixelBudget().get());
    } catch (IllegalArgumentException e) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "the request's pixel budget does not fit"
          + " this " + modelType + " model: " + e.getMessage());
    }
  }

  /**
   * Returns the model type.
   *
   * @return {@code config.json}'s model_type
   */
  public String modelType() {
    return modelType;
  }

  /**
   * Returns the text config.
   *
   * @return the decoder's dimensions and context window
   */
  public TextConfig textConfig() {
    return text;
  }

  /**
   * Returns the model's generation defaults.
   *
   * @return the generation settings shipped with the model
   */
  public GenerationDefaults generationDefaults() {
    return defaults;
  }

  /**
   * Returns the default end-of-sequence ids.
   *
   * @return the end-of-sequence ids used when a request does not override them
   */
  public Set<Integer> eosTokenIds() {
    return eosIds;
  }

  /**
   * Returns the precision of each graph.
   *
   * @return the weight precision chosen for each graph
   */
  public Map<ModelModule, Dtype> dtypes() {
    return dtypes;
  }

  /**
   * Returns the names of the adapters.
   *
   * @return names of the cross-modal adapters this model offers now (empty for fused exports), sorted
   */
  public List<String> adapterNames() {
    return parts.adapters().names();
  }

  /**
   * Describes the adapters.
   *
   * @return the registered adapters with their parameter counts and weight bytes, sorted by name
   */
  public List<AdapterInfo> adapters() {
    return parts.adapters().infos();
  }

  /**
   * Loads an adapter graph and makes it available to new requests, without reloading or pausing
   * the model. The graph is validated against the vision encoder's output and the decoder's width.
   *
   * @param name the name requests will select it by
   * @param file the adapter's {@code .onnx} file (anywhere)
   * @param description what it is for
   * @return its description
   * @throws ModelLoadException if the file is missing or does not fit this model (the model is unaffected)
   * @throws IllegalArgumentException if the name is already registered
   */
  public AdapterInfo registerAdapter(String name, Path file, String description) throws ModelLoadException {
    lifecycle.acquire();
    try {
      Path abs = file.toAbsolutePath();
      ModelFolder dir = ModelFolder.of(abs.getParent());
      String fileName = abs.getFileName().toString();
      OnnxProjector adapter = OnnxProjector.open(dir, fileName, name, settings, parts.vision().outputSpec(),
          text.hiddenSize());
      AdapterInfo info;
      try {
        info = Adapters.info(name, description, dir, fileName, adapter.usesQuery());
      } catch (ModelLoadException | RuntimeException e) {
        adapter.close();
        throw e;
      }
      parts.adapters().register(adapter, info);
      return info;
    } finally {
      lifecycle.release();
    }
  }

  /**
   * Removes an adapter for new requests; requests already using it finish with it first. Thread-safe.
   *
   * @param name the adapter
   * @return whether it was registered
   */
  public boolean unregisterAdapter(String name) {
    return parts.adapters().unregister(name);
  }

  /**
   * Returns the weight size of the shared graphs.
   *
   * @return bytes of the weights of the shared graphs (vision, projector, embeddings, decoder), -1 if unknown
   */
  public long backboneWeightBytes() {
    return backboneBytes;
  }

  /**
   * Returns the model's tokenizer.
   *
   * @return the tokenizer (shared; do not close it)
   */
  public TextTokenizer tokenizer() {
    return tokenizer;
  }

  /**
   * Describes where the model was loaded from.
   *
   * @return where the model was loaded from
   */
  public String source() {
    return folder.describe();
  }

  ModelParts parts() {
    return parts;
  }

  ImageFeatureCache featureCache() {
    return featureCache;
  }

  PrefixCache prefixCache() {
    return prefixCache;
  }

  ImageLayout knownLayout(String imageKey) {
    synchronized (layouts) {
      return layouts.get(imageKey);
    }
  }

  void rememberLayout(String imageKey, ImageLayout layout) {
    synchronized (layouts) {
      layouts.put(imageKey, layout);
    }
  }

  int[] probePrefix(String key, java.util.function.Supplier<int[]> compute) {
    synchronized (probePrefixes) {
      int[] v = probePrefixes.get(key);
      if (v != null) {
        return v;
      }
    }
    int[] v = compute.get();
    synchronized (probePrefixes) {
      probePrefixes.put(key, v);
    }
    return v;
  }

  private static <V> Map<String, V> lru(int max) {
    return new java.util.LinkedHashMap<>(16, 0.75f, true) {
      private static final long serialVersionUID = 1L;

      @Override
      protected boolean removeEldestEntry(Map.Entry<String, V> eldest) {
        return size() > max;
      }
    };
  }

  /**
   * Returns the counters of continuous batching: decoder steps shared by concurrent requests, rows
   * per step. All zero when batching is off ({@link Builder#maxBatchSize(int)} 1) or the decoder
   * cannot batch ({@link #batchingEnabled()}).
   *
   * @return the counters so far
   */
  public DecodeBatcher.Stats batchStats() {
    return batcher == null ? new DecodeBatcher.Stats(0, 0, 0, 0, 0, 0) : batcher.stats();
  }

  /**
   * Tells whether concurrent requests share decode steps on this model.
   *
   * @return whether batching is on and the decoder supports it (it takes {@code position_ids})
   */
  public boolean batchingEnabled() {
    return batcher != null;
  }

  /**
   * Returns statistics of the model's caches.
   *
   * @return hit/miss counts and sizes of the image feature cache and the demo-prefix KV cache
   */
  public CacheStats cacheStats() {
    return new CacheStats(featureCache.hits(), featureCache.misses(), featureCache.bytes(), prefixCache.hits(),
        prefixCache.misses(), prefixCache.bytes());
  }

  /** Empties the image feature cache and the demo-prefix KV cache (snapshots in use stay valid). */
  public void clearCaches() {
    featureCache.clear();
    prefixCache.clear();
  }

  /**
   * Cache counters.
   *
   * @param imageHits images whose features came from the cache
   * @param imageMisses images that ran the vision encoder (with the cache enabled)
   * @param imageBytes bytes of cached features
   * @param prefixHits few-shot requests that started from a cached demo prefix
   * @param prefixMisses few-shot requests that computed their demo prefix
   * @param prefixBytes KV bytes of cached prefixes
   */
  public record CacheStats(long imageHits, long imageMisses, long imageBytes, long prefixHits, long prefixMisses,
      long prefixBytes) {}

  ImageDecoder imageDecoder() {
    return imageDecoder;
  }

  Lifecycle lifecycle() {
    return lifecycle;
  }

  void sessionClosed(GenerationSession s) {
    sessions.remove(s);
  }

  /**
   * Closes the model: new calls fail with {@link io.github.vlm4j.core.ModelClosedException}; running
   * requests stop at their next step (they fail with the same exception); then every open session
   * and every native resource is released. Called from a callback of a running request (on that
   * request's thread), it returns once the other requests have stopped, and the resources are
   * released when that request returns. Idempotent.
   */
  @Override
  public void close() {
    if (!lifecycle.beginClose()) {
      return;
    }
    for (GenerationSession s : sessions) {
      s.abortBecauseModelCloses();
    }
    lifecycle.whenIdle(this::releaseResources);
  }

  private void releaseResources() {
    for (GenerationSession s : new ArrayList<>(sessions)) {
      s.close();
    }
    List<AutoCloseable> all = owned(parts, tokenizer);
    all.add(0, prefixCache);
    if (batcher != null) {
      all.add(0, batcher);
    }
    for (AutoCloseable c : all) {
      try {
        c.close();
      } catch (Exception e) {
        LOG.warn("closing {} failed: {}", c, e.toString());
      }
    }
  }

  @Override
  public String toString() {
    return "VisionLanguageModel[" + modelType + ", " + folder.describe() + "]";
  }

  /**
   * @return what a loaded model owns besides its caches, in closing order (a new mutable list):
   *     family extras, adapters, projector, vision, embedder, decoder, tokenizer
   */
  private static List<AutoCloseable> owned(ModelParts parts, TextTokenizer tokenizer) {
    List<AutoCloseable> all = new ArrayList<>(parts.closeables());
    all.add(parts.adapters());
    if (parts.projector() instanceof AutoCloseable c) {
      all.add(c);
    }
    all.add(parts.vision());
    all.add(parts.embedder());
    all.add(parts.decoder());
    all.add(tokenizer);
    return all;
  }

  /** Largest {@link Builder#maxImagePixels(long)}: 2^30 pixels (a 32,768² image; 4 GiB as RGBA). */
  public static final long MAX_IMAGE_PIXELS = 1L << 30;
  /** Largest {@link Builder#prefillChunkTokens(int)}: 8,192 positions. */
  public static final int MAX_PREFILL_CHUNK = 8192;

  /**
   * Load options. Every setter checks its value at once and throws {@link VlmInputException} with
   * reason INVALID_OPTION naming the option, the accepted range and the value; {@link #build()}
   * checks what depends on the model (the prefill buffer against the vocabulary) before opening any
   * graph. Not thread-safe.
   */
  public static final class Builder {
    private final Path dir;
    private final ModelFolder givenFolder;
    private final Map<ModelModule, Dtype> dtypes = new EnumMap<>(ModelModule.class);
    private SessionSettings.Builder settings = SessionSettings.builder();
    private long maxImagePixels = ImageDecoder.DEFAULT_MAX_PIXELS;
    private long imageCacheBytes = DEFAULT_IMAGE_CACHE_BYTES;
    private long prefixCacheBytes = DEFAULT_PREFIX_CACHE_BYTES;
    private int prefillChunk = DecoderState.DEFAULT_PREFILL_CHUNK;
    private boolean releaseVisionMemory = true;
    private ProgressListener progress = ProgressListener.NONE;
    private int maxBatch = DecodeBatcher.DEFAULT_MAX_BATCH;
    private long maxBatchTokens;

    private Builder(Path dir, ModelFolder folder) {
      this.dir = dir;
      this.givenFolder = folder;
    }

    /**
     * Sets the precision of every graph.
     *
     * @param dtype precision for every graph (non-null)
     * @return this
     */
    public Builder dtype(Dtype dtype) {
      nonNull("dtype", dtype);
      for (ModelModule m : ModelModule.values()) {
        dtypes.put(m, dtype);
      }
      return this;
    }

    /**
     * Sets the precision of every graph by its transformers.js name.
     *
     * @param dtype transformers.js dtype name ({@code fp32}, {@code fp16}, {@code q8}, {@code int8},
     *     {@code uint8}, {@code q4}, {@code q4f16}, {@code bnb4}; {@code quantized} = q8)
     * @return this
     * @throws VlmInputException INVALID_OPTION for another name, listing the accepted ones
     */
    public Builder dtype(String dtype) {
      return dtype(Dtype.parse(dtype));
    }

    /**
     * Sets the precision of one graph.
     *
     * @param module a graph (non-null)
     * @param dtype its precision (non-null)
     * @return this
     */
    public Builder dtype(ModelModule module, Dtype dtype) {
      nonNull("module", module);
      nonNull("dtype", dtype);
      dtypes.put(module, dtype);
      return this;
    }

    /**
     * Sets the threads per graph.
     *
     * @param n ONNX Runtime intra-op threads per graph, in [0, {@link SessionSettings#MAX_THREADS}]
     *     (0 = ONNX Runtime's default, one per physical core; negative values are refused)
     * @return this
     * @throws VlmInputException INVALID_OPTION outside the range
     */
    public Builder threads(int n) {
      SessionSettings.checkThreads("threads", n);
      settings.intraOpThreads(n);
      return this;
    }

    /**
     * Runs every graph of this model on the process-wide ONNX Runtime thread pool, shared with every
     * other model and adapter loaded this way, instead of one pool per graph (three or more pools
     * of {@link #threads(int)} threads each). Call {@link
     * io.github.vlm4j.core.onnx.OrtRuntime#configureGlobalThreadPool(int, boolean)} once before
     * loading the first model; {@link #threads(int)} and {@link #allowSpinning(boolean)} are then
     * the pool's settings.
     *
     * @param use whether to use the global pool
     * @return this
     */
    public Builder globalThreadPool(boolean use) {
      settings.globalThreadPool(use);
      return this;
    }

    /**
     * Sets the graph optimisation level.
     *
     * @param level graph optimisation level (non-null)
     * @return this
     */
    public Builder optimizationLevel(SessionSettings.OptimizationLevel level) {
      settings.optimizationLevel(level);
      return this;
    }

    /**
     * Runs on CUDA (needs the onnxruntime_gpu artifact).
     *
     * @param deviceId CUDA device, in [0, {@value SessionSettings#MAX_CUDA_DEVICE}]
     * @return this
     */
    public Builder cuda(int deviceId) {
      settings.cuda(deviceId);
      return this;
    }

    /**
     * Sets whether idle ONNX Runtime threads spin.
     *
     * @param allow let idle ONNX Runtime threads spin
     * @return this
     */
    public Builder allowSpinning(boolean allow) {
      settings.allowSpinning(allow);
      return this;
    }

    /**
     * Adds an ONNX Runtime session config entry.
     *
     * @param key an ONNX Runtime session config key (see {@link SessionSettings#QDQ_MATMULNBITS_ACCURACY_LEVEL})
     * @param value its value
     * @return this
     */
    public Builder sessionConfig(String key, String value) {
      settings.configEntry(key, value);
      return this;
    }

    /**
     * Replaces the session settings.
     *
     * @param s complete session settings (non-null), replacing every session option set before
     * @return this
     */
    public Builder sessionSettings(SessionSettings s) {
      nonNull("sessionSettings", s);
      settings = s.toBuilder();
      return this;
    }

    /**
     * Sets the largest image accepted.
     *
     * @param pixels largest accepted image (width * height), checked from the header, in [1, {@value
     *     VisionLanguageModel#MAX_IMAGE_PIXELS}]
     * @return this
     * @throws VlmInputException INVALID_OPTION outside the range
     */
    public Builder maxImagePixels(long pixels) {
      if (pixels < 1 || pixels > MAX_IMAGE_PIXELS) {
        throw option("maxImagePixels must be in [1, " + MAX_IMAGE_PIXELS + "], got " + pixels);
      }
      maxImagePixels = pixels;
      return this;
    }

    /**
     * Vision-encoder outputs are cached by image content (SHA-256 of the decoded pixels) and
     * preprocessing choice, so a repeated image — a few-shot demo, the same picture in several
     * questions — skips the vision graph. Results are identical with and without the cache.
     *
     * @param bytes capacity of the image feature cache (default {@value #DEFAULT_IMAGE_CACHE_BYTES}), >= 0
     *     (a bound, not an allocation); 0 disables it
     * @return this
     */
    public Builder imageCacheBytes(long bytes) {
      imageCacheBytes = nonNegative("imageCacheBytes", bytes);
      return this;
    }

    /**
     * The KV cache of a few-shot prompt's demo prefix is kept as a read-only snapshot keyed by its
     * tokens, images and adapter, so the next query with the same demos only computes the query
     * ({@link GenerationSession#classify(FewShotPrompt, List, RequestOptions)},
     * {@link GenerationSession#generate(FewShotPrompt, GenerationConfig, RequestOptions, io.github.vlm4j.decoder.generation.TokenStreamer)}).
     *
     * @param bytes capacity in KV-cache bytes (default {@value #DEFAULT_PREFIX_CACHE_BYTES}), >= 0 (a
     *     bound, not an allocation); 0 disables it
     * @return this
     */
    public Builder prefixCacheBytes(long bytes) {
      prefixCacheBytes = nonNegative("prefixCacheBytes", bytes);
      return this;
    }

    /**
     * A prompt is fed to the decoder in chunks of at most this many positions. The decoder graph
     * computes logits for every position it is fed, so the chunk bounds that buffer ({@code
     * tokens × vocab_size} floats: 50 MB for SmolVLM's 49,280-token vocabulary at the default
     * {@value io.github.vlm4j.decoder.DecoderState#DEFAULT_PREFILL_CHUNK}) and ONNX Runtime's
     * attention scratch, whatever the prompt length. Results do not depend on it beyond float
     * rounding (the same ids; logits within 1e-4).
     *
     * @param tokens positions per decoder run, in [1, {@value VisionLanguageModel#MAX_PREFILL_CHUNK}];
     *     {@link #build()} also requires {@code tokens × vocab_size × 4} bytes to fit a 2 GiB buffer
     * @return this
     * @throws VlmInputException INVALID_OPTION outside the range
     */
    public Builder prefillChunkTokens(int tokens) {
      if (tokens < 1 || tokens > MAX_PREFILL_CHUNK) {
        throw option("prefillChunkTokens must be in [1, " + MAX_PREFILL_CHUNK + "], got " + tokens);
      }
      prefillChunk = tokens;
      return this;
    }

    /**
     * Reports the load as it goes: one {@link Progress.Task#LOAD_MODEL} event before the tokenizer
     * and before each graph is opened (graph loading takes most of the time: ONNX Runtime optimises
     * each graph), and a final one. Called on the thread running {@link #build()}; an exception from
     * the listener fails the build, closing what was opened.
     *
     * @param listener the listener (default {@link ProgressListener#NONE})
     * @return this
     * @throws VlmInputException INVALID_OPTION for null
     */
    public Builder progress(ProgressListener listener) {
      nonNull("progress listener", listener);
      progress = listener;
      return this;
    }

    /**
     * Most requests whose decode steps share one decoder run (continuous batching, see {@link
     * DecodeBatcher}): requests generating at the same time on this model join a common batch after
     * their own prefill and leave it when they finish; each keeps its own sampling, constraints,
     * stop strings, streaming and cancellation, and its results equal those of a request running
     * alone (the same ids; logits within float rounding). Default {@value
     * io.github.vlm4j.decoder.DecodeBatcher#DEFAULT_MAX_BATCH}; 1 turns batching off. Decoders
     * without {@code position_ids} never batch.
     *
     * @param rows most rows per decoder step, in [1, 1024]
     * @return this
     * @throws VlmInputException INVALID_OPTION outside the range
     */
    public Builder maxBatchSize(int rows) {
      if (rows < 1 || rows > 1024) {
        throw option("maxBatchSize must be in [1, 1024] (1 = no batching), got " + rows);
      }
      maxBatch = rows;
      return this;
    }

    /**
     * Bounds the KV cache of the shared batch: at most this many padded positions (rows × the
     * longest row; rows are left-padded to a common length). A request that would exceed it waits
     * until others leave; one request alone is always admitted. While rows join or leave the old and
     * the new cache coexist, so the batch's peak is twice this many positions of {@code
     * TextConfig#kvBytesPerToken}. Default: the larger of 16,384 and the context window.
     *
     * @param tokens padded positions, at least the context window ({@link #build()} checks it)
     * @return this
     * @throws VlmInputException INVALID_OPTION if not positive
     */
    public Builder maxBatchTokens(long tokens) {
      if (tokens < 1) {
        throw option("maxBatchTokens must be positive, got " + tokens);
      }
      maxBatchTokens = tokens;
      return this;
    }

    /**
     * Whether the vision encoder (and projector) give their activation memory back after each
     * image. Default {@code true}: ONNX Runtime otherwise keeps a graph's peak activations in its
     * arena for the model's lifetime — about 200 MiB after one 512×512 frame of SigLIP-B/16 and
     * 2.2 GiB after a 9-frame split image — although the encoder runs once per image while the
     * decoder then runs hundreds of times. {@code false} saves the re-allocation (within the noise
     * of our benchmarks, see BENCHMARKS.md) for services that encode images back to back. No effect
     * with {@link SessionSettings#cpuMemoryArena()} off, where ONNX Runtime keeps nothing anyway.
     *
     * @param release whether to release
     * @return this
     */
    public Builder releaseVisionMemory(boolean release) {
      releaseVisionMemory = release;
      return this;
    }

    private static long nonNegative(String what, long v) {
      if (v < 0) {
        throw option(what + " must be in [0, " + Long.MAX_VALUE + "] (0 = off), got " + v);
      }
      return v;
    }

    private static void nonNull(String what, Object v) {
      if (v == null) {
        throw option(what + " must not be null");
      }
    }

    private static VlmInputException option(String message) {
      return new VlmInputException(VlmInputException.Reason.INVALID_OPTION, message);
    }

    private long batchTokens(TextConfig text) {
      if (maxBatchTokens == 0) {
        return Math.max(16_384L, text.maxPositions());
      }
      if (maxBatchTokens < text.maxPositions()) {
        throw option("maxBatchTokens " + maxBatchTokens + " is below this model's context window of "
            + text.maxPositions() + " positions (max_position_embeddings)");
      }
      return maxBatchTokens;
    }

    /**
     * Loads the model. Cheap checks (options, configs) come first; every native resource opened
     * before a failure (tokenizer, sessions, session and run options) is closed before the exception
     * leaves, so failed builds leak nothing.
     *
     * @return the loaded model; the caller owns it
     * @throws ModelLoadException if loading fails (nothing stays open)
     * @throws VlmInputException INVALID_OPTION if an option does not fit this model
     */
    public VisionLanguageModel build() throws ModelLoadException {
      long started = System.nanoTime();
      SessionSettings ss = settings.build();
      ImageDecoder imageDecoder = new ImageDecoder(maxImagePixels);
      ModelFolder folder = givenFolder != null ? givenFolder : ModelFolder.of(dir);
      ModelConfig config = ModelConfig.read(folder);
      String type = config.modelType();
      ModelFamily family = ModelFamilies.forType(type, folder.describe(ModelConfig.FILE));
      TextConfig text = config.textConfig();
      long batchTokens = batchTokens(text);
      if ((long) prefillChunk * text.vocabSize() * Float.BYTES > Integer.MAX_VALUE) {
        throw option("prefillChunkTokens " + prefillChunk + " needs a logits buffer of " + prefillChunk + " × "
            + text.vocabSize() + " floats, over 2 GiB; use at most " + Integer.MAX_VALUE / Float.BYTES / text.vocabSize()
            + " for this model");
      }
      GenerationDefaults defaults = GenerationDefaults.read(folder, config);
      if (defaults.eosTokenIds().isEmpty()) {
        throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
            folder.describe(GenerationDefaults.FILE) + " and config.json state no eos_token_id");
      }
      LoadProgress loads = new LoadProgress(progress);
      loads.opening(TextTokenizer.FILE);
      TextTokenizer tokenizer = TextTokenizer.load(folder, text.vocabSize());
      ModelParts parts = null;
      VisionLanguageModel model = null;
      try {
        parts = family.load(new LoadContext(folder, config, text, tokenizer, dtypes, ss, loads));
        Map<ModelModule, Dtype> chosen = new EnumMap<>(ModelModule.class);
        for (ModelModule m : ModelModule.values()) {
          chosen.put(m, dtypes.getOrDefault(m, Dtype.FP32));
        }
        model = new VisionLanguageModel(folder, type, text, tokenizer, parts, defaults,
            imageDecoder, Collections.unmodifiableMap(chosen), ss, imageCacheBytes, prefixCacheBytes, prefillChunk, releaseVisionMemory,
            backboneBytes(folder, parts));
        if (maxBatch > 1 && DecodeBatcher.supports(parts.decoder(), parts.embedder())) {
          model.batcher = DecodeBatcher.open(parts.decoder(), parts.embedder(), maxBatch, batchTokens);
        }
        LOG.debug("loaded {} ({}) from {} in {} ms", type, family.getClass().getSimpleName(), folder.describe(),
            (System.nanoTime() - started) / 1_000_000);
      } catch (ModelLoadException | RuntimeException | Error e) {
        List<AutoCloseable> opened = parts != null ? owned(parts, tokenizer) : new ArrayList<>(List.of(tokenizer));
        if (model != null && model.batcher != null) {
          opened.add(0, model.batcher);
        }
        for (AutoCloseable c : opened) {
          try {
            c.close();
          } catch (Exception suppressed) {
            e.addSuppressed(suppressed);
          }
        }
        throw e;
      }
      LoadWarmup.start(imageDecoder);
      LoadWarmup.prepareOnce(model);
      model.reportLoaded(loads);
      return model;
    }
  }
}
