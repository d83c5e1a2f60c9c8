package io.github.vlm4j.langchain4j;

import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.chat.response.StreamingHandle;
import io.github.vlm4j.GenerationSession;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.decoder.generation.FinishReason;
import io.github.vlm4j.decoder.generation.GenerationResult;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A LangChain4j {@link StreamingChatModel} running a {@link VisionLanguageModel} in this JVM:
 * messages, parameters and errors as {@link Vlm4jChatModel} maps them, text delivered as it is
 * generated.
 *
 * <pre>{@code
 * try (Vlm4jStreamingChatModel chat = Vlm4jStreamingChatModel.builder().model(model).build()) {
 *   chat.chat(List.of(UserMessage.from("Describe a red square.")), handler);
 * }
 * }</pre>
 *
 * <p><b>Callbacks</b>: {@code onPartialResponse} once per text delta (complete characters; the
 * deltas concatenate to the final text, stop strings excluded), then {@code onCompleteResponse} with
 * the whole {@link ChatResponse} ({@link Vlm4jChatResponseMetadata}); or {@code onError} once,
 * instead of the completion, for any failure — unsupported content or parameters ({@link
 * UnsupportedFeatureException}), input the library refuses ({@link InvalidRequestException}), an
 * exception thrown by the handler's own {@code onPartialResponse} or {@code onCompleteResponse} (as
 * it was thrown), the request being cancelled by {@link #close()} ({@link CancellationException}).
 * No exception escapes the streaming thread: one thrown by {@code onError} itself is logged (WARN,
 * logger {@code io.github.vlm4j.langchain4j}) and dropped. A request cancelled through the
 * {@link StreamingHandle} of {@code onPartialResponse}'s context stops at its next step and gets no
 * further callback, as LangChain4j's HTTP models do.
 *
 * <p><b>Threads</b>: {@code chat} returns at once; each request runs on a thread of this model's
 * executor, and every callback of that request is called on that thread, in order. The executor is
 * a fixed pool of {@link Builder#streamingThreads(int)} daemon threads named {@code
 * vlm4j-langchain4j-stream-N} (default {@value #DEFAULT_STREAMING_THREADS}), owned by this model;
 * requests beyond them wait in order. Requests running at once share decoder steps (the library's
 * continuous batching). Thread-safe.
 *
 * <p><b>Ownership</b>: {@link #close()} refuses new requests (their {@code onError} is called at
 * once, on the calling thread), cancels the running and waiting ones (each gets {@code onError}
 * with a {@link CancellationException}), stops the executor's threads, and closes the model only if
 * {@link Builder#ownsModel(boolean)} says so.
 */
public final class Vlm4jStreamingChatModel implements StreamingChatModel, AutoCloseable {
  /** Default number of streaming threads. */
  public static final int DEFAULT_STREAMING_THREADS = 4;

  private static final Logger LOG = LoggerFactory.getLogger("io.github.vlm4j.langchain4j");
  private static final long CLOSE_WAIT_SECONDS = 30;

  private final Settings settings;
  private final ExecutorService executor;
  private final Set<Run> runs = ConcurrentHashMap.newKeySet();
  private final Set<Thread> ownThreads = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  private Vlm4jStreamingChatModel(Settings settings, int threads) {
    this.settings = settings;
    AtomicInteger n = new AtomicInteger();
    ThreadFactory factory = r -> {
      Thread t = new Thread(r, "vlm4j-langchain4j-stream-" + n.incrementAndGet());
      t.setDaemon(true);
      ownThreads.add(t);
      return t;
    };
    this.executor = Executors.newFixedThreadPool(threads, factory);
  }

  /**
   * Starts a builder.
   *
   * @return a builder; {@link Builder#model(VisionLanguageModel)} is required
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Queues one request and returns at once; the handler is called on a streaming thread (see the
   * class description). {@link StreamingChatModel#chat(ChatRequest, StreamingChatResponseHandler)}
   * calls it with the request's parameters over {@link #defaultRequestParameters()}.
   *
   * @param request the request
   * @param handler receives the deltas and then the response or the error
   */
  @Override
  public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
    Objects.requireNonNull(handler, "handler");
    Run run = new Run(request, handler);
    if (closed) {
      run.error(new IllegalStateException("this Vlm4jStreamingChatModel is closed"));
      return;
    }
    runs.add(run);
    try {
      executor.execute(run);
    } catch (RejectedExecutionException e) {
      runs.remove(run);
      run.error(new IllegalStateException("this Vlm4jStreamingChatModel is closed", e));
      return;
    }
    if (closed) {
      run.cancelBecauseClosed();
    }
  }

  /**
   * Returns the builder's settings as request parameters.
   *
   * @return model id, token limit, temperature, top-p, top-k and stop strings
   */
  @Override
  public ChatRequestParameters defaultRequestParameters() {
    return settings.defaults();
  }

  /**
   * Says what this model supports beyond text: JSON schema response formats.
   *
   * @return {@link Capability#RESPONSE_FORMAT_JSON_SCHEMA}
   */
  @Override
  public Set<Capability> supportedCapabilities() {
    return Set.of(Capability.RESPONSE_FORMAT_JSON_SCHEMA);
  }

  /**
   * Returns the builder's listeners.
   *
   * @return the listeners LangChain4j notifies, on the calling thread (requests) and the streaming thread (responses, errors)
   */
  @Override
  public List<ChatModelListener> listeners() {
    return settings.listeners();
  }

  /**
   * Returns the id this model reports.
   *
   * @return the model id (the builder's, or the model folder's name)
   */
  public String modelId() {
    return settings.modelId();
  }

  /**
   * Refuses new requests, cancels running and waiting ones (each gets {@code onError} with a {@link
   * CancellationException}), waits up to 30 s for the streaming threads to end, then closes the
   * model if this chat model owns it. Idempotent; do not call it from a callback of this model
   * (it would wait for its own thread), except that waiting is then skipped.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    executor.shutdown();
    runs.forEach(Run::cancelBecauseClosed);
    if (!ownThreads.contains(Thread.currentThread())) {
      try {
        if (!executor.awaitTermination(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS)) {
          LOG.warn("streaming requests still running {} s after close()", CLOSE_WAIT_SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (settings.ownsModel()) {
      settings.model().close();
    }
  }

  /** @return requests queued or running (for tests) */
  int pending() {
    return runs.size();
  }

  @Override
  public String toString() {
    return "Vlm4jStreamingChatModel[" + settings.modelId() + "]";
  }

  /** One streamed request: runs on a streaming thread, cancellable from any thread. */
  private final class Run implements Runnable, StreamingHandle {
    private final ChatRequest request;
    private final StreamingChatResponseHandler handler;
    private final Object lock = new Object();
    private GenerationSession session;
    private volatile boolean cancelledByCaller;
    private volatile boolean cancelledByClose;

    Run(ChatRequest request, StreamingChatResponseHandler handler) {
      this.request = request;
      this.handler = handler;
    }

    @Override
    public void run() {
      try {
        if (cancelledByClose) {
          error(new CancellationException("the streaming chat model was closed before this request started"));
          return;
        }
        if (cancelledByCaller) {
          return;
        }
        RequestMapping.Mapped m;
        try {
          m = RequestMapping.map(request, settings);
        } catch (RuntimeException e) {
          error(Responses.translate(e));
          return;
        }
        PartialResponseContext context = new PartialResponseContext(this);
        GenerationResult r;
        try (GenerationSession s = settings.model().newSession()) {
          synchronized (lock) {
            session = s;
            if (cancelledByCaller || cancelledByClose) {
              s.cancel();
            }
          }
          r = s.generate(m.messages(), m.config(), settings.options(),
              delta -> handler.onPartialResponse(new PartialResponse(delta), context));
        } catch (RuntimeException e) {
          if (!cancelledByCaller) {
            error(cancelledByClose ? closedWhileRunning(e) : Responses.translate(e));
          }
          return;
        } finally {
          synchronized (lock) {
            session = null;
          }
        }
        if (cancelledByCaller) {
          return;
        }
        if (cancelledByClose && r.finishReason() == FinishReason.CANCELLED) {
          error(closedWhileRunning(null));
          return;
        }
        ChatResponse response = Responses.of(r, settings.modelId());
        try {
          handler.onCompleteResponse(response);
        } catch (RuntimeException e) {
          error(e);
        }
      } catch (Error e) { // e.g. OutOfMemoryError: the handler must still learn that the request failed
        error(e);
      } finally {
        runs.remove(this);
      }
    }

    private CancellationException closedWhileRunning(Throwable cause) {
      CancellationException c = new CancellationException("the streaming chat model was closed while this request"
          + " was running");
      if (cause != null) {
        c.initCause(cause);
      }
      return c;
    }

    void error(Throwable t) {
      try {
        handler.onError(t);
      } catch (RuntimeException | Error e) {
        LOG.warn("a StreamingChatResponseHandler's onError threw {} (dropped)", e.toString());
      }
    }

    void cancelBecauseClosed() {
      cancelledByClose = true;
      synchronized (lock) {
        if (session != null) {
          session.cancel();
        }
      }
    }

    @Override
    public void cancel() {
      cancelledByCaller = true;
      synchronized (lock) {
        if (session != null) {
          session.cancel();
        }
      }
    }

    @Override
    public boolean isCancelled() {
      return cancelledByCaller;
    }
  }

  /** Builds a {@link Vlm4jStreamingChatModel}. Not thread-safe. */
  public static final class Builder extends BaseBuilder<Builder> {
    private int threads = DEFAULT_STREAMING_THREADS;

    private Builder() {}

    /**
     * Sets how many requests stream at once (the size of the model's own thread pool).
     *
     * @param n in [1, 256] (default {@value Vlm4jStreamingChatModel#DEFAULT_STREAMING_THREADS})
     * @return this builder
     */
    public Builder streamingThreads(int n) {
      this.threads = n;
      return this;
    }

    /**
     * Builds the streaming chat model and starts its executor (threads start with the first requests).
     *
     * @return the streaming chat model
     * @throws IllegalStateException without a model
     * @throws VlmInputException INVALID_OPTION for a setting out of range, naming it
     */
    public Vlm4jStreamingChatModel build() {
      if (threads < 1 || threads > 256) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "expected streamingThreads in [1, 256],"
            + " found " + threads);
      }
      return new Vlm4jStreamingChatModel(settings(), threads);
    }
  }
}
