package io.github.vlm4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.vlm4j.GenerationSession;
import io.github.vlm4j.LabelScores;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.decoder.generation.FinishReason;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.javalin.Javalin;
import io.javalin.compression.CompressionStrategy;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import io.javalin.plugin.bundled.CorsPlugin;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An OpenAI-compatible HTTP server over one {@link VisionLanguageModel} (Javalin on Jetty):
 * {@code POST /v1/chat/completions} (streaming or not), {@code GET /v1/models}, {@code GET /health},
 * {@code GET /health/ready}, {@code GET /metrics} (Prometheus text) and vlm4j's
 * {@code POST /v1/vlm4j/classify}.
 *
 * <pre>{@code
 * VisionLanguageModel model = VisionLanguageModel.load(Path.of("SmolVLM-256M-Instruct"));
 * try (VlmServer server = VlmServer.start(model, ServerOptions.builder().port(8080).build(), true)) {
 *   server.awaitShutdown();
 * }
 * }</pre>
 *
 * <p>Requests run on the server's threads, at most {@link ServerOptions#maxConcurrent()} at once
 * (the model batches concurrent requests itself, if it does); a bounded queue holds more, and a full
 * queue answers 429 with {@code Retry-After}. Every request has a timeout that cancels its
 * generation; a client that disconnects (while its request waits, prefills, generates or streams)
 * cancels it too.
 *
 * <p><b>Thread-safety:</b> thread-safe. <b>Ownership:</b> the server owns its HTTP listener and
 * threads; it owns the model only if started with {@code ownsModel}, and then closes it last in
 * {@link #close()}.
 */
public final class VlmServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(VlmServer.class);

  private final VisionLanguageModel model;
  private final boolean ownsModel;
  private final ServerOptions options;
  private final Admission admission;
  private final ServerMetrics metrics;
  private final ImageSources images;
  private final Json json;
  private final byte[] keyHash;
  private final long startedAt = System.currentTimeMillis() / 1000;
  private final ScheduledExecutorService timers;
  private final Set<Running> inFlight = ConcurrentHashMap.newKeySet();
  private final Object closeLock = new Object();
  /** Guards {@link #active}, the number of handlers running (waiting, generating or writing). */
  private final Object activity = new Object();
  private int active;
  private volatile Hooks hooks = Hooks.NONE;
  private volatile boolean closed;
  private Javalin app;

  private VlmServer(VisionLanguageModel model, ServerOptions options, boolean ownsModel) {
    this.model = model;
    this.ownsModel = ownsModel;
    this.options = options;
    this.admission = new Admission(options.maxConcurrent(), options.maxQueue());
    this.metrics = new ServerMetrics(model, admission);
    this.images = new ImageSources(options);
    this.json = new Json(options.maxBodyBytes());
    this.keyHash = options.apiKey().map(k -> sha256(k.getBytes(StandardCharsets.UTF_8))).orElse(null);
    this.timers = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "vlm4j-server-timeouts");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * Starts serving {@code model}.
   *
   * @param model the model to serve (shared; the server calls it from several threads)
   * @param options listener, limits and security settings
   * @param ownsModel whether {@link #close()} also closes the model
   * @return the running server
   * @throws IllegalStateException if the listener cannot be bound (the port is taken, ...)
   */
  public static VlmServer start(VisionLanguageModel model, ServerOptions options, boolean ownsModel) {
    VlmServer s = new VlmServer(java.util.Objects.requireNonNull(model, "model"),
        java.util.Objects.requireNonNull(options, "options"), ownsModel);
    try {
      s.app = s.createApp().start(options.host(), options.port());
    } catch (RuntimeException e) {
      s.timers.shutdownNow();
      s.metrics.close();
      throw new IllegalStateException("cannot listen on " + options.host() + ":" + options.port() + ": "
          + e.getMessage(), e);
    }
    LOG.info("vlm4j server listening on http://{}:{} (model id {}, {} concurrent, queue {}, key {})", options.host(),
        s.port(), options.modelId(), options.maxConcurrent(), options.maxQueue(),
        options.apiKey().isPresent() ? "required" : "not required");
    return s;
  }

  /**
   * Returns the bound port.
   *
   * @return the TCP port the server listens on (the chosen one if the options said 0)
   */
  public int port() {
    return app.port();
  }

  /**
   * Returns the settings.
   *
   * @return the options the server runs with
   */
  public ServerOptions options() {
    return options;
  }

  /**
   * Returns the metrics in Prometheus text format, as {@code GET /metrics} serves them.
   *
   * @return the exposition text
   */
  public String scrapeMetrics() {
    return metrics.scrape();
  }

  /**
   * Blocks until {@link #close()} has finished (for a command line that serves until stopped).
   *
   * @throws InterruptedException if the waiting thread is interrupted
   */
  public void awaitShutdown() throws InterruptedException {
    synchronized (closeLock) {
      while (!closed) {
        closeLock.wait();
      }
    }
  }

  void hooks(Hooks h) {
    this.hooks = h;
  }

  ServerMetrics metrics() {
    return metrics;
  }

  private Javalin createApp() {
    QueuedThreadPool pool = new QueuedThreadPool(Math.max(16, options.maxConcurrent() + options.maxQueue() + 16), 4);
    pool.setName("vlm4j-server");
    return Javalin.create(config -> {
      config.startup.showJavalinBanner = false;
      config.startup.showOldJavalinVersionWarning = false;
      config.http.compressionStrategy = CompressionStrategy.NONE;
      config.http.maxRequestSize = options.maxBodyBytes();
      config.jetty.threadPool = pool;
      if (!options.corsOrigins().isEmpty()) {
        config.registerPlugin(new CorsPlugin(cors -> cors.addRule(rule -> {
          if (options.corsOrigins().contains("*")) {
            rule.anyHost();
          } else {
            List<String> origins = List.copyOf(options.corsOrigins());
            rule.allowHost(origins.get(0), origins.subList(1, origins.size()).toArray(String[]::new));
          }
          rule.exposeHeader("Retry-After");
        })));
        // preflights: the plugin writes the CORS headers (for allowed origins); the answer is empty
        config.routes.options("/*", ctx -> ctx.status(204));
      }
      config.router.javaLangErrorHandler((res, err) -> writeRaw(res, ErrorMapping.map(err)));
      config.routes.post("/v1/chat/completions", guard("chat_completions", true, this::chat));
      config.routes.post("/v1/vlm4j/classify", guard("classify", true, this::classify));
      config.routes.get("/v1/models", guard("models", true, this::models));
      config.routes.get("/v1/models/{id}", guard("models", true, this::oneModel));
      config.routes.get("/health", guard("health", false, ctx -> json(ctx, Json.WRITER.createObjectNode()
          .put("status", "ok"))));
      config.routes.get("/health/ready", guard("health_ready", false, this::ready));
      config.routes.get("/metrics", guard("metrics", true, ctx -> write(ctx.res(), "text/plain; version=0.0.4;"
          + " charset=utf-8", metrics.scrape())));
      config.routes.error(404, ctx -> {
        if (!ctx.res().isCommitted() && ctx.attribute("vlm4j.answered") == null) {
          ApiError e = ApiError.of(404, ApiError.INVALID_REQUEST, "unknown_path", null, "unknown path "
              + ctx.method() + " " + ImageSources.printable(ctx.path()));
          metrics.request("unknown", 404);
          writeError(ctx, e);
        }
      });
      config.routes.exception(Exception.class, (e, ctx) -> writeError(ctx, ErrorMapping.map(e)));
    });
  }

  /** Wraps a handler: API key check, error mapping (nothing escapes, not even an {@link Error}), metrics, log line. */
  private Handler guard(String endpoint, boolean needsKey, Handler h) {
    return ctx -> {
      long t0 = System.nanoTime();
      ctx.attribute("vlm4j.answered", Boolean.TRUE);
      int status;
      synchronized (activity) {
        active++;
      }
      try {
        if (needsKey) {
          checkKey(ctx);
        }
        h.handle(ctx);
        status = ctx.res().getStatus();
      } catch (Throwable t) {
        ApiError e = ErrorMapping.map(t);
        if (e.status() >= 500 && !(t instanceof ApiError)) {
          LOG.warn("{} {}: {} ({})", ctx.method(), endpoint, e.code(), t.getClass().getName());
        }
        writeError(ctx, e);
        status = e.status();
      } finally {
        synchronized (activity) {
          active--;
          activity.notifyAll();
        }
      }
      metrics.request(endpoint, status);
      if (LOG.isDebugEnabled()) {
        LOG.debug("{} {} -> {} in {} ms", ctx.method(), endpoint, status, (System.nanoTime() - t0) / 1_000_000);
      }
    };
  }

  private void checkKey(Context ctx) {
    if (keyHash == null) {
      return;
    }
    String header = ctx.header("Authorization");
    String given = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7).trim() : null;
    boolean ok = given != null && MessageDigest.isEqual(keyHash, sha256(given.getBytes(StandardCharsets.UTF_8)));
    if (!ok) {
      ctx.header("WWW-Authenticate", "Bearer");
      throw ApiError.of(401, ApiError.INVALID_REQUEST, "invalid_api_key", null, given == null
          ? "missing API key: send it as the header Authorization: Bearer <key>" : "incorrect API key");
    }
  }

  private static byte[] sha256(byte[] b) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(b);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  private static void json(Context ctx, JsonNode node) throws IOException {
    write(ctx.res(), "application/json", node.toString());
  }

  /** Writes {@code node}, closing the connection after it if a client watch read bytes of a next request. */
  private static void json(Context ctx, boolean closeConnection, JsonNode node) throws IOException {
    if (closeConnection) {
      ctx.res().setHeader("Connection", "close");
    }
    json(ctx, node);
  }

  /**
   * Writes and flushes a whole response body before the handler returns, so that a graceful
   * shutdown that waits for the handlers never cuts an answer that is not yet on the wire.
   */
  private static void write(HttpServletResponse res, String contentType, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    res.setContentType(contentType);
    res.setContentLength(bytes.length);
    res.getOutputStream().write(bytes);
    res.getOutputStream().flush();
  }

  private static void writeError(Context ctx, ApiError e) {
    HttpServletResponse res = ctx.res();
    if (res.isCommitted()) {
      return;
    }
    res.setStatus(e.status());
    if (e.retryAfterSeconds() >= 0) {
      res.setHeader("Retry-After", Long.toString(e.retryAfterSeconds()));
    }
    try {
      write(res, "application/json", Responses.error(e).toString());
    } catch (IOException | RuntimeException ignored) {
      // the client is gone; nothing left to answer
    }
  }

  private static void writeRaw(HttpServletResponse res, ApiError e) {
    try {
      if (res.isCommitted()) {
        return;
      }
      res.resetBuffer();
      res.setStatus(e.status());
      res.setContentType("application/json");
      res.getOutputStream().write(Responses.error(e).toString().getBytes(StandardCharsets.UTF_8));
    } catch (IOException | RuntimeException ignored) {
      // the client is gone; nothing left to answer
    }
  }

  // ---------------------------------------------------------------- endpoints

  private void models(Context ctx) throws IOException {
    ObjectNode o = Json.WRITER.createObjectNode().put("object", "list");
    o.putArray("data").add(modelObject());
    json(ctx, o);
  }

  private void oneModel(Context ctx) throws IOException {
    requireModel(ctx.pathParam("id"), null);
    json(ctx, modelObject());
  }

  private ObjectNode modelObject() {
    return Json.WRITER.createObjectNode().put("id", options.modelId()).put("object", "model")
        .put("created", startedAt).put("owned_by", "vlm4j");
  }

  private void requireModel(String id, String param) {
    if (id != null && !id.equals(options.modelId())) {
      throw ApiError.of(404, ApiError.INVALID_REQUEST, "model_not_found", param, "the model \""
          + ImageSources.printable(id) + "\" does not exist; this server serves \"" + options.modelId() + "\"");
    }
  }

  private void ready(Context ctx) throws IOException {
    boolean draining = admission.draining();
    ctx.status(draining ? 503 : 200);
    json(ctx, Json.WRITER.createObjectNode().put("status", draining ? "draining" : "ready")
        .put("running", admission.running()).put("queued", admission.waiting()));
  }

  private JsonNode body(Context ctx) throws IOException {
    long declared = ctx.req().getContentLengthLong();
    if (declared > options.maxBodyBytes()) {
      throw tooLarge(ctx, declared + " bytes declared");
    }
    byte[] bytes;
    try (InputStream in = ctx.req().getInputStream()) {
      bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, options.maxBodyBytes() + 1));
    }
    if (bytes.length > options.maxBodyBytes()) {
      throw tooLarge(ctx, "more");
    }
    return json.parseObject(bytes);
  }

  /**
   * The 413 of a body over the limit. The rest of the body is not read, so the connection cannot
   * carry another request: the answer says {@code Connection: close}, and a client that pools
   * connections opens a new one instead of sending its next request into a closing socket.
   */
  private ApiError tooLarge(Context ctx, String found) {
    ctx.res().setHeader("Connection", "close");
    return tooLarge(found);
  }

  private ApiError tooLarge(String found) {
    return ApiError.of(413, ApiError.INVALID_REQUEST, "request_too_large", null, "expected a request body of at most "
        + options.maxBodyBytes() + " bytes (--max-body-bytes), found " + found);
  }

  /**
   * Chat completions. The client watch stops before the answer is written: a client may send its
   * next request on the same connection as soon as it has read the answer.
   */
  private void chat(Context ctx) throws Exception {
    long deadline = System.nanoTime() + options.requestTimeout().toNanos();
    JsonNode body = body(ctx);
    GenerationResult r;
    Responses responses;
    boolean closeConnection;
    try (ClientWatch watch = ClientWatch.start(ctx.req())) {
      requireModel(Json.optString(body, "model", "model"), "model");
      ChatRequest req = ChatRequest.parse(body, options, images, model.eosTokenIds());
      responses = new Responses("chatcmpl-" + UUID.randomUUID().toString().replace("-", ""),
          System.currentTimeMillis() / 1000, options.modelId());
      if (req.stream()) {
        stream(ctx, deadline, watch, req, responses);
        return;
      }
      r = run(deadline, watch, new AtomicReference<>(), s -> s.generate(req.messages(), req.config(),
          req.options(), io.github.vlm4j.decoder.generation.TokenStreamer.none()));
      closeConnection = watch.readAhead();
    }
    account(r);
    json(ctx, closeConnection, responses.completion(r));
  }

  private void stream(Context ctx, long deadline, ClientWatch watch, ChatRequest req, Responses responses)
      throws InterruptedException {
    AtomicReference<Running> current = new AtomicReference<>();
    ChatStream stream = new ChatStream(ctx.res(), responses, req.includeUsage(), watch::readAhead, () -> {
      Running r = current.get();
      if (r != null) {
        r.cancel(ServerMetrics.Cancel.CLIENT_DISCONNECTED);
      }
    }, hooks);
    GenerationResult r;
    try {
      r = run(deadline, watch, current, s -> s.generate(req.messages(), req.config(), req.options(), stream));
    } catch (Throwable t) {
      if (!stream.started()) {
        throw t;
      }
      ApiError e = ErrorMapping.map(t);
      if (!(t instanceof ApiError)) {
        LOG.warn("POST chat_completions (stream): {} ({})", e.code(), t.getClass().getName());
      }
      watch.close();
      stream.fail(Responses.error(e));
      return;
    }
    watch.close();
    if (stream.gone()) {
      return;
    }
    account(r);
    stream.finish(Responses.finishReason(r.finishReason()), Responses.usage(r.usage()),
        Responses.extension(r.usage(), r.finishReason(), r.constraint()));
  }

  private void account(GenerationResult r) {
    metrics.tokens(r.usage().promptTokens(), r.usage().generatedTokens());
    metrics.timings(r.usage().timings().timeToFirstTokenMs(), r.usage().timings().decodeMs());
  }

  private void classify(Context ctx) throws Exception {
    long deadline = System.nanoTime() + options.requestTimeout().toNanos();
    JsonNode body = body(ctx);
    LabelScores scores;
    boolean closeConnection;
    try (ClientWatch watch = ClientWatch.start(ctx.req())) {
      requireModel(Json.optString(body, "model", "model"), "model");
      ClassifyRequest req = ClassifyRequest.parse(body, options, images);
      scores = run(deadline, watch, new AtomicReference<>(), s -> s.classify(req.prompt(), req.labels(),
          req.options()));
      closeConnection = watch.readAhead();
    }
    json(ctx, closeConnection, classification(scores));
  }

  private ObjectNode classification(LabelScores scores) {
    metrics.tokens(scores.usage().promptTokens(), 0);
    ObjectNode o = Json.WRITER.createObjectNode();
    o.put("object", "vlm4j.classification").put("created", System.currentTimeMillis() / 1000)
        .put("model", options.modelId());
    o.putObject("best").put("label", scores.best().label()).put("probability", scores.best().probability());
    ArrayNode list = o.putArray("scores");
    for (LabelScores.LabelScore s : scores.scores()) {
      ObjectNode e = list.addObject();
      e.put("label", s.label()).put("probability", s.probability()).put("log_prob", s.logProb())
          .put("mean_log_prob", s.meanLogProb());
      ArrayNode ids = e.putArray("token_ids");
      for (int id : s.tokenIds()) {
        ids.add(id);
      }
    }
    ObjectNode usage = o.putObject("usage");
    usage.put("prompt_tokens", scores.usage().promptTokens()).put("completion_tokens", 0)
        .put("total_tokens", scores.usage().promptTokens());
    ObjectNode ext = Responses.extension(scores.usage(), null, null);
    ext.put("cached_prefix_tokens", scores.cachedPrefixTokens());
    o.set("vlm4j", ext);
    return o;
  }

  // ---------------------------------------------------------------- running on the model

  /** One request running on the model: its session and why it was cancelled, if it was. */
  static final class Running {
    private final GenerationSession session;
    private final Hooks hooks;
    private volatile ServerMetrics.Cancel cause;

    Running(GenerationSession session, Hooks hooks) {
      this.session = session;
      this.hooks = hooks;
    }

    /** Cancels the generation once; the first cause wins. */
    synchronized void cancel(ServerMetrics.Cancel why) {
      if (cause == null) {
        cause = why;
        session.cancel();
        hooks.cancelled(why);
      }
    }
  }

  interface Job<R> {
    R run(GenerationSession s);
  }


  /**
   * Waits for a slot, runs {@code job} in a fresh session under the request's deadline, and turns a
   * cancellation into the right error (504 for the timeout, 503 for a shutdown, 499 when the client
   * went away: while queued, prefilling or generating).
   */
  private <R> R run(long deadline, ClientWatch watch, AtomicReference<Running> current, Job<R> job)
      throws InterruptedException {
    watch.onGone(admission::wake);
    long entered = admission.enter(deadline, watch::gone);
    try (GenerationSession s = model.newSession()) {
      Running running = new Running(s, hooks);
      current.set(running);
      inFlight.add(running);
      watch.onGone(() -> running.cancel(ServerMetrics.Cancel.CLIENT_DISCONNECTED));
      long left = deadline - System.nanoTime();
      ScheduledFuture<?> timer = timers.schedule(() -> running.cancel(ServerMetrics.Cancel.TIMEOUT),
          Math.max(0, left), TimeUnit.NANOSECONDS);
      R result;
      try {
        hooks.running();
        result = job.run(s);
      } catch (java.util.concurrent.CancellationException e) {
        throw cancelled(running, e);
      } finally {
        timer.cancel(false);
        inFlight.remove(running);
      }
      if (running.cause != null) {
        metrics.cancel(running.cause);
      }
      if (result instanceof GenerationResult g && g.finishReason() == FinishReason.CANCELLED) {
        throw cancelled(running, null);
      }
      return result;
    } finally {
      admission.exit(entered);
    }
  }

  private static ApiError cancelled(Running running, Throwable cause) {
    ServerMetrics.Cancel why = running.cause;
    if (why == ServerMetrics.Cancel.TIMEOUT) {
      return ApiError.of(504, ApiError.TIMEOUT, "request_timeout", null, "the request ran longer than the server's"
          + " request timeout and was cancelled");
    }
    if (why == ServerMetrics.Cancel.SHUTDOWN) {
      return ApiError.retryAfter(503, ApiError.UNAVAILABLE, "shutting_down", "the server is shutting down", 5);
    }
    if (why == ServerMetrics.Cancel.CLIENT_DISCONNECTED) {
      return Admission.clientGone();
    }
    return ApiError.of(500, ApiError.SERVER, "cancelled", null, "the generation was cancelled");
  }

  /** @return whether every handler finished (its answer flushed) within the time */
  private boolean awaitHandlers(long timeoutMillis) throws InterruptedException {
    long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
    synchronized (activity) {
      while (active > 0) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        activity.wait(Math.max(1, left / 1_000_000));
      }
      return true;
    }
  }

  /**
   * Stops the server gracefully: new requests get 503 at once, running and queued requests get up to
   * {@link ServerOptions#drainTimeout()} to finish, the rest are cancelled; then the listener closes,
   * and the model if the server owns it. Idempotent; safe from any thread.
   */
  @Override
  public void close() {
    synchronized (closeLock) {
      if (closed) {
        return;
      }
      admission.drain();
      try {
        if (!awaitHandlers(options.drainTimeout().toMillis())) {
          LOG.info("vlm4j server: cancelling {} requests still running after the drain timeout", inFlight.size());
          for (Running r : inFlight) {
            r.cancel(ServerMetrics.Cancel.SHUTDOWN);
          }
          awaitHandlers(10_000);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      try {
        app.stop();
      } catch (RuntimeException e) {
        LOG.warn("stopping the HTTP listener failed: {}", e.toString());
      }
      timers.shutdownNow();
      if (ownsModel) {
        model.close();
      }
      metrics.close();
      closed = true;
      closeLock.notifyAll();
      LOG.info("vlm4j server stopped");
    }
  }
}
