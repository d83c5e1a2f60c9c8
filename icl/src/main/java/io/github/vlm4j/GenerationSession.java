package io.github.vlm4j;

import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.ModelClosedException;
import io.github.vlm4j.core.StageTimings;
import io.github.vlm4j.core.Usage;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ChatTemplate;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.ImagePart;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.core.prompt.PromptAssembler;
import io.github.vlm4j.core.prompt.PromptPiece;
import io.github.vlm4j.core.prompt.Role;
import io.github.vlm4j.core.prompt.TextPart;
import io.github.vlm4j.core.prompt.TokenizedPrompt;
import io.github.vlm4j.core.onnx.Tensors;
import io.github.vlm4j.decoder.DecodeBatcher;
import io.github.vlm4j.decoder.DecoderState;
import io.github.vlm4j.decoder.KvSnapshot;
import io.github.vlm4j.decoder.PrefixBranches;
import io.github.vlm4j.decoder.PromptPositions;
import io.github.vlm4j.decoder.InjectedFeatures;
import io.github.vlm4j.vision.ImagePreprocessor;
import io.github.vlm4j.decoder.generation.ConstraintStatus;
import io.github.vlm4j.decoder.generation.FinishReason;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.Generator;
import io.github.vlm4j.decoder.generation.LogProbs;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import io.github.vlm4j.family.ModelParts;
import io.github.vlm4j.projector.AdapterRegistry;
import io.github.vlm4j.projector.EmbeddingMerger;
import io.github.vlm4j.vision.ImageFeatures;
import io.github.vlm4j.projector.ImageEmbeddings;
import io.github.vlm4j.projector.ImageProjector;
import io.github.vlm4j.projector.QueryEmbeddings;
import io.github.vlm4j.vision.PreprocessedImage;
import io.github.vlm4j.vision.RgbImage;
import io.github.vlm4j.vision.ImageFeatureCache;
import io.github.vlm4j.vision.ImageLayout;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * One request or conversation on a {@link VisionLanguageModel}: renders the chat, decodes and
 * preprocesses images, runs the vision graph and projector (or adapter), merges image embeddings
 * into the prompt, runs the decoder prefill and the generation loop. Owns the KV cache of its
 * current generation.
 *
 * <p><b>Thread-safety:</b> not thread-safe — use one session per thread; {@link #cancel()} and
 * {@link #close()} may be called from any thread, including from a {@link TokenStreamer} callback of
 * the running request. <b>Ownership:</b> the caller owns the session and must close it.
 */
public final class GenerationSession implements AutoCloseable {
  private final VisionLanguageModel model;
  private final Object stateLock = new Object();
  /** The current request's decoder state; guarded by {@code stateLock}. */
  private DecoderState state;
  /** The thread running a request on this session, or null; guarded by {@code stateLock}. */
  private Thread runner;
  /** A {@link #cancel()} that found no running request: it applies to the next one; guarded by {@code stateLock}. */
  private boolean cancelPending;
  /** Set (under {@code stateLock}) only while a request runs; cleared when it ends. */
  private volatile boolean cancelRequested;
  private volatile boolean modelClosing;
  private volatile boolean closed;

  GenerationSession(VisionLanguageModel model) {
    this.model = model;
  }

  /**
   * Generates the assistant's reply with the default request options, without streaming.
   *
   * @param messages the conversation, ending with a user turn
   * @param config generation settings
   * @return the result
   */
  public GenerationResult generate(List<Message> messages, GenerationConfig config) {
    return generate(messages, config, RequestOptions.DEFAULT, TokenStreamer.none());
  }

  /**
   * Generates the assistant's reply to {@code messages}.
   *
   * @param messages the conversation, ending with a user turn
   * @param config generation settings
   * @param options image splitting / adapter choices, and the {@link ContextPolicy} for a chat that does not
   *     fit the context window
   * @param streamer receives text as it is generated (on this thread)
   * @return the result, with token counts and stage timings
   * @throws VlmInputException for bad images, prompts over the context window, unknown adapters, ...
   * @throws ModelClosedException if the model or session is (or gets) closed
   * @throws InferenceException if ONNX Runtime fails
   */
  public GenerationResult generate(List<Message> messages, GenerationConfig config, RequestOptions options,
      TokenStreamer streamer) {
    return exclusive(() -> run(messages, config, options, streamer, null));
  }

  /**
   * Answers a few-shot prompt by generation (open answers). The demos' image features and KV cache
   * are reused across queries with the same demos (see {@link VisionLanguageModel.Builder#prefixCacheBytes}).
   *
   * @param prompt demos and query
   * @param config generation settings
   * @param options image splitting / adapter / image-token cap
   * @param streamer receives text as it is generated (on this thread)
   * @return the result
   * @throws VlmInputException for bad images, prompts over budget, unknown adapters, ...
   * @throws ModelClosedException if the model or session is (or gets) closed
   */
  public GenerationResult generate(FewShotPrompt prompt, GenerationConfig config, RequestOptions options,
      TokenStreamer streamer) {
    return exclusive(() -> run(prompt.messages(), config, options, streamer, prompt));
  }

  /**
   * Scores candidate answers of a few-shot prompt: the prompt (demo prefix from the cache when
   * possible) is computed once, then each label's tokens branch from a shared read-only snapshot of
   * its KV cache — not one full run per label.
   *
   * @param prompt demos and query
   * @param labels candidate answers (non-blank, distinct)
   * @param options image splitting / adapter / image-token cap
   * @return scores in label order
   * @throws VlmInputException ({@link VlmInputException.Reason#INVALID_LABELS}) for an empty,
   *     blank or duplicate label, or the errors of {@link #generate}
   * @throws CancellationException if {@link #cancel()} stopped it
   */
  public LabelScores classify(FewShotPrompt prompt, List<String> labels, RequestOptions options) {
    return exclusive(() -> score(prompt.messages(), labels, options, prompt));
  }

  /**
   * Scores candidate answers to any conversation (see {@link #classify(FewShotPrompt, List, RequestOptions)}).
   *
   * @param messages the conversation, ending with a user turn
   * @param labels candidate answers (non-blank, distinct)
   * @param options image splitting / adapter / image-token cap
   * @return scores in label order
   */
  public LabelScores classify(List<Message> messages, List<String> labels, RequestOptions options) {
    return exclusive(() -> score(messages, labels, options, null));
  }

  private <T> T exclusive(java.util.function.Supplier<T> body) {
    if (closed) {
      throw new ModelClosedException("this session is closed");
    }
    model.lifecycle().acquire();
    boolean started = false;
    try {
      synchronized (stateLock) {
        if (runner != null) {
          throw new IllegalStateException("a GenerationSession runs one request at a time; use one session per thread");
        }
        runner = Thread.currentThread();
        cancelRequested = cancelPending;
        cancelPending = false;
        started = true;
      }
      return body.get();
    } finally {
      boolean closedWhileRunning = false;
      if (started) {
        synchronized (stateLock) {
          runner = null;
          cancelRequested = false;   // a cancel() of this request never reaches the next one
          closedWhileRunning = closed;
          stateLock.notifyAll();
        }
      }
      if (closedWhileRunning) {
        releaseState();   // close() was called on this thread (from a callback): finish it now
      }
      model.lifecycle().release();
    }
  }

  /**
   * A prompt ready to run: ids, the decoded images, their frame layouts, and their pixels — computed
   * lazily, because an image whose vision features are cached never needs them.
   */
  static final class Prepared {
    private final ContextFitter.Fitted fitted;
    private final TokenizedPrompt prompt;
    private final List<RgbImage> decoded;
    private final List<ImageLayout> layouts;
    private final PreprocessedImage[] pixels;
    private final ImagePreprocessor preprocessor;
    private final Boolean split;

    Prepared(ContextFitter.Fitted fitted, List<RgbImage> decoded, List<ImageLayout> layouts,
        PreprocessedImage[] pixels, ImagePreprocessor preprocessor, Boolean split) {
      this.fitted = fitted;
      this.prompt = fitted.prompt();
      this.decoded = decoded;
      this.layouts = layouts;
      this.pixels = pixels;
      this.preprocessor = preprocessor;
      this.split = split;
    }

    TokenizedPrompt prompt() {
      return prompt;
    }

    /** @return the chat the prompt holds: the request's, or what its context policy kept of it */
    List<Message> messages() {
      return fitted.messages();
    }

    /** @return what the context policy left out, and what is left when it ran out of parts to drop */
    ContextFitter.Fitted fitted() {
      return fitted;
    }

    List<RgbImage> decoded() {
      return decoded;
    }

    List<ImageLayout> layouts() {
      return layouts;
    }

    int imageCount() {
      return decoded.size();
    }

    /** @return image i's frames, preprocessing it now if that was skipped */
    PreprocessedImage pixels(int i) {
      if (pixels[i] == null) {
        pixels[i] = preprocessor.preprocess(decoded.get(i), split);
      }
      return pixels[i];
    }
  }

  static Prepared prepare(VisionLanguageModel model, List<Message> messages, RequestOptions options, int reserve) {
    return prepare(model, messages, options, reserve, () -> false);
  }

  /**
   * Checks the text size, decodes and preprocesses the images (stopping when {@code stop} says so),
   * tokenizes the prompt and applies the request's context policy so that {@code reserve} tokens
   * stay free for the reply. The images the policy leaves out are decoded and preprocessed (their
   * token counts come from preprocessing) but never reach the vision encoder.
   *
   * @throws CancellationException if {@code stop} returned true
   */
  static Prepared prepare(VisionLanguageModel model, List<Message> messages, RequestOptions options, int reserve,
      BooleanSupplier stop) {
    ModelParts parts = model.parts();
    checkTextFits(model, messages, options.contextPolicy());
    model.checkOptions(options);
    List<ImageInput> inputs = new ArrayList<>();
    for (Message m : messages) {
      inputs.addAll(m.images());
    }
    Boolean split = options.imageSplitting().orElse(null);
    String splitKey = splitKey(options);
    ImagePreprocessor preprocessor = model.preprocessorFor(options);
    List<RgbImage> decoded = new ArrayList<>();
    List<ImageLayout> layouts = new ArrayList<>();
    PreprocessedImage[] pixels = new PreprocessedImage[inputs.size()];
    for (int i = 0; i < inputs.size(); i++) {
      RgbImage rgb = model.imageDecoder().decode(inputs.get(i), stop);   // CancellationException when stopped
      decoded.add(rgb);
      ImageLayout layout = null;
      String key = null;
      if (model.featureCache().enabled()) {
        key = ImageFeatureCache.key(rgb, splitKey);
        layout = model.featureCache().contains(key) ? model.knownLayout(key) : null;
      }
      if (layout == null) {
        pixels[i] = preprocessor.preprocess(rgb, split);
        layout = pixels[i].layout();
        if (key != null) {
          model.rememberLayout(key, layout);
        }
      }
      layouts.add(layout);
    }
    ContextFitter.Fitted fitted = ContextFitter.fit(model, messages, layouts, options.contextPolicy(), reserve, stop);
    int[] kept = fitted.keptImages();
    if (kept.length == inputs.size()) {
      return new Prepared(fitted, decoded, layouts, pixels, preprocessor, split);
    }
    List<RgbImage> keptDecoded = new ArrayList<>();
    List<ImageLayout> keptLayouts = new ArrayList<>();
    PreprocessedImage[] keptPixels = new PreprocessedImage[kept.length];
    for (int i = 0; i < kept.length; i++) {
      keptDecoded.add(decoded.get(kept[i]));
      keptLayouts.add(layouts.get(kept[i]));
      keptPixels[i] = pixels[kept[i]];
    }
    return new Prepared(fitted, keptDecoded, keptLayouts, keptPixels, preprocessor, split);
  }

  /**
   * A token stands for at most {@link io.github.vlm4j.core.text.TextTokenizer#longestTokenChars()}
   * characters, so text longer than that times the context window cannot fit: it is refused before
   * rendering and tokenizing (which would cost memory and time proportional to its length).
   */
  static void checkTextFits(VisionLanguageModel model, List<Message> messages) {
    checkTextFits(model, messages, ContextPolicy.REFUSE);
  }

  /**
   * {@link #checkTextFits(VisionLanguageModel, List)} for a request under {@code policy}: the bound
   * applies to the whole conversation before the policy runs (which tokenizes all of it).
   */
  static void checkTextFits(VisionLanguageModel model, List<Message> messages, ContextPolicy policy) {
    long chars = 0;
    for (Message m : messages) {
      for (var part : m.content()) {
        if (part instanceof TextPart t) {
          chars += t.text().length();
        }
      }
    }
    int window = model.textConfig().maxPositions();
    long limit = (long) window * Math.max(16, model.tokenizer().longestTokenChars());
    if (chars > limit) {
      throw new VlmInputException(VlmInputException.Reason.PROMPT_TOO_LONG,
          "the messages hold " + chars + " characters of text; the context window is " + window
              + " tokens and no token of this tokenizer is longer than " + model.tokenizer().longestTokenChars()
              + " characters, so at most " + limit + " characters can fit; shorten the text"
              + (policy.mode() == ContextPolicy.Mode.REFUSE ? "" : " (the context policy " + policy.mode()
                  + " runs only on conversations within this bound, since it tokenizes all of it: leave out the"
                  + " oldest turns before sending)"));
    }
  }

  /** What, besides the image, decides its preprocessing (and so its cached features and frame layout). */
  static String splitKey(RequestOptions options) {
    String split = options.imageSplitting().map(String::valueOf).orElse("default");
    return options.pixelBudget().map(b -> split + "/pixels " + b.minPixels() + ".." + b.maxPixels()).orElse(split);
  }

  /** Renders and tokenizes {@code messages} with the image expansions of {@code images}. */
  static TokenizedPrompt tokenize(VisionLanguageModel model, List<Message> messages, List<ImageLayout> images,
      boolean addGenerationPrompt) {
    return tokenize(model, messages, images, addGenerationPrompt, () -> false);
  }

  /**
   * Renders and tokenizes {@code messages}, refusing text that cannot fit the context window before
   * any of it is tokenized, and stopping when {@code stop} says so.
   */
  static TokenizedPrompt tokenize(VisionLanguageModel model, List<Message> messages, List<ImageLayout> images,
      boolean addGenerationPrompt, BooleanSupplier stop) {
    ModelParts parts = model.parts();
    checkTextFits(model, messages);
    ChatTemplate.Rendered rendered = parts.template().render(messages, addGenerationPrompt, stop);
    PromptAssembler assembler = parts.assembler();
    List<PromptPiece> pieces = assembler.pieces(rendered);
    List<PromptPiece> expanded = PromptAssembler.expand(pieces, k -> parts.expansion().expand(k, images.get(k)));
    return assembler.tokenize(expanded, (int) messages.stream().mapToLong(m -> m.images().size()).sum());
  }

  /** A prompt whose KV cache is in {@code state}: logits of its last position, timings so far. */
  private record Prefilled(Prepared prepared, DecoderState state, float[] lastLogits, int cachedPrefix,
      long t0, long tPre, long tVision, long tPrefill) {}

  /**
   * Decodes and preprocesses the images, checks budgets, runs the vision graph (through the model's
   * feature cache) and the projector or adapter, merges the embeddings and prefills the decoder.
   * With {@code fewShot}, the demo prefix comes from (or goes into) the model's prefix cache.
   */
  private Prefilled prefill(List<Message> messages, RequestOptions options, FewShotPrompt fewShot,
      int reservedTokens, int replyTokens) {
    long t0 = System.nanoTime();
    ModelParts parts = model.parts();
    Prepared p = prepare(model, messages, options, replyTokens, this::stopRequested);
    checkBudget(p, options, reservedTokens);
    long tPre = System.nanoTime();
    DecoderState st = newState();
    AdapterRegistry.Lease lease = options.adapter().map(a -> parts.adapters().acquire(a)).orElse(null);
    ImageProjector projector = lease != null ? lease.projector() : parts.projector();
    try {
      List<ImageEmbeddings> embeds = new ArrayList<>();
      List<ImageFeatures> encoded = new ArrayList<>();
      QueryEmbeddings query = null;
      String queryText = lastUserText(p.messages());
      if (projector.usesQuery() && p.imageCount() > 0) {
        int[] q = model.tokenizer().encode(queryText);
        float[] qe = q.length == 0 ? new float[0] : parts.embedder().embed(q, st.runOptions());
        query = new QueryEmbeddings(qe, q.length, model.textConfig().hiddenSize());
      }
      String split = splitKey(options);
      int[] ids = p.prompt().ids();
      int hidden = model.textConfig().hiddenSize();
      int imageTokenId = parts.assembler().imageTokenId();
      int[] perImage = p.prompt().imageTokensPerImage();
      // a few-shot prompt's demo prefix: from the prefix cache (then its images and tokens are not
      // computed at all), or computed and put there
      PrefixCache cache = model.prefixCache();
      int prefix = fewShot != null && cache.enabled() ? demoPrefixLength(fewShot, p) : 0;
      int prefixImages = imagesStartingBefore(ids, prefix, imageTokenId, perImage);
      String key = prefix == 0 ? null : prefixKey(p, prefix, prefixImages, split, options.adapter().orElse(""),
          projector.usesQuery() ? queryText : null);
      int cached = key == null ? 0 : cache.startFrom(key, st);
      int firstImage = cached > 0 ? prefixImages : 0;
      // the image graphs run once per image: their activation memory goes back (see releaseVisionMemory)
      var imageRuns = model.releaseVisionMemory() && firstImage < p.imageCount()
          ? st.releasingRunOptions() : st.runOptions();
      for (int i = firstImage; i < p.imageCount(); i++) {
        checkStop();
        int index = i;
        var features = model.featureCache().enabled()
            ? model.featureCache().get(ImageFeatureCache.key(p.decoded().get(i), split),
                () -> parts.vision().encode(p.pixels(index), imageRuns))
            : parts.vision().encode(p.pixels(i), imageRuns);
        encoded.add(features);
        embeds.add(projector.project(features, query, imageRuns));
      }
      long tVision = System.nanoTime();
      checkStop();
      int[] todo = cached == 0 ? ids : Arrays.copyOfRange(ids, cached, ids.length);
      float[] tokenEmbeds = parts.embedder().embed(todo, st.runOptions());
      // the decoder's input, written once into a direct buffer that ONNX Runtime reads in place
      FloatBuffer merged = Tensors.directFloats(todo.length * hidden);
      if (!embeds.isEmpty() || Arrays.stream(todo).anyMatch(t -> t == imageTokenId)) {   // the merger checks counts
        EmbeddingMerger.merge(tokenEmbeds, todo, imageTokenId, embeds,
            Arrays.copyOfRange(perImage, firstImage, perImage.length), hidden, merged);
      } else {
        merged.put(tokenEmbeds);
      }
      merged.flip();
      checkStop();
      // the family's position ids for the whole prompt (null: the decoder counts them), and what the
      // decoder adds after its first layers at the image tokens (null: nothing)
      PromptPositions positions = parts.positions().positions(ids, imageTokenId, p.layouts());
      int layers = parts.decoder().injectedLayers();
      // without images to encode (a text-only prompt, or images only in the cached prefix) the decoder
      // feeds zeros itself
      InjectedFeatures injected = layers == 0 || encoded.isEmpty() ? null : new InjectedFeatures(layers, todo.length,
          hidden, EmbeddingMerger.scatterInjected(todo, imageTokenId, encoded, layers, hidden));
      float[] last;
      if (key != null && cached == 0) {
        float[] prefixLogits = st.append(merged.duplicate().limit(prefix * hidden), prefix,
            positions == null ? null : positions.slice(0, prefix), injected == null ? null : injected.slice(0, prefix));
        cache.put(key, st.snapshot(Arrays.copyOf(ids, prefix), prefixLogits));
        last = st.append(merged.duplicate().position(prefix * hidden), ids.length - prefix,
            positions == null ? null : positions.slice(prefix, ids.length),
            injected == null ? null : injected.slice(prefix, ids.length));
      } else {
        last = st.append(merged, todo.length, positions == null ? null : positions.slice(cached, ids.length),
            injected);
      }
      return new Prefilled(p, st, last, cached, t0, tPre, tVision, System.nanoTime());
    } finally {
      if (lease != null) {
        lease.close();
      }
    }
  }

  private void checkBudget(Prepared p, RequestOptions options, int reservedTokens) {
    TokenizedPrompt prompt = p.prompt();
    int promptLen = prompt.length();
    int window = model.textConfig().maxPositions();
    if (options.maxImageTokens().isPresent() && prompt.imageTokenCount() > options.maxImageTokens().getAsInt()) {
      throw new VlmInputException(VlmInputException.Reason.PROMPT_TOO_LONG,
          "the prompt's images expand to " + prompt.imageTokenCount() + " image tokens "
              + java.util.Arrays.toString(prompt.imageTokensPerImage()) + " but the request allows at most "
              + options.maxImageTokens().getAsInt() + "; use fewer images or turn image splitting off");
    }
    ContextFitter.Fitted fitted = p.fitted();
    if (!ContextFitter.leavesRoom(model, promptLen, reservedTokens) && fitted.remains() != null) {
      throw new VlmInputException(VlmInputException.Reason.PROMPT_TOO_LONG,
          "the context policy " + options.contextPolicy().mode() + " left out " + fitted.dropped().turns()
              + " turns and " + fitted.dropped().images() + " images, yet " + fitted.remains() + ", but the budget is "
              + (window - reservedTokens) + " tokens (the context window of " + window + " tokens,"
              + " max_position_embeddings, minus " + reservedTokens + " for the reply); shorten the last user turn or"
              + " the system text, use fewer images in it, or turn image splitting off");
    }
    if (!ContextFitter.leavesRoom(model, promptLen, reservedTokens)) {
      throw new VlmInputException(VlmInputException.Reason.PROMPT_TOO_LONG,
          "the prompt has " + promptLen + " tokens (" + prompt.imageTokenCount() + " of them image tokens)"
              + (reservedTokens > 1 ? " plus " + reservedTokens + " tokens to score" : "") + " but the"
              + " context window is " + window + " tokens (max_position_embeddings); shorten the text, use fewer"
              + " images, or turn image splitting off");
    }
  }

  /**
   * Length of the token prefix that only depends on the demos: the longest common prefix of the real
   * prompt and two probe prompts whose queries differ (no images, different text). Any template works:
   * whatever the template renders between the demos and the query is shared by all three.
   */
  private int demoPrefixLength(FewShotPrompt fewShot, Prepared p) {
    List<ImageLayout> demoImages = p.layouts().subList(0, fewShot.demoImageCount());
    int[] shared = model.probePrefix(probeKey(fewShot, demoImages), () -> {
      int[] a = tokenize(model, fewShot.messages(List.of(), "A"), demoImages, true).ids();
      int[] b = tokenize(model, fewShot.messages(List.of(), "Z"), demoImages, true).ids();
      return Arrays.copyOf(a, Arrays.mismatch(a, b) < 0 ? a.length : Arrays.mismatch(a, b));
    });
    int[] ids = p.prompt().ids();
    int max = Math.min(ids.length - 1, shared.length);
    int n = 0;
    while (n < max && shared[n] == ids[n]) {
      n++;
    }
    return n;
  }

  /** Everything the probe prompts' tokens depend on: the demos' text and their images' layouts. */
  private static String probeKey(FewShotPrompt fewShot, List<ImageLayout> demoImages) {
    StringBuilder k = new StringBuilder();
    k.append(fewShot.style()).append('\u0000').append(fewShot.instruction()).append('\u0000')
        .append(fewShot.question());
    for (Demo d : fewShot.demos()) {
      k.append('\u0000').append(d.images().size()).append('\u0000').append(d.question().orElse("\u0001"))
          .append('\u0000').append(d.answer());
    }
    for (ImageLayout l : demoImages) {
      k.append('\u0000').append(l);
    }
    return k.toString();
  }

  /** Number of images whose tokens start before position {@code end}. */
  private static int imagesStartingBefore(int[] ids, int end, int imageTokenId, int[] perImage) {
    int images = 0;
    int remaining = 0;
    for (int i = 0; i < end; i++) {
      if (ids[i] == imageTokenId) {
        if (remaining == 0) {
          remaining = perImage[images++];
        }
        remaining--;
      }
    }
    return images;
  }

  /** Everything that determines the KV cache of the first {@code prefix} positions. */
  private static String prefixKey(Prepared p, int prefix, int prefixImages, String split, String adapter,
      String adapterQuery) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update((split + "\u0000" + adapter + "\u0000" + (adapterQuery == null ? "" : adapterQuery) + "\u0000")
          .getBytes(StandardCharsets.UTF_8));
      int[] ids = p.prompt().ids();
      ByteBuffer buf = ByteBuffer.allocate(4 * prefix);
      for (int i = 0; i < prefix; i++) {
        buf.putInt(ids[i]);
      }
      md.update(buf.array());
      for (int i = 0; i < prefixImages; i++) {
        md.update(p.decoded().get(i).contentHash().getBytes(StandardCharsets.UTF_8));
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private GenerationResult run(List<Message> messages, GenerationConfig config, RequestOptions options,
      TokenStreamer streamer, FewShotPrompt fewShot) {
    long t0 = System.nanoTime();
    Prefilled pf = null;
    try {
      if (fewShot != null) {
        ContextFitter.requireRefuse(options, "a few-shot prompt");
      }
      pf = prefill(messages, options, fewShot, 1, config.maxNewTokens());
      int promptLen = pf.prepared().prompt().length();
      int maxNew = Math.min(config.maxNewTokens(), model.textConfig().maxPositions() - promptLen);
      Set<Integer> eos = config.eosTokenIds().isEmpty() ? model.eosTokenIds() : new LinkedHashSet<>(config.eosTokenIds());
      Generator.Outcome o = decode(pf, config, eos, maxNew, streamer);
      if (modelClosing) {
        throw new ModelClosedException("the model was closed while this request was running");
      }
      long tEnd = System.nanoTime();
      StageTimings timings = new StageTimings(ms(pf.tPre() - pf.t0()), ms(pf.tVision() - pf.tPre()),
          ms(pf.tPrefill() - pf.tVision()),
          o.firstTokenNanos() == 0 ? ms(tEnd - pf.t0()) : ms(o.firstTokenNanos() - pf.t0()), o.stepMs(),
          ms(tEnd - pf.t0()));
      return new GenerationResult(o.text(), o.tokenIds(), o.finishReason(),
          new Usage(promptLen, pf.prepared().prompt().imageTokenCount(), o.tokenIds().length, timings,
              pf.prepared().fitted().dropped()), o.constraint());
    } catch (InferenceException e) {
      if (modelClosing) {
        throw new ModelClosedException("the model was closed while this request was running");
      }
      if (cancelRequested) {
        return cancelled(pf, t0, config);
      }
      throw e;
    } catch (Cancelled | CancellationException c) {
      if (modelClosing) {
        throw new ModelClosedException("the model was closed while this request was running");
      }
      return cancelled(pf, t0, config);
    }
  }

  /** The decode loop: in the model's shared batch when it batches, else on this request's own state. */
  private Generator.Outcome decode(Prefilled pf, GenerationConfig config, Set<Integer> eos, int maxNew,
      TokenStreamer streamer) {
    int[] promptIds = pf.prepared().prompt().ids();
    DecodeBatcher batcher = model.batcher();
    if (batcher == null) {
      return Generator.run(pf.state(), model.parts().embedder(), model.tokenizer(), pf.lastLogits(), promptIds,
          config, eos, maxNew, FinishReason.LENGTH, streamer, this::stopRequested);
    }
    try (DecodeBatcher.Sequence row = batcher.sequence(pf.state(), this::stopRequested)) {
      return Generator.run(row, model.tokenizer(), pf.lastLogits(), promptIds, config, eos, maxNew,
          FinishReason.LENGTH, streamer, this::stopRequested);
    }
  }

  private LabelScores score(List<Message> messages, List<String> labels, RequestOptions options,
      FewShotPrompt fewShot) {
    try {
      return scoreUnlessCancelled(messages, labels, options, fewShot);
    } catch (Cancelled | CancellationException c) {
      if (modelClosing) {
        throw new ModelClosedException("the model was closed while this request was running");
      }
      throw new CancellationException("classify was cancelled");
    } catch (InferenceException e) {
      if (modelClosing) {
        throw new ModelClosedException("the model was closed while this request was running");
      }
      if (cancelRequested) {
        throw new CancellationException("classify was cancelled");
      }
      throw e;
    }
  }

  private LabelScores scoreUnlessCancelled(List<Message> messages, List<String> labels, RequestOptions options,
      FewShotPrompt fewShot) {
    List<String> checked = LabelScores.requireLabels(labels);
    ContextFitter.requireRefuse(options, "classify");
    Prefilled pf = prefill(messages, options, fewShot, 1, 1);
    TokenizedPrompt prompt = pf.prepared().prompt();
    int[] ids = prompt.ids();
    List<int[]> conts = new ArrayList<>();
    int longest = 0;
    for (String label : checked) {
      int[] c = continuation(messages, label, pf.prepared());
      conts.add(c);
      longest = Math.max(longest, c.length);
    }
    checkBudget(pf.prepared(), options, longest);
    float[] last = pf.lastLogits();
    int vocab = last.length;
    double[][] tokenLogProbs = new double[checked.size()][];
    int scored = 0;
    try (KvSnapshot snap = pf.state().snapshot(ids, last)) {
      List<float[]> branchLogits = branchLogits(snap, conts, pf.state());
      for (int l = 0; l < checked.size(); l++) {
        int[] c = conts.get(l);
        double[] lp = new double[c.length];
        lp[0] = LogProbs.at(last, 0, vocab, c[0]);
        float[] all = branchLogits.get(l);
        for (int j = 1; j < c.length; j++) {
          lp[j] = LogProbs.at(all, (j - 1) * vocab, vocab, c[j]);
        }
        tokenLogProbs[l] = lp;
        scored += c.length;
      }
    }
    if (modelClosing) {
      throw new ModelClosedException("the model was closed while this request was running");
    }
    List<LabelScores.LabelScore> out = LabelScores.normalised(checked, conts, java.util.Arrays.asList(tokenLogProbs));
    long tEnd = System.nanoTime();
    StageTimings timings = new StageTimings(ms(pf.tPre() - pf.t0()), ms(pf.tVision() - pf.tPre()),
        ms(pf.tPrefill() - pf.tVision()), ms(pf.tPrefill() - pf.t0()), new double[0], ms(tEnd - pf.t0()));
    return new LabelScores(out, new Usage(ids.length, prompt.imageTokenCount(), scored, timings), pf.cachedPrefix());
  }

  /**
   * The logits after each label's tokens but its last, branching from the prompt's cache: all labels
   * as the rows of shared decoder runs when the model batches, else one run per label. Labels of
   * one token need no run (an empty array).
   */
  private List<float[]> branchLogits(KvSnapshot snap, List<int[]> conts, DecoderState state) {
    ModelParts parts = model.parts();
    List<float[]> embeds = new ArrayList<>();
    for (int[] c : conts) {
      checkStop();
      embeds.add(c.length > 1 ? parts.embedder().embed(Arrays.copyOf(c, c.length - 1), state.runOptions()) : null);
    }
    List<float[]> out = new ArrayList<>(java.util.Collections.nCopies(conts.size(), new float[0]));
    DecodeBatcher batcher = model.batcher();
    if (batcher != null) {
      List<Integer> rows = new ArrayList<>();
      List<float[]> rowEmbeds = new ArrayList<>();
      for (int l = 0; l < conts.size(); l++) {
        if (embeds.get(l) != null) {
          rows.add(l);
          rowEmbeds.add(embeds.get(l));
        }
      }
      checkStop();
      List<float[]> logits = PrefixBranches.logits(snap, rowEmbeds, batcher.maxBatch(), batcher.maxBatchTokens(),
          state.runOptions());
      for (int i = 0; i < rows.size(); i++) {
        out.set(rows.get(i), logits.get(i));
      }
      return out;
    }
    for (int l = 0; l < conts.size(); l++) {
      checkStop();
      if (embeds.get(l) != null) {
        try (DecoderState branch = parts.decoder().newState(model.prefillChunk())) {
          branch.startFrom(snap);
          out.set(l, branch.appendAll(embeds.get(l), conts.get(l).length - 1));
        }
      }
    }
    return out;
  }

  /**
   * The tokens the chat template renders for an assistant answer {@code label} after the prompt, up to
   * and including the first end-of-turn (eos) token.
   */
  private int[] continuation(List<Message> messages, String label, Prepared p) {
    List<Message> withAnswer = new ArrayList<>(messages);
    withAnswer.add(Message.assistant(label));
    int[] full = tokenize(model, withAnswer, p.layouts(), false).ids();
    int[] prompt = p.prompt().ids();
    if (full.length <= prompt.length || !Arrays.equals(full, 0, prompt.length, prompt, 0, prompt.length)) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_LABELS,
          "cannot score label \"" + label + "\": with this model's chat template the prompt's tokens are not a prefix"
              + " of the prompt followed by that answer");
    }
    int end = prompt.length;
    while (end < full.length && !model.eosTokenIds().contains(full[end])) {
      end++;
    }
    end = Math.min(end + 1, full.length);
    return Arrays.copyOfRange(full, prompt.length, end);
  }

  private GenerationResult cancelled(Prefilled pf, long t0, GenerationConfig config) {
    int promptLen = pf == null ? 0 : pf.prepared().prompt().length();
    int imageTokens = pf == null ? 0 : pf.prepared().prompt().imageTokenCount();
    double total = ms(System.nanoTime() - t0);
    return new GenerationResult("", new int[0], FinishReason.CANCELLED,
        new Usage(promptLen, imageTokens, 0, new StageTimings(0, 0, 0, total, new double[0], total)),
        config.constraint().isPresent() ? ConstraintStatus.INCOMPLETE : ConstraintStatus.NONE);
  }

  private static String lastUserText(List<Message> messages) {
    for (int i = messages.size() - 1; i >= 0; i--) {
      Message m = messages.get(i);
      if (m.role() == Role.USER) {
        StringBuilder sb = new StringBuilder();
        m.content().stream().filter(TextPart.class::isInstance).forEach(t -> sb.append(((TextPart) t).text()));
        return sb.toString();
      }
    }
    return "";
  }

  private DecoderState newState() {
    synchronized (stateLock) {
      if (state != null) {
        state.close();
      }
      state = model.parts().decoder().newState(model.prefillChunk());
      return state;
    }
  }

  private boolean stopRequested() {
    return cancelRequested || modelClosing;
  }

  private void checkStop() {
    if (modelClosing) {
      throw new ModelClosedException("the model was closed while this request was running");
    }
    if (cancelRequested) {
      throw new Cancelled();
    }
  }

  private static double ms(long nanos) {
    return nanos / 1e6;
  }

  /**
   * Stops the request running in this session, from any thread: a generation ends at its next step
   * (or during image decoding or template rendering) with {@link FinishReason#CANCELLED}, a
   * {@code classify} with {@link CancellationException}. If no request is running, the next request
   * on this session ends at once instead. Each call affects exactly one request; a request that was
   * cancelled never leaves a signal behind for the one after it.
   *
   * @return true if a running request was signalled, false if the signal waits for the next request
   */
  public boolean cancel() {
    synchronized (stateLock) {
      if (runner == null) {
        cancelPending = true;
        return false;
      }
      cancelRequested = true;
      if (state != null) {
        state.terminate();
      }
      return true;
    }
  }

  void abortBecauseModelCloses() {
    modelClosing = true;
    synchronized (stateLock) {
      if (runner != null && state != null) {
        state.terminate();
      }
    }
  }

  /**
   * Frees this session's KV cache. If a request is running on another thread, it is cancelled and
   * awaited first. Called on the thread of the running request (from a {@link TokenStreamer}
   * callback), it cancels that request and returns at once; the cache is freed when the request
   * returns. Idempotent.
   */
  @Override
  public void close() {
    synchronized (stateLock) {
      if (closed) {
        return;
      }
      closed = true;
      if (runner == Thread.currentThread()) {
        cancelRequested = true;
        if (state != null) {
          state.terminate();
        }
        return;   // exclusive() finishes the close when the request unwinds
      }
      boolean interrupted = false;
      while (runner != null) {
        cancelRequested = true;
        if (state != null) {
          state.terminate();
        }
        try {
          stateLock.wait(100);
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
    releaseState();
  }

  private void releaseState() {
    synchronized (stateLock) {
      if (state != null) {
        state.close();
        state = null;
      }
    }
    model.sessionClosed(this);
  }

  /** Internal signal: the caller cancelled before the decode loop. */
  private static final class Cancelled extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Cancelled() {
      super(null, null, false, false);
    }
  }
}
