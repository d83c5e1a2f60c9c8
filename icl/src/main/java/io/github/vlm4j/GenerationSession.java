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
import io.github.vlm4j.decoder.DecoderState;
import io.github.vlm4j.decoder.generation.FinishReason;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.Generator;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import io.github.vlm4j.family.ModelParts;
import io.github.vlm4j.projector.AdapterRegistry;
import io.github.vlm4j.projector.EmbeddingMerger;
import io.github.vlm4j.projector.ImageEmbeddings;
import io.github.vlm4j.projector.ImageProjector;
import io.github.vlm4j.projector.QueryEmbeddings;
import io.github.vlm4j.vision.PreprocessedImage;
import io.github.vlm4j.vision.RgbImage;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * One request or conversation on a {@link VisionLanguageModel}: renders the chat, decodes and
 * preprocesses images, runs the vision graph and projector (or adapter), merges image embeddings
 * into the prompt, runs the decoder prefill and the generation loop. Owns the KV cache of its
 * current generation.
 *
 * <p><b>Thread-safety:</b> not thread-safe — use one session per thread; {@link #cancel()} alone may
 * be called from any thread. <b>Ownership:</b> the caller owns the session and must close it.
 */
public final class GenerationSession implements AutoCloseable {
  private final VisionLanguageModel model;
  private final Object stateLock = new Object();
  private DecoderState state;
  private volatile boolean cancelRequested;
  private volatile boolean modelClosing;
  private volatile boolean closed;
  private boolean running;

  GenerationSession(VisionLanguageModel model) {
    this.model = model;
  }

  /**
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
   * @param options image splitting / adapter choices
   * @param streamer receives text as it is generated (on this thread)
   * @return the result, with token counts and stage timings
   * @throws VlmInputException for bad images, prompts over the context window, unknown adapters, ...
   * @throws ModelClosedException if the model or session is (or gets) closed
   * @throws InferenceException if ONNX Runtime fails
   */
  public GenerationResult generate(List<Message> messages, GenerationConfig config, RequestOptions options,
      TokenStreamer streamer) {
    if (closed) {
      throw new ModelClosedException("this session is closed");
    }
    model.lifecycle().acquire();
    try {
      synchronized (stateLock) {
        if (running) {
          throw new IllegalStateException("a GenerationSession runs one request at a time; use one session per thread");
        }
        running = true;
      }
      return run(messages, config, options, streamer);
    } finally {
      synchronized (stateLock) {
        running = false;
        stateLock.notifyAll();
      }
      model.lifecycle().release();
    }
  }

  /** A prompt ready to run: ids, and the preprocessed images. */
  record Prepared(TokenizedPrompt prompt, List<PreprocessedImage> images, List<Message> messages) {}

  static Prepared prepare(VisionLanguageModel model, List<Message> messages, RequestOptions options) {
    ModelParts parts = model.parts();
    if (options.adapter().isPresent()) {
      parts.adapters().acquire(options.adapter().get()).close(); // fail fast on unknown names
    }
    ChatTemplate.Rendered rendered = parts.template().render(messages, true);
    PromptAssembler assembler = parts.assembler();
    List<PromptPiece> pieces = assembler.pieces(rendered);
    List<ImageInput> inputs = new ArrayList<>();
    for (Message m : messages) {
      m.content().stream().filter(ImagePart.class::isInstance).forEach(p -> inputs.add(((ImagePart) p).image()));
    }
    List<PreprocessedImage> images = new ArrayList<>();
    for (ImageInput in : inputs) {
      RgbImage rgb = model.imageDecoder().decode(in);
      images.add(parts.preprocessor().preprocess(rgb, options.imageSplitting().orElse(null)));
    }
    List<PromptPiece> expanded = PromptAssembler.expand(pieces, k -> parts.expansion().expand(k, images.get(k)));
    TokenizedPrompt prompt = assembler.tokenize(expanded, images.size());
    return new Prepared(prompt, images, messages);
  }

  private GenerationResult run(List<Message> messages, GenerationConfig config, RequestOptions options,
      TokenStreamer streamer) {
    long t0 = System.nanoTime();
    ModelParts parts = model.parts();
    Prepared p = prepare(model, messages, options);
    int promptLen = p.prompt().length();
    int window = model.textConfig().maxPositions();
    if (promptLen >= window) {
      throw new VlmInputException(VlmInputException.Reason.PROMPT_TOO_LONG,
          "the prompt has " + promptLen + " tokens (" + p.prompt().imageTokenCount() + " of them image tokens) but the"
              + " context window is " + window + " tokens (max_position_embeddings); shorten the text, use fewer"
              + " images, or turn image splitting off");
    }
    int maxNew = Math.min(config.maxNewTokens(), window - promptLen);
    long tPre = System.nanoTime();
    DecoderState st = newState();
    AdapterRegistry.Lease lease = options.adapter().map(a -> parts.adapters().acquire(a)).orElse(null);
    ImageProjector projector = lease != null ? lease.projector() : parts.projector();
    try {
      List<ImageEmbeddings> embeds = new ArrayList<>();
      QueryEmbeddings query = null;
      if (projector.usesQuery() && !p.images().isEmpty()) {
        int[] q = model.tokenizer().encode(lastUserText(messages));
        float[] qe = q.length == 0 ? new float[0] : parts.embedder().embed(q, st.runOptions());
        query = new QueryEmbeddings(qe, q.length, model.textConfig().hiddenSize());
      }
      for (PreprocessedImage img : p.images()) {
        checkStop();
        var features = parts.vision().encode(img, st.runOptions());
        embeds.add(projector.project(features, query, st.runOptions()));
      }
      long tVision = System.nanoTime();
      checkStop();
      int[] ids = p.prompt().ids();
      int hidden = model.textConfig().hiddenSize();
      float[] tokenEmbeds = parts.embedder().embed(ids, st.runOptions());
      float[] merged = tokenEmbeds;
      if (!embeds.isEmpty() || p.prompt().imageTokenCount() > 0) {
        FloatBuffer out = FloatBuffer.allocate(ids.length * hidden);
        EmbeddingMerger.merge(tokenEmbeds, ids, parts.assembler().imageTokenId(), embeds,
            p.prompt().imageTokensPerImage(), hidden, out);
        merged = out.array();
      }
      checkStop();
      float[] first = st.append(merged, ids.length);
      long tPrefill = System.nanoTime();
      Set<Integer> eos = config.eosTokenIds().isEmpty() ? model.eosTokenIds() : new LinkedHashSet<>(config.eosTokenIds());
      Generator.Outcome o = Generator.run(st, parts.embedder(), model.tokenizer(), first, ids, config, eos, maxNew,
          FinishReason.LENGTH, streamer, this::stopRequested);
      if (modelClosing) {
        throw new ModelClosedException("the model was closed while this request was running");
      }
      long tEnd = System.nanoTime();
      StageTimings timings = new StageTimings(ms(tPre - t0), ms(tVision - tPre), ms(tPrefill - tVision),
          o.firstTokenNanos() == 0 ? ms(tEnd - t0) : ms(o.firstTokenNanos() - t0), o.stepMs(), ms(tEnd - t0));
      if (o.finishReason() == FinishReason.CANCELLED) {
        cancelRequested = false;
      }
      return new GenerationResult(o.text(), o.tokenIds(), o.finishReason(),
          new Usage(promptLen, p.prompt().imageTokenCount(), o.tokenIds().length, timings));
    } catch (InferenceException e) {
      if (modelClosing) {
        throw new ModelClosedException("the model was closed while this request was running");
      }
      if (cancelRequested) {
        cancelRequested = false;
        return new GenerationResult("", new int[0], FinishReason.CANCELLED,
            new Usage(promptLen, p.prompt().imageTokenCount(), 0,
                new StageTimings(ms(tPre - t0), 0, 0, ms(System.nanoTime() - t0), new double[0], ms(System.nanoTime() - t0))));
      }
      throw e;
    } catch (Cancelled c) {
      cancelRequested = false;
      return new GenerationResult("", new int[0], FinishReason.CANCELLED,
          new Usage(promptLen, p.prompt().imageTokenCount(), 0,
              new StageTimings(ms(tPre - t0), 0, 0, ms(System.nanoTime() - t0), new double[0], ms(System.nanoTime() - t0))));
    } finally {
      if (lease != null) {
        lease.close();
      }
    }
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
      state = model.parts().decoder().newState();
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
   * Stops the generation running in this session (from any thread): it ends at its next step with
   * {@link FinishReason#CANCELLED}. If none is running, the next one ends at once.
   */
  public void cancel() {
    cancelRequested = true;
    synchronized (stateLock) {
      if (running && state != null) {
        state.terminate();
      }
    }
  }

  void abortBecauseModelCloses() {
    modelClosing = true;
    synchronized (stateLock) {
      if (running && state != null) {
        state.terminate();
      }
    }
  }

  /**
   * Frees this session's KV cache. If a generation is running on another thread, it is cancelled and
   * awaited first. Idempotent.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    synchronized (stateLock) {
      boolean interrupted = false;
      while (running) {
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
