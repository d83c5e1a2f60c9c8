package io.github.vlm4j.florence;

import io.github.vlm4j.ModelModule;
import io.github.vlm4j.ProgressListener;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.StageTimings;
import io.github.vlm4j.core.Usage;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.model.ConfigReader;
import io.github.vlm4j.core.model.GenerationDefaults;
import io.github.vlm4j.core.model.ModelConfig;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.model.TextConfig;
import io.github.vlm4j.core.onnx.Dtype;
import io.github.vlm4j.core.onnx.SessionSettings;
import io.github.vlm4j.core.onnx.Tensors;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.text.TextTokenizer;
import io.github.vlm4j.decoder.Seq2SeqDecoder;
import io.github.vlm4j.decoder.Seq2SeqState;
import io.github.vlm4j.decoder.TokenEmbedder;
import io.github.vlm4j.decoder.generation.FinishReason;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.Generator;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import io.github.vlm4j.family.LoadContext;
import io.github.vlm4j.family.ParallelOpen;
import io.github.vlm4j.family.LoadProgress;
import io.github.vlm4j.vision.FixedSizePreprocessor;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.vision.ImageDecoder;
import io.github.vlm4j.vision.ImageFeatureCache;
import io.github.vlm4j.vision.ImageFeatures;
import io.github.vlm4j.vision.RgbImage;
import io.github.vlm4j.vision.VisionEncoder;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Florence-2 model (onnx-community layout, {@code model_type} {@code florence2}, as transformers.js
 * 4.3.1 runs it): {@code vision_encoder.onnx} turns the image into features, which are put before
 * the prompt's token embeddings and encoded once by {@code encoder_model.onnx}; the merged decoder
 * then generates with its self-attention cache and the cross-attention cache of its first step
 * ({@link Seq2SeqDecoder}). Generation follows the folder's {@code generation_config.json}: the
 * decoder starts from {@code decoder_start_token_id}, the first token is forced to {@code
 * forced_bos_token_id} and the last one allowed by {@code maxNewTokens} to {@code
 * forced_eos_token_id}, as HuggingFace's forced-token processors do.
 *
 * <p>{@link #run(FlorenceTask, ImageInput)} and its overloads build the task's prompt ({@link
 * FlorenceTask}), generate, and post-process the text with {@link FlorencePostProcessor} into boxes,
 * quadrilaterals or text in the image's pixel coordinates. {@link #generate} runs a free-text
 * prompt. User text is data: it is tokenized as text; the location tokens of a region task come from
 * a typed {@link FlorenceRegion}.
 *
 * <p>Images are decoded within {@link Builder#maxImagePixels} and their vision features are cached
 * by content ({@link Builder#imageCacheBytes}): several tasks on one image run the vision graph
 * once. Results are identical with and without the cache.
 *
 * <p>Thread-safe: any number of requests may run concurrently (each has its own decoder state).
 * Owns its graphs and tokenizer; {@link #close()} them when no request is running.
 */
public final class FlorenceModel implements AutoCloseable {
  private final TextTokenizer tokenizer;
  private final FixedSizePreprocessor preprocessor;
  private final ImageDecoder images;
  private final VisionEncoder vision;
  private final TokenEmbedder embedder;
  private final Seq2SeqDecoder model;
  private final TextConfig text;
  private final int startToken;
  private final int forcedBos;
  private final int forcedEos;
  private final Set<Integer> eos;
  private final int[] locTokens = new int[FlorenceRegion.BINS];
  private final ImageFeatureCache features;
  private final int maxBatch;
  /** Default of {@link Builder#maxBatch}: images per shared-step batch of {@link #runAll}. */
  public static final int DEFAULT_MAX_BATCH = 8;

  private FlorenceModel(TextTokenizer tokenizer, FixedSizePreprocessor preprocessor, ImageDecoder images,
      VisionEncoder vision, TokenEmbedder embedder, Seq2SeqDecoder model, TextConfig text, int startToken,
      int forcedBos, int forcedEos, Set<Integer> eos, ImageFeatureCache features, int maxBatch) {
    this.features = features;
    this.maxBatch = maxBatch;
    this.tokenizer = tokenizer;
    this.preprocessor = preprocessor;
    this.images = images;
    this.vision = vision;
    this.embedder = embedder;
    this.model = model;
    this.text = text;
    this.startToken = startToken;
    this.forcedBos = forcedBos;
    this.forcedEos = forcedEos;
    this.eos = eos;
  }

  /**
   * Loads a Florence-2 folder in full precision.
   *
   * @param dir the model folder
   * @return the model; the caller owns it
   * @throws ModelLoadException if the folder is not a loadable Florence-2 model (the reason and
   *     message name the file and what was expected)
   */
  public static FlorenceModel load(Path dir) throws ModelLoadException {
    return load(dir, Dtype.FP32);
  }

  /**
   * Loads a Florence-2 folder with every graph in one precision.
   *
   * @param dir the model folder
   * @param dtype the precision of every graph ({@code _fp16}, {@code _quantized}, ... files)
   * @return the model; the caller owns it
   * @throws ModelLoadException if the folder is not a loadable Florence-2 model
   */
  public static FlorenceModel load(Path dir, Dtype dtype) throws ModelLoadException {
    return load(dir, dtype, SessionSettings.builder().build());
  }

  /**
   * Loads a Florence-2 folder with every graph in one precision and the given ONNX Runtime settings.
   *
   * @param dir the model folder
   * @param dtype the precision of every graph
   * @param settings session settings (threads, session config entries)
   * @return the model; the caller owns it
   * @throws ModelLoadException if the folder is not a loadable Florence-2 model
   */
  public static FlorenceModel load(Path dir, Dtype dtype, SessionSettings settings) throws ModelLoadException {
    return builder(dir).dtype(dtype).sessionSettings(settings).build();
  }

  /**
   * Starts configuring the load of a Florence-2 folder (precision, ONNX Runtime settings, image
   * limits, the image feature cache).
   *
   * @param dir the model folder
   * @return a builder; not thread-safe
   */
  public static Builder builder(Path dir) {
    return new Builder(dir);
  }

  /** Opens the vision graph and checks its output width (closing it if the check fails). */
  private static VisionEncoder checkedVision(LoadContext ctx, SessionSettings settings,
      FixedSizePreprocessor preprocessor, TextConfig text) throws ModelLoadException {
    VisionEncoder vision = VisionEncoder.open(ctx.folder(), ctx.file(ModelModule.VISION_ENCODER), settings,
        preprocessor.frameHeight(), preprocessor.frameWidth());
    try {
      var out = vision.outputSpec();
      if (out.rank() != 3 || (out.dim(2) >= 0 && out.dim(2) != text.hiddenSize())) {
        throw vision.graph().mismatch("outputs " + out.describe() + "; Florence-2's image features must be [batch,"
            + " tokens, " + text.hiddenSize() + "] (text_config.d_model), the encoder's input width");
      }
      return vision;
    } catch (ModelLoadException | RuntimeException e) {
      vision.close();
      throw e;
    }
  }

  private static FlorenceModel open(Path dir, Dtype dtype, SessionSettings settings, ImageDecoder images,
      ImageFeatureCache cache, int maxBatch) throws ModelLoadException {
    ModelFolder folder = ModelFolder.of(dir);
    ModelConfig config = ModelConfig.read(folder);
    if (!"florence2".equals(config.modelType())) {
      throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED_MODEL_TYPE, folder.describe(ModelConfig.FILE)
          + " has model_type \"" + config.modelType() + "\"; FlorenceModel loads florence2 folders (other types:"
          + " VisionLanguageModel.load)");
    }
    TextConfig text = config.textConfig();
    GenerationDefaults defaults = GenerationDefaults.read(folder, config);
    ConfigReader gen = generationReader(folder, config);
    int start = gen.requireInt("decoder_start_token_id", 0, text.vocabSize() - 1);
    int bos = gen.intOr("forced_bos_token_id", 0, text.vocabSize() - 1, -1);
    int forcedEos = gen.intOr("forced_eos_token_id", 0, text.vocabSize() - 1, -1);
    if (defaults.eosTokenIds().isEmpty()) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
          folder.describe(GenerationDefaults.FILE) + " and config.json state no eos_token_id");
    }
    FixedSizePreprocessor preprocessor = FixedSizePreprocessor.read(folder);
    TextTokenizer tokenizer = TextTokenizer.load(folder, text.vocabSize());
    List<AutoCloseable> opened = new ArrayList<>(List.of(tokenizer));
    try {
      Map<ModelModule, Dtype> dtypes = new EnumMap<>(ModelModule.class);
      for (ModelModule m : ModelModule.values()) {
        dtypes.put(m, dtype);
      }
      LoadContext ctx = new LoadContext(folder, config, text, tokenizer, dtypes, settings,
          new LoadProgress(ProgressListener.NONE));
      VisionEncoder vision;
      TokenEmbedder embedder;
      Seq2SeqDecoder model;
      try (ParallelOpen opening = new ParallelOpen()) {
        var visionPart = opening.start("vision", () -> checkedVision(ctx, settings, preprocessor, text));
        var embedderPart = opening.start("embedder", () -> TokenEmbedder.open(folder,
            ctx.file(ModelModule.EMBED_TOKENS), settings, text.hiddenSize()));
        var modelPart = opening.start("encoder-decoder", () -> {
          if (!folder.exists(ctx.file(ModelModule.ENCODER))) {
            throw new ModelLoadException(ModelLoadException.Reason.MISSING_FILE, "missing "
                + folder.describe(ctx.file(ModelModule.ENCODER)) + ": Florence-2 is an encoder-decoder model");
          }
          return Seq2SeqDecoder.open(folder, ctx.file(ModelModule.ENCODER), ctx.file(ModelModule.DECODER),
              settings, text);
        });
        opening.await();
        vision = visionPart.get();
        embedder = embedderPart.get();
        model = modelPart.get();
        opened.add(vision);
        opened.add(embedder);
        opened.add(model);
        opening.release();
      }
      FlorenceModel m = new FlorenceModel(tokenizer, preprocessor, images, vision, embedder, model, text,
          start, bos, forcedEos, new LinkedHashSet<>(defaults.eosTokenIds()), cache, maxBatch);
      for (int i = 0; i < FlorenceRegion.BINS; i++) {
        m.locTokens[i] = tokenizer.idOf("<loc_" + i + ">").orElseThrow(() -> new ModelLoadException(
            ModelLoadException.Reason.MALFORMED_CONFIG, folder.describe(TextTokenizer.FILE)
                + " lacks Florence-2's location tokens <loc_0> ... <loc_999>"));
      }
      return m;
    } catch (ModelLoadException | RuntimeException e) {
      for (AutoCloseable c : opened) {
        try {
          c.close();
        } catch (Exception suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw e;
    }
  }

  /** {@code generation_config.json} if present, else the text config (where the kit also writes them). */
  private static ConfigReader generationReader(ModelFolder folder, ModelConfig config) throws ModelLoadException {
    var gen = folder.readJsonIfPresent(GenerationDefaults.FILE);
    if (gen.isPresent() && gen.get().has("decoder_start_token_id")) {
      return ConfigReader.of(gen.get(), folder.describe(GenerationDefaults.FILE));
    }
    return ConfigReader.of(config.textNode(), config.source());
  }

  /**
   * Runs a task that takes no input, greedily, with the default length (1024 new tokens at most).
   *
   * @param task the task
   * @param image the image
   * @return the answer
   * @throws VlmInputException INVALID_PROMPT if the task takes an input; image errors as for any model
   */
  public FlorenceAnswer run(FlorenceTask task, ImageInput image) {
    return run(task, image, null, defaultConfig(), TokenStreamer.none());
  }

  /**
   * Runs a task that takes a text input (a caption, an expression), greedily.
   *
   * @param task the task
   * @param image the image
   * @param input the input, inserted as plain text
   * @return the answer
   * @throws VlmInputException INVALID_PROMPT if the task takes no text input or takes a region
   */
  public FlorenceAnswer run(FlorenceTask task, ImageInput image, String input) {
    return run(task, image, FlorenceInput.text(input), defaultConfig(), TokenStreamer.none());
  }

  /**
   * Runs a region task ({@link FlorenceTask#takesRegion()}), greedily.
   *
   * @param task the task
   * @param image the image
   * @param region the region, inserted as its four location tokens
   * @return the answer
   * @throws VlmInputException INVALID_PROMPT if the task takes no region
   */
  public FlorenceAnswer run(FlorenceTask task, ImageInput image, FlorenceRegion region) {
    return run(task, image, region, defaultConfig(), TokenStreamer.none());
  }

  /**
   * Runs a task with explicit generation settings and streaming.
   *
   * @param task the task
   * @param image the image
   * @param input the task's input ({@link FlorenceInput.Text}, or the {@link FlorenceRegion} of a
   *     region task), or null for tasks without input
   * @param config generation settings (the forced start and end tokens are added)
   * @param streamer receives the text as it is generated
   * @return the answer
   * @throws VlmInputException INVALID_PROMPT if the input does not fit the task
   */
  public FlorenceAnswer run(FlorenceTask task, ImageInput image, FlorenceInput input, GenerationConfig config,
      TokenStreamer streamer) {
    Prompt p = prompt(task, input);
    return answer(task, image, p.text(), p.regionAndRest(), config, streamer);
  }

  /** A task's prompt text, and for a region task the region and the text after it. */
  private record Prompt(String text, Object[] regionAndRest) {}

  private static Prompt prompt(FlorenceTask task, FlorenceInput input) {
    if (input instanceof FlorenceRegion region) {
      if (!task.takesRegion()) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT, task.token()
            + " takes no region; found " + region);
      }
      String[] around = task.template().split(java.util.regex.Pattern.quote(FlorenceTask.INPUT_PLACEHOLDER), -1);
      return new Prompt(around[0], new Object[] {region, around[1]});
    }
    if (task.takesRegion()) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT, task.token() + " takes a region (four"
          + " location tokens); pass a FlorenceRegion" + (input == null ? "" : ", found text of "
              + ((FlorenceInput.Text) input).text().length() + " chars"));
    }
    return new Prompt(input == null ? task.prompt() : task.prompt(((FlorenceInput.Text) input).text()), null);
  }

  /**
   * Generates from a free-text prompt (transformers.js sends text that names no task as it is).
   *
   * @param prompt the prompt, tokenized as text
   * @param image the image
   * @param config generation settings (the forced start and end tokens are added)
   * @param streamer receives the text as it is generated
   * @return the generation: ids and text after the decoder's start token, usage and timings
   */
  public GenerationResult generate(String prompt, ImageInput image, GenerationConfig config, TokenStreamer streamer) {
    return execute(prompt, null, image, config, streamer).result();
  }

  private GenerationConfig defaultConfig() {
    return GenerationConfig.greedy(Math.min(1024, text.maxPositions() - 1));
  }

  private FlorenceAnswer answer(FlorenceTask task, ImageInput image, String prompt, Object[] regionAndRest,
      GenerationConfig config, TokenStreamer streamer) {
    return answer(task, prompt, execute(prompt, regionAndRest, image, config, streamer));
  }

  private FlorenceAnswer answer(FlorenceTask task, String prompt, Run r) {
    int[] withStart = new int[r.result().tokenIds().length + 1];
    withStart[0] = startToken;
    System.arraycopy(r.result().tokenIds(), 0, withStart, 1, withStart.length - 1);
    String raw = tokenizer.decode(withStart, false);
    FlorenceResult parsed = task.answerKind().supported()
        ? FlorencePostProcessor.parse(raw, task, r.width(), r.height()) : null;
    return new FlorenceAnswer(task, prompt, raw, java.util.Optional.ofNullable(parsed), r.result());
  }

  private record Run(GenerationResult result, int width, int height) {}

  private Run execute(String prompt, Object[] regionAndRest, ImageInput image, GenerationConfig config,
      TokenStreamer streamer) {
    long t0 = System.nanoTime();
    int[] ids = promptIds(prompt, regionAndRest);
    RgbImage rgb = images.decode(image);
    int maxNew = Math.min(config.maxNewTokens(), text.maxPositions() - 1);
    long tPre = System.nanoTime();
    try (Seq2SeqState st = model.newState()) {
      Started s = start(st, ids, rgb);
      Set<Integer> stop = config.eosTokenIds().isEmpty() ? eos : new LinkedHashSet<>(config.eosTokenIds());
      Generator.Outcome o = Generator.run(t -> st.appendToken(t, embedder), tokenizer, s.logits(),
          new int[] {startToken}, withForcedTokens(config, maxNew), stop, maxNew, FinishReason.LENGTH, streamer,
          () -> false);
      long tEnd = System.nanoTime();
      StageTimings timings = new StageTimings(ms(tPre - t0), ms(s.tVision() - tPre), ms(s.tPrefill() - s.tVision()),
          o.firstTokenNanos() == 0 ? ms(tEnd - t0) : ms(o.firstTokenNanos() - t0), o.stepMs(), ms(tEnd - t0));
      GenerationResult g = new GenerationResult(o.text(), o.tokenIds(), o.finishReason(),
          new Usage(s.imageTokens() + ids.length, s.imageTokens(), o.tokenIds().length, timings), o.constraint());
      return new Run(g, rgb.width(), rgb.height());
    }
  }

  /**
   * Runs one task on several images in shared decoder steps (batched decoding): the images' encoder
   * inputs (all of one length: every image is resized to the model's frame, and the prompt is the
   * same) are encoded together and their sequences step together, each chosen by its own generator
   * thread; a sequence that ends stops choosing while the others go on (its row is fed a filler
   * token, as the graph's positions follow the shared cache length). Answers equal {@link #run}'s on
   * each image alone up to floating-point reduction order (the goldens' ids are reproduced). At most
   * {@link Builder#maxBatch} images share a batch; longer lists run batch after batch. Thread-safe.
   *
   * @param task the task
   * @param images the images, at least one
   * @param input the task's input for every image (as for {@code run}), or null
   * @param config generation settings for every image (the forced start and end tokens are added)
   * @return one answer per image, in order
   * @throws VlmInputException INVALID_PROMPT for no images or an input that does not fit the task;
   *     image errors as for {@code run} (the first image refused fails the call)
   */
  public List<FlorenceAnswer> runAll(FlorenceTask task, List<ImageInput> images, FlorenceInput input,
      GenerationConfig config) {
    if (images == null || images.isEmpty()) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT, "runAll needs at least one image");
    }
    Prompt p = prompt(task, input);
    List<FlorenceAnswer> out = new ArrayList<>();
    for (int from = 0; from < images.size(); from += maxBatch) {
      List<ImageInput> part = images.subList(from, Math.min(images.size(), from + maxBatch));
      List<Run> runs = executeBatch(p.text(), p.regionAndRest(), part, config);
      for (Run r : runs) {
        out.add(answer(task, p.text(), r));
      }
    }
    return out;
  }

  private List<Run> executeBatch(String prompt, Object[] regionAndRest, List<ImageInput> images,
      GenerationConfig config) {
    long t0 = System.nanoTime();
    int[] ids = promptIds(prompt, regionAndRest);
    List<RgbImage> rgbs = new ArrayList<>();
    for (ImageInput image : images) {
      rgbs.add(this.images.decode(image));
    }
    int rows = rgbs.size();
    int maxNew = Math.min(config.maxNewTokens(), text.maxPositions() - 1);
    long tPre = System.nanoTime();
    try (Seq2SeqState st = model.newState(rows)) {
      List<ImageFeatures> feats = new ArrayList<>();
      for (RgbImage rgb : rgbs) {
        feats.add(features(rgb, st));
      }
      int imageTokens = (int) (feats.get(0).data().length / text.hiddenSize());
      for (ImageFeatures f : feats) {
        if (f.data().length != feats.get(0).data().length) {
          throw new IllegalStateException("image features of different lengths in one batch: " + f.data().length
              + " and " + feats.get(0).data().length + " floats (the preprocessor resizes every image to one frame)");
        }
      }
      checkEncoderLength(imageTokens, ids.length);
      long tVision = System.nanoTime();
      float[] tokens = embedder.embed(ids, st.runOptions());
      FloatBuffer in = Tensors.directFloats(rows * (feats.get(0).data().length + tokens.length));
      for (ImageFeatures f : feats) {
        in.put(f.data()).put(tokens);
      }
      in.flip();
      float[] first = st.start(in, imageTokens + ids.length, startToken, embedder).clone();
      long tPrefill = System.nanoTime();
      int vocab = first.length / rows;
      GenerationConfig forced = withForcedTokens(config, maxNew);
      Set<Integer> stop = config.eosTokenIds().isEmpty() ? eos : new LinkedHashSet<>(config.eosTokenIds());
      io.github.vlm4j.decoder.LockstepBatch batch = new io.github.vlm4j.decoder.LockstepBatch(rows, vocab,
          stop.iterator().next(), t -> st.appendTokens(t, embedder));
      java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(rows, r -> {
        Thread th = new Thread(r, "vlm4j-florence-batch-row");
        th.setDaemon(true);
        return th;
      });
      try {
        List<java.util.concurrent.Future<Generator.Outcome>> outcomes = new ArrayList<>();
        for (int row = 0; row < rows; row++) {
          int r = row;
          float[] rowFirst = java.util.Arrays.copyOfRange(first, r * vocab, (r + 1) * vocab);
          outcomes.add(pool.submit(() -> {
            try {
              return Generator.run(batch.feed(r), tokenizer, rowFirst, new int[] {startToken}, forced, stop, maxNew,
                  FinishReason.LENGTH, TokenStreamer.none(), () -> false);
            } finally {
              batch.leave(r);
            }
          }));
        }
        List<Run> runs = new ArrayList<>();
        for (int row = 0; row < rows; row++) {
          Generator.Outcome o = join(outcomes.get(row));
          long tEnd = System.nanoTime();
          StageTimings timings = new StageTimings(ms(tPre - t0), ms(tVision - tPre), ms(tPrefill - tVision),
              o.firstTokenNanos() == 0 ? ms(tEnd - t0) : ms(o.firstTokenNanos() - t0), o.stepMs(), ms(tEnd - t0));
          GenerationResult g = new GenerationResult(o.text(), o.tokenIds(), o.finishReason(),
              new Usage(imageTokens + ids.length, imageTokens, o.tokenIds().length, timings), o.constraint());
          runs.add(new Run(g, rgbs.get(row).width(), rgbs.get(row).height()));
        }
        return runs;
      } finally {
        pool.shutdownNow();
      }
    }
  }

  /** The row's outcome; its failure rethrown as it was (typed errors stay typed). */
  private static Generator.Outcome join(java.util.concurrent.Future<Generator.Outcome> f) {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.util.concurrent.CancellationException("interrupted while waiting for a batch row");
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new io.github.vlm4j.core.InferenceException("a batch row failed: " + e.getCause(), e.getCause());
    }
  }

  /** An encoded request: the start token's logits, the image's token count and when its stages ended. */
  private record Started(float[] logits, int imageTokens, long tVision, long tPrefill) {}

  /**
   * The image's features (from the cache, or preprocessed and encoded: vision time) before the
   * prompt's token embeddings, encoded once, and the decoder's first step on the start token.
   */
  private Started start(Seq2SeqState st, int[] ids, RgbImage rgb) {
    ImageFeatures f = features(rgb, st);
    int imageTokens = (int) (f.data().length / text.hiddenSize());
    checkEncoderLength(imageTokens, ids.length);
    long tVision = System.nanoTime();
    float[] tokens = embedder.embed(ids, st.runOptions());
    FloatBuffer in = Tensors.directFloats(f.data().length + tokens.length);
    in.put(f.data()).put(tokens).flip();
    float[] first = st.start(in, imageTokens + ids.length, startToken, embedder);
    return new Started(first, imageTokens, tVision, System.nanoTime());
  }

  /** The image's features: from the cache, or preprocessed and encoded (vision time). */
  private ImageFeatures features(RgbImage rgb, Seq2SeqState st) {
    return features.enabled()
        ? features.get(ImageFeatureCache.key(rgb, CACHE_VARIANT),
            () -> vision.encode(preprocessor.preprocess(rgb, null), st.runOptions()))
        : vision.encode(preprocessor.preprocess(rgb, null), st.runOptions());
  }

  private void checkEncoderLength(int imageTokens, int promptTokens) {
    if (imageTokens + promptTokens > text.maxPositions()) {
      throw new VlmInputException(VlmInputException.Reason.PROMPT_TOO_LONG, "the encoder input is " + imageTokens
          + " image tokens and " + promptTokens + " prompt tokens, more than the " + text.maxPositions()
          + " positions of text_config.max_position_embeddings");
    }
  }

  /** The config with the forced first ({@code <s>}) and last ({@code </s>}) tokens of generation_config.json. */
  private GenerationConfig withForcedTokens(GenerationConfig config, int maxNew) {
    GenerationConfig.Builder b = config.toBuilder();
    if (forcedBos >= 0) {
      b.addProcessor(forceAt(0, forcedBos));
    }
    if (forcedEos >= 0) {
      b.addProcessor(forceAt(maxNew - 1, forcedEos));
    }
    return b.build();
  }

  /**
   * Scores candidate answers to a task: each label's log-probability as the decoder's whole answer
   * after the forced {@code <s>} (its tokens as text, then {@code </s>}), teacher-forced in one
   * decoder pass per label over the image and prompt encoded once. E.g. zero-shot classification
   * with {@link FlorenceTask#CAPTION} and candidate captions. Thread-safe.
   *
   * @param task the task
   * @param image the image
   * @param input the task's input as for {@link #run(FlorenceTask, ImageInput, FlorenceInput,
   *     GenerationConfig, TokenStreamer)}, or null
   * @param labels candidate answers, distinct and non-blank; tokenized as text (a label that spells
   *     {@code <loc_5>} is those characters)
   * @return one score per label in order: its tokens (the label's, then {@code </s>}), their
   *     log-probabilities, their sum and the sum's softmax over the labels; usage counts the scored tokens
   * @throws VlmInputException INVALID_LABELS for no, blank or repeated labels or one longer than the
   *     decoder's positions; INVALID_PROMPT / PROMPT_TOO_LONG / image errors as for {@code run}
   */
  public io.github.vlm4j.LabelScores classify(FlorenceTask task, ImageInput image, FlorenceInput input,
      List<String> labels) {
    long t0 = System.nanoTime();
    List<String> checked = io.github.vlm4j.LabelScores.requireLabels(labels);
    Prompt p = prompt(task, input);
    int[] ids = promptIds(p.text(), p.regionAndRest());
    int end = forcedEos >= 0 ? forcedEos : eos.iterator().next();
    List<int[]> fed = new ArrayList<>();
    List<int[]> scored = new ArrayList<>();
    for (String label : checked) {
      // bounded before tokenizing, as prompts are: no token is longer than the vocabulary's longest
      if (label.length() > (long) text.maxPositions() * Math.max(16, tokenizer.longestTokenChars())) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_LABELS, "label of " + label.length()
            + " chars is longer than the decoder's " + text.maxPositions() + " positions can hold");
      }
      int[] l = tokenizer.encode(label);
      int[] withEnd = java.util.Arrays.copyOf(l, l.length + 1);
      withEnd[l.length] = end;
      // the decoder reads [start, <s>?, label]; each position predicts the next token, the last </s>
      int[] in = new int[(forcedBos >= 0 ? 1 : 0) + l.length];
      if (forcedBos >= 0) {
        in[0] = forcedBos;
      }
      System.arraycopy(l, 0, in, in.length - l.length, l.length);
      if (1 + in.length > text.maxPositions()) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_LABELS, "label \"" + label + "\" is "
            + l.length + " tokens; with the decoder's start token it exceeds its " + text.maxPositions() + " positions");
      }
      fed.add(in);
      scored.add(withEnd);
    }
    RgbImage rgb = images.decode(image);
    long tPre = System.nanoTime();
    List<double[]> logProbs = new ArrayList<>();
    int scoredTokens = 0;
    try (Seq2SeqState st = model.newState()) {
      Started s = start(st, ids, rgb);
      float[] startLogits = s.logits().clone();
      int vocab = startLogits.length;
      for (int i = 0; i < fed.size(); i++) {
        int[] in = fed.get(i);
        int[] target = scored.get(i);
        double[] lp = new double[target.length];
        // without a forced <s>, the start token's logits score the label's first token
        int offset = forcedBos >= 0 ? 0 : 1;
        float[] rows = in.length == 0 ? new float[0] : st.continuationLogits(in, embedder);
        for (int j = 0; j < target.length; j++) {
          lp[j] = j < offset ? io.github.vlm4j.decoder.generation.LogProbs.at(startLogits, 0, vocab, target[j])
              : io.github.vlm4j.decoder.generation.LogProbs.at(rows, (j - offset) * vocab, vocab, target[j]);
        }
        logProbs.add(lp);
        scoredTokens += target.length;
      }
      long tEnd = System.nanoTime();
      StageTimings timings = new StageTimings(ms(tPre - t0), ms(s.tVision() - tPre), ms(s.tPrefill() - s.tVision()),
          ms(s.tPrefill() - t0), new double[0], ms(tEnd - t0));
      return new io.github.vlm4j.LabelScores(io.github.vlm4j.LabelScores.normalised(checked, scored, logProbs),
          new Usage(s.imageTokens() + ids.length, s.imageTokens(), scoredTokens, timings), 0);
    }
  }

  /** Forces {@code token} as the {@code step}-th generated token (0-based), as HF's forced BOS/EOS. */
  private static io.github.vlm4j.decoder.generation.LogitsProcessor forceAt(int step, int token) {
    return (sequence, length, logits) -> {
      if (length - 1 == step) {
        java.util.Arrays.fill(logits, Float.NEGATIVE_INFINITY);
        logits[token] = 0f;
      }
    };
  }

  /** {@code <s>} + the prompt as text (+ a region's location tokens by id and the rest) + {@code </s>}. */
  private int[] promptIds(String prompt, Object[] regionAndRest) {
    int chars = prompt.length() + (regionAndRest == null ? 0 : ((String) regionAndRest[1]).length());
    long limit = (long) text.maxPositions() * Math.max(16, tokenizer.longestTokenChars());
    if (chars > limit) {
      throw new VlmInputException(VlmInputException.Reason.PROMPT_TOO_LONG, "the prompt has " + chars
          + " characters; the encoder takes " + text.maxPositions() + " positions");
    }
    List<int[]> parts = new ArrayList<>();
    parts.add(tokenizer.postProcessorPrefix());
    parts.add(tokenizer.encode(prompt));
    if (regionAndRest != null) {
      FlorenceRegion r = (FlorenceRegion) regionAndRest[0];
      parts.add(new int[] {locTokens[r.x1()], locTokens[r.y1()], locTokens[r.x2()], locTokens[r.y2()]});
      parts.add(tokenizer.encode((String) regionAndRest[1]));
    }
    parts.add(tokenizer.postProcessorSuffix());
    int n = parts.stream().mapToInt(a -> a.length).sum();
    int[] ids = new int[n];
    int at = 0;
    for (int[] a : parts) {
      System.arraycopy(a, 0, ids, at, a.length);
      at += a.length;
    }
    return ids;
  }

  /**
   * Tokenizes a task's prompt as the model sees it.
   *
   * @param task a task without input
   * @return {@code <s>} + the prompt's ids + {@code </s>} (no image tokens: the image's features go
   *     before them in the encoder's input)
   */
  public int[] promptIds(FlorenceTask task) {
    return promptIds(task, null);
  }

  /**
   * Tokenizes a prompt as the model sees it.
   *
   * @param task the task
   * @param input its input, or null for a task without input
   * @return the prompt's ids with {@code <s>} and {@code </s>}
   * @throws VlmInputException INVALID_PROMPT if the input does not fit the task
   */
  public int[] promptIds(FlorenceTask task, FlorenceInput input) {
    Prompt p = prompt(task, input);
    return promptIds(p.text(), p.regionAndRest());
  }

  /**
   * Returns the tokenizer.
   *
   * @return the tokenizer (owned by this model)
   */
  public TextTokenizer tokenizer() {
    return tokenizer;
  }

  private static double ms(long nanos) {
    return nanos / 1e6;
  }

  /**
   * Returns statistics of the image feature cache.
   *
   * @return the image feature cache's hits, misses and bytes (Florence-2 has no demo-prefix cache:
   *     its prefix figures are 0)
   */
  public VisionLanguageModel.CacheStats cacheStats() {
    return new VisionLanguageModel.CacheStats(features.hits(), features.misses(), features.bytes(), 0, 0, 0);
  }

  /** Empties the image feature cache. Thread-safe. */
  public void clearCaches() {
    features.clear();
  }

  /** The feature cache's variant key: Florence-2 preprocesses every image the same way. */
  private static final String CACHE_VARIANT = "florence2";

  /**
   * Configures the load of a Florence-2 folder ({@link FlorenceModel#builder}). Not thread-safe;
   * {@link #build()} may be called more than once (each call loads a new model).
   */
  public static final class Builder {
    private final Path dir;
    private Dtype dtype = Dtype.FP32;
    private SessionSettings settings = SessionSettings.builder().build();
    private long maxImagePixels = ImageDecoder.DEFAULT_MAX_PIXELS;
    private long imageCacheBytes = VisionLanguageModel.DEFAULT_IMAGE_CACHE_BYTES;
    private int maxBatch = DEFAULT_MAX_BATCH;

    private Builder(Path dir) {
      this.dir = dir;
    }

    /**
     * Sets the precision of every graph.
     *
     * @param dtype precision ({@code _fp16}, {@code _quantized}, ... files; default fp32), non-null
     * @return this
     * @throws VlmInputException INVALID_OPTION for null
     */
    public Builder dtype(Dtype dtype) {
      if (dtype == null) {
        throw option("dtype must not be null");
      }
      this.dtype = dtype;
      return this;
    }

    /**
     * Sets the ONNX Runtime settings of every graph (threads, session config entries).
     *
     * @param settings the settings, non-null
     * @return this
     * @throws VlmInputException INVALID_OPTION for null
     */
    public Builder sessionSettings(SessionSettings settings) {
      if (settings == null) {
        throw option("sessionSettings must not be null");
      }
      this.settings = settings;
      return this;
    }

    /**
     * Sets the largest image accepted, checked from the image header before its pixels are
     * decoded (larger images are refused with IMAGE_TOO_LARGE).
     *
     * @param pixels width × height, in [1, {@value VisionLanguageModel#MAX_IMAGE_PIXELS}] (default
     *     {@link ImageDecoder#DEFAULT_MAX_PIXELS})
     * @return this
     * @throws VlmInputException INVALID_OPTION outside the range
     */
    public Builder maxImagePixels(long pixels) {
      if (pixels < 1 || pixels > VisionLanguageModel.MAX_IMAGE_PIXELS) {
        throw option("maxImagePixels must be in [1, " + VisionLanguageModel.MAX_IMAGE_PIXELS + "], got " + pixels);
      }
      this.maxImagePixels = pixels;
      return this;
    }

    /**
     * Bounds the image feature cache: vision-graph outputs keyed by the decoded pixels' SHA-256, so
     * several tasks on one image encode it once.
     *
     * @param bytes capacity (default {@value VisionLanguageModel#DEFAULT_IMAGE_CACHE_BYTES}; a bound,
     *     not an allocation), >= 0; 0 disables the cache
     * @return this
     * @throws VlmInputException INVALID_OPTION if negative
     */
    public Builder imageCacheBytes(long bytes) {
      if (bytes < 0) {
        throw option("imageCacheBytes must be in [0, " + Long.MAX_VALUE + "] (0 = off), got " + bytes);
      }
      this.imageCacheBytes = bytes;
      return this;
    }

    /**
     * Bounds the images {@link FlorenceModel#runAll} decodes in shared steps (each row holds its own
     * caches; a batch runs one generator thread per row).
     *
     * @param rows images per batch, in [1, 64] (default {@value FlorenceModel#DEFAULT_MAX_BATCH}); 1
     *     runs the images one after another
     * @return this
     * @throws VlmInputException INVALID_OPTION outside the range
     */
    public Builder maxBatch(int rows) {
      if (rows < 1 || rows > 64) {
        throw option("maxBatch must be in [1, 64], got " + rows);
      }
      this.maxBatch = rows;
      return this;
    }

    /**
     * Loads the model.
     *
     * @return the model; the caller owns it
     * @throws ModelLoadException if the folder is not a loadable Florence-2 model (the reason and
     *     message name the file and what was expected)
     */
    public FlorenceModel build() throws ModelLoadException {
      return open(dir, dtype, settings, new ImageDecoder(maxImagePixels), new ImageFeatureCache(imageCacheBytes),
          maxBatch);
    }

    private static VlmInputException option(String message) {
      return new VlmInputException(VlmInputException.Reason.INVALID_OPTION, message);
    }
  }

  @Override
  public void close() {
    model.close();
    embedder.close();
    vision.close();
    tokenizer.close();
  }
}
