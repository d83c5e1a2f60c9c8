package io.github.vlm4j.it.soak;

import io.github.vlm4j.FewShotPrompt;
import io.github.vlm4j.GenerationSession;
import io.github.vlm4j.LabelScores;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.ModelClosedException;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.VlmInputException.Reason;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.FinishReason;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import io.github.vlm4j.it.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A bounded soak: {@link SoakOptions#threads()} workers share one {@link VisionLanguageModel} per
 * reference model and send a seeded mix of greedy generations (checked against the goldens),
 * streaming generations (stream = result = golden), label scoring and few-shot requests (checked
 * against single-thread results: same ids, scores within 1e-5), cancellations from another thread
 * at random points (the request ends {@link FinishReason#CANCELLED} or with {@link
 * CancellationException} and the next request on the same session succeeds), session closes while a
 * request runs, and bad inputs (each must end with its {@link VlmInputException.Reason}). A watchdog
 * reports every request that runs longer than {@link SoakOptions#requestLimit()}. At the end every
 * worker starts one long generation and the models are closed under them: each must end with {@link
 * ModelClosedException}. Memory (RSS, heap, threads, file descriptors) is sampled throughout.
 *
 * <p><b>Thread-safety:</b> {@link #run(SoakOptions)} is self-contained (it loads, shares and closes its
 * own models); run one soak per JVM, because the RSS figures are the process's.
 */
public final class SoakHarness {
  /** The kinds of request in the mix, with their weights. */
  enum Kind {
    GENERATE(20), STREAM(12), CLASSIFY(18), FEWSHOT_GENERATE(8), CANCEL(14), SESSION_CLOSE(6), BAD_INPUT(12);

    final int weight;

    Kind(int weight) {
      this.weight = weight;
    }

    static Kind pick(Random rnd) {
      int total = Arrays.stream(values()).mapToInt(k -> k.weight).sum();
      int r = rnd.nextInt(total);
      for (Kind k : values()) {
        r -= k.weight;
        if (r < 0) {
          return k;
        }
      }
      throw new AssertionError();
    }
  }

  /** The latest moment a cancel or a session close is scheduled after its request starts. */
  private static final int MAX_INTERRUPT_DELAY_MICROS = 400_000;

  private final SoakOptions options;
  private final SoakStats stats = new SoakStats();
  private final List<ModelWorkload> workloads = new ArrayList<>();
  private final ScheduledExecutorService interrupter = new ScheduledThreadPoolExecutor(8, r -> {
    Thread t = new Thread(r, "soak-interrupter");
    t.setDaemon(true);
    return t;
  });
  private final List<Worker> workers = new ArrayList<>();
  private volatile boolean stopping;
  private byte[] png;

  private SoakHarness(SoakOptions options) {
    this.options = options;
  }

  /**
   * Loads the models, computes the single-thread references, runs the soak and closes everything.
   *
   * @param options the run's settings
   * @return what happened
   * @throws ModelLoadException if a reference model does not load
   * @throws InterruptedException if the calling thread is interrupted
   */
  public static SoakReport run(SoakOptions options) throws ModelLoadException, InterruptedException {
    return new SoakHarness(options).soak();
  }

  private SoakReport soak() throws ModelLoadException, InterruptedException {
    double rssBeforeLoad = MemorySampler.rssKb() / 1024.0;
    long tLoad = System.nanoTime();
    try {
      for (String name : options.models()) {
        VisionLanguageModel.Builder b = VisionLanguageModel.builder(Fixtures.model(name));
        if (!options.caches()) {
          b.imageCacheBytes(0).prefixCacheBytes(0);
        }
        if (!options.cpuArena()) {
          b.sessionSettings(io.github.vlm4j.core.onnx.SessionSettings.builder().cpuMemoryArena(false).build());
        }
        VisionLanguageModel model = b.build();
        try {
          workloads.add(new ModelWorkload(name, model, options.goldensPerModel(), options.seed()));
        } catch (RuntimeException e) {
          model.close();
          throw e;
        }
      }
      png = Files.readAllBytes(workloads.get(0).image);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    } catch (ModelLoadException | RuntimeException e) {
      workloads.forEach(w -> w.model.close());
      throw e;
    }
    double referenceSeconds = (System.nanoTime() - tLoad) / 1e9;
    double rssAfterReferences = MemorySampler.rssKb() / 1024.0;
    // sample times count from here: the warm-up starts with the workers
    MemorySampler memory = new MemorySampler(options.sampleEvery(),
        () -> stats.withPrefix("requests.").values().stream().mapToLong(Long::longValue).sum());
    Thread watchdog = new Thread(this::watch, "soak-watchdog");
    watchdog.setDaemon(true);
    memory.start();
    watchdog.start();
    String nmtBaseline = null;
    String nmtDiff = null;
    double rssBeforeTrim = Double.NaN;
    double rssAfterTrim = Double.NaN;
    String gcEffect = null;
    long start = System.nanoTime();
    for (int i = 0; i < options.threads(); i++) {
      Worker w = new Worker(i, new Random(options.seed() * 1_000_003L + i));
      workers.add(w);
      w.thread.start();
    }
    boolean nmt = options.diagnostics() && MemorySampler.nativeMemoryTracking();
    long warmupEnd = start + options.warmup().toNanos();
    long end = start + options.duration().toNanos();
    if (nmt && warmupEnd < end) {
      sleepUntil(warmupEnd);
      nmtBaseline = MemorySampler.jcmd("VM.native_memory", "baseline");
    }
    sleepUntil(end);
    stopping = true;
    long runNanos = System.nanoTime() - start;
    for (Worker w : workers) {
      w.thread.join(options.requestLimit().toMillis() + 10_000);
      if (w.thread.isAlive()) {
        stats.problem(SoakStats.HANG, "worker " + w.index + " did not stop: " + w.current);
      }
    }
    memory.stop();
    List<MemorySampler.Sample> runSamples = memory.samples();
    if (options.diagnostics()) {
      if (nmt) {
        nmtDiff = MemorySampler.jcmd("VM.native_memory", "summary.diff", "scale=MB");
      }
      // what of the growth is garbage: direct buffers wait for the GC to collect their owners;
      // free C-heap memory waits for malloc_trim
      MemorySampler.Sample beforeGc = memory.sample();
      System.gc();
      Thread.sleep(2000);   // the cleaners free the collected direct buffers' memory
      MemorySampler.Sample afterGc = memory.sample();
      gcEffect = String.format(java.util.Locale.ROOT, "RSS %.1f -> %.1f MB, direct buffers %.1f -> %.1f MB",
          beforeGc.rssMb(), afterGc.rssMb(), beforeGc.directMb(), afterGc.directMb());
      rssBeforeTrim = MemorySampler.rssKb() / 1024.0;
      MemorySampler.jcmd("System.trim_native_heap");
      rssAfterTrim = MemorySampler.rssKb() / 1024.0;
    }
    Map<String, Long> cacheStats = new HashMap<>();
    for (ModelWorkload w : workloads) {
      VisionLanguageModel.CacheStats c = w.model.cacheStats();
      cacheStats.put(w.name + ".imageHits", c.imageHits());
      cacheStats.put(w.name + ".prefixHits", c.prefixHits());
    }
    closeUnderRequests();
    interrupter.shutdownNow();
    stopping = true;
    return new SoakReport(options, referenceSeconds, rssBeforeLoad, rssAfterReferences, runNanos / 1e9, stats,
        runSamples, options.warmup().toSeconds(), nmtBaseline, nmtDiff, gcEffect, rssBeforeTrim, rssAfterTrim,
        cacheStats);
  }

  private static void sleepUntil(long nanoTime) throws InterruptedException {
    long left;
    while ((left = nanoTime - System.nanoTime()) > 0) {
      Thread.sleep(Math.max(1, Math.min(1000, left / 1_000_000)));
    }
  }

  /** Reports every request that has been running for longer than the limit (once per request). */
  private void watch() {
    long limit = options.requestLimit().toNanos();
    while (true) {
      try {
        Thread.sleep(500);
      } catch (InterruptedException e) {
        return;
      }
      for (Worker w : List.copyOf(workers)) {
        long began = w.began;
        if (began != 0 && System.nanoTime() - began > limit && w.reported != began) {
          w.reported = began;
          StringBuilder trace = new StringBuilder();
          for (StackTraceElement e : w.thread.getStackTrace()) {
            trace.append("\n    at ").append(e);
          }
          stats.problem(SoakStats.HANG, "worker " + w.index + " has run " + w.current + " for more than "
              + options.requestLimit().toSeconds() + " s" + trace);
        }
      }
    }
  }

  /**
   * Every worker starts a generation that would run to the context window; once each has produced a
   * token, the models are closed: each request must end with {@link ModelClosedException}, and the
   * closed models refuse new sessions.
   */
  private void closeUnderRequests() throws InterruptedException {
    CountDownLatch generating = new CountDownLatch(options.threads());
    CountDownLatch closing = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    GenerationConfig toTheWindow = GenerationConfig.builder().maxNewTokens(100_000)
        .eosTokenIds(List.of(Integer.MAX_VALUE)).build();
    for (Worker w : workers) {
      ModelWorkload mw = workloads.get(w.index % workloads.size());
      Thread t = new Thread(() -> {
        AtomicBoolean counted = new AtomicBoolean();
        w.begin("close phase on " + mw.name);
        try (GenerationSession s = mw.model.newSession()) {
          GenerationResult r = s.generate(mw.endless.messages(), toTheWindow, mw.endless.options(), new TokenStreamer() {
            @Override
            public void onText(String delta) {}

            @Override
            public void onToken(int id) {
              if (counted.compareAndSet(false, true)) {
                generating.countDown();
                try {
                  closing.await(options.requestLimit().toSeconds(), TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
            }
          });
          stats.problem(SoakStats.MISMATCH, "close phase: a request on " + mw.name + " ended " + r.finishReason()
              + " after " + r.tokenIds().length + " tokens instead of ModelClosedException");
        } catch (ModelClosedException e) {
          stats.count("closePhase.ModelClosedException");
        } catch (Throwable e) {
          stats.error("close phase on " + mw.name, e);
        } finally {
          w.end();
          if (counted.compareAndSet(false, true)) {
            generating.countDown();
          }
        }
      }, "soak-close-" + w.index);
      threads.add(t);
      t.start();
    }
    if (!generating.await(options.requestLimit().toSeconds(), TimeUnit.SECONDS)) {
      stats.problem(SoakStats.HANG, "close phase: " + generating.getCount() + " requests produced no token");
    }
    closing.countDown();
    List<Thread> closers = new ArrayList<>();
    for (ModelWorkload mw : workloads) {
      Thread c = new Thread(mw.model::close, "soak-close-model-" + mw.name);
      closers.add(c);
      c.start();
    }
    for (Thread c : closers) {
      c.join(options.requestLimit().toMillis());
      if (c.isAlive()) {
        stats.problem(SoakStats.HANG, "close phase: " + c.getName() + " did not return");
      }
    }
    for (Thread t : threads) {
      t.join(options.requestLimit().toMillis());
      if (t.isAlive()) {
        stats.problem(SoakStats.HANG, "close phase: " + t.getName() + " did not end");
      }
    }
    for (ModelWorkload mw : workloads) {
      try {
        mw.model.newSession().close();
        stats.problem(SoakStats.MISMATCH, "a closed model (" + mw.name + ") opened a session");
      } catch (ModelClosedException expected) {
        // refused, as documented
      }
    }
  }

  /** One request thread: its seeded mix, its sessions (one per model), its watchdog slot. */
  private final class Worker implements Runnable {
    final int index;
    final Random rnd;
    final Thread thread;
    final Map<ModelWorkload, GenerationSession> sessions = new HashMap<>();
    volatile long began;
    volatile long reported;
    volatile String current = "nothing";

    Worker(int index, Random rnd) {
      this.index = index;
      this.rnd = rnd;
      this.thread = new Thread(this, "soak-worker-" + index);
      this.thread.setDaemon(true);
    }

    void begin(String what) {
      current = what;
      began = System.nanoTime();
    }

    void end() {
      began = 0;
    }

    GenerationSession session(ModelWorkload w) {
      return sessions.computeIfAbsent(w, m -> m.model.newSession());
    }

    @Override
    public void run() {
      try {
        while (!stopping) {
          ModelWorkload w = workloads.get(rnd.nextInt(workloads.size()));
          Kind kind = Kind.pick(rnd);
          begin(kind + " on " + w.name);
          try {
            one(kind, w);
            stats.count("requests." + kind);
          } catch (Throwable t) {
            stats.error(current, t);
          } finally {
            end();
          }
        }
      } finally {
        sessions.values().forEach(GenerationSession::close);
      }
    }

    private void one(Kind kind, ModelWorkload w) throws Exception {
      switch (kind) {
        case GENERATE -> generate(session(w), pick(w.goldens));
        case STREAM -> stream(session(w), pick(w.goldens));
        case CLASSIFY -> classify(session(w), pick(w.classifies));
        case FEWSHOT_GENERATE -> generate(session(w), pick(w.fewShotGenerates));
        case CANCEL -> cancel(w);
        case SESSION_CLOSE -> closeSession(w);
        case BAD_INPUT -> badInput(w);
      }
    }

    private <T> T pick(List<T> list) {
      return list.get(rnd.nextInt(list.size()));
    }

    private void generate(GenerationSession s, ModelWorkload.Generate g) {
      current = "generate " + g.name();
      check(g, g.run(s, TokenStreamer.none()));
    }

    private void check(ModelWorkload.Generate g, GenerationResult r) {
      if (!Arrays.equals(r.tokenIds(), g.expectedIds()) || !r.text().equals(g.expectedText())) {
        stats.problem(SoakStats.MISMATCH, g.name() + " on worker " + index + ": got " + Arrays.toString(r.tokenIds())
            + " '" + r.text() + "' (" + r.finishReason() + "), expected " + Arrays.toString(g.expectedIds()) + " '"
            + g.expectedText() + "'");
      }
    }

    private void stream(GenerationSession s, ModelWorkload.Generate g) {
      current = "stream " + g.name();
      io.github.vlm4j.it.RecordingStreamer rec = new io.github.vlm4j.it.RecordingStreamer();
      GenerationResult r = g.run(s, rec);
      check(g, r);
      int[] streamed = rec.ids();
      if (!Arrays.equals(streamed, r.tokenIds()) || !rec.text().equals(r.text()) || rec.finishReason() != r.finishReason()) {
        stats.problem(SoakStats.MISMATCH, g.name() + " streamed " + Arrays.toString(streamed) + " '" + rec.text() + "' ("
            + rec.finishReason() + ") but returned " + Arrays.toString(r.tokenIds()) + " '" + r.text() + "' (" + r.finishReason()
            + ")");
      }
    }

    private void classify(GenerationSession s, ModelWorkload.Classify c) {
      current = "classify " + c.name();
      check(c, c.run(s));
    }

    private void check(ModelWorkload.Classify c, LabelScores got) {
      String diff = ModelWorkload.compare(got, c.expected());
      if (diff != null) {
        stats.problem(SoakStats.MISMATCH, c.name() + " on worker " + index + ": " + diff);
      }
    }

    /**
     * Cancels the session's request from another thread after a random delay. A cancelled request
     * must have produced a prefix of the single-thread ids. Then, as {@link GenerationSession#cancel()}
     * documents: a cancel that reached a running request (cancelled or not) leaves nothing behind,
     * so the next request must succeed; a cancel that found no running request makes the next
     * request end at once (cancelled), and the one after it must succeed.
     */
    private void cancel(ModelWorkload w) throws Exception {
      GenerationSession s = session(w);
      boolean scoring = rnd.nextInt(3) == 0;
      ModelWorkload.Classify c = scoring ? pick(w.classifies) : null;
      ModelWorkload.Generate g = w.endless;
      current = "cancel " + (scoring ? c.name() : g.name());
      Future<Boolean> canceller = interrupter.schedule(() -> s.cancel(), rnd.nextInt(MAX_INTERRUPT_DELAY_MICROS),
          TimeUnit.MICROSECONDS);
      boolean cancelled;
      if (scoring) {
        try {
          check(c, c.run(s));
          cancelled = false;
        } catch (CancellationException e) {
          cancelled = true;
        }
      } else {
        GenerationResult r = g.run(s, TokenStreamer.none());
        cancelled = r.finishReason() == FinishReason.CANCELLED;
        int[] expected = g.expectedIds();
        if (cancelled ? !Arrays.equals(r.tokenIds(), 0, r.tokenIds().length, expected, 0,
            Math.min(expected.length, r.tokenIds().length)) || r.tokenIds().length > expected.length : false) {
          stats.problem(SoakStats.MISMATCH, g.name() + " cancelled after " + Arrays.toString(r.tokenIds())
              + ", not a prefix of " + Arrays.toString(expected));
        } else if (!cancelled) {
          check(g, r);
        }
      }
      if (cancelled) {
        stats.count("cancel.effective");
        // the cancel() call may still be returning: the race of issue #11 item 4 hit this request
        followUp(s, w, false);
        await(canceller);
        return;
      }
      boolean pending = false;
      if (canceller.cancel(false)) {
        stats.count("cancel.notReached");
      } else {
        Boolean reachedRunning = await(canceller);
        pending = Boolean.FALSE.equals(reachedRunning);
        stats.count(pending ? "cancel.afterCompletion" : "cancel.tooLateInRequest");
      }
      followUp(s, w, pending);
    }

    /**
     * The request after a cancellation: must succeed; with {@code pendingCancel} it must instead end at
     * once as cancelled, and the one after it must succeed.
     */
    private void followUp(GenerationSession s, ModelWorkload w, boolean pendingCancel) {
      ModelWorkload.Generate g = pick(w.goldens);
      current = "after a cancel: " + g.name();
      GenerationResult r;
      try {
        r = g.run(s, TokenStreamer.none());
      } catch (InferenceException e) {
        if (!terminateFlag(e)) {
          throw e;
        }
        if (options.strictCancelRace()) {
          stats.error("the request after a cancelled one (" + g.name() + ")", e);
        } else {
          stats.problem(SoakStats.KNOWN_CANCEL_RACE, g.name() + ": " + e.getMessage());
        }
        return;
      }
      if (pendingCancel) {
        if (r.finishReason() != FinishReason.CANCELLED) {
          stats.problem(SoakStats.MISMATCH, "a cancel() that found no running request did not end the next one ("
              + g.name() + " ended " + r.finishReason() + ")");
        } else {
          stats.count("cancel.pendingConsumed");
        }
        r = g.run(s, TokenStreamer.none());
      } else if (r.finishReason() == FinishReason.CANCELLED) {
        stats.problem(SoakStats.MISMATCH, "the request after a cancellation (" + g.name() + ") was cancelled too");
        return;
      }
      check(g, r);
    }

    private <T> T await(Future<T> f) throws InterruptedException, ExecutionException {
      try {
        return f.get(options.requestLimit().toSeconds(), TimeUnit.SECONDS);
      } catch (TimeoutException e) {
        stats.problem(SoakStats.HANG, "cancel()/close() did not return within " + options.requestLimit().toSeconds() + " s");
      } catch (CancellationException e) {
        // not run
      }
      return null;
    }

    /** Closes a fresh session from another thread while (or before) it runs a request. */
    private void closeSession(ModelWorkload w) throws Exception {
      GenerationSession s = w.model.newSession();
      boolean scoring = rnd.nextBoolean();
      ModelWorkload.Generate g = pick(w.goldens);
      ModelWorkload.Classify c = pick(w.classifies);
      current = "session close during " + (scoring ? c.name() : g.name());
      Future<?> closer = interrupter.schedule(s::close, rnd.nextInt(MAX_INTERRUPT_DELAY_MICROS), TimeUnit.MICROSECONDS);
      try {
        if (scoring) {
          check(c, c.run(s));
          stats.count("sessionClose.finished");
        } else {
          GenerationResult r = g.run(s, TokenStreamer.none());
          if (r.finishReason() == FinishReason.CANCELLED) {
            stats.count("sessionClose.cancelled");
          } else {
            check(g, r);
            stats.count("sessionClose.finished");
          }
        }
      } catch (CancellationException e) {
        stats.count("sessionClose.cancelled");
      } catch (ModelClosedException e) {
        stats.count("sessionClose.closedBefore");
      } finally {
        await(closer);
        s.close();
      }
      try {
        g.run(s, TokenStreamer.none());
        stats.problem(SoakStats.MISMATCH, "a closed session ran " + g.name());
      } catch (ModelClosedException expected) {
        // refused, as documented
      }
    }

    private void badInput(ModelWorkload w) {
      GenerationSession s = session(w);
      GenerationConfig cfg = GenerationConfig.greedy(4);
      ImageInput good = ImageInput.of(w.image);
      int which = rnd.nextInt(9);
      Set<Reason> expected;
      Runnable request;
      switch (which) {
        case 0 -> {
          expected = EnumSet.of(Reason.IMAGE_CORRUPT);
          byte[] cut = Arrays.copyOf(png, png.length / 2 + rnd.nextInt(png.length / 4));
          request = () -> s.generate(List.of(Message.user(ImageInput.of(cut), "What is this?")), cfg);
        }
        case 1 -> {
          expected = EnumSet.of(Reason.IMAGE_EMPTY);
          request = () -> s.generate(List.of(Message.user(ImageInput.of(new byte[0]), "What is this?")), cfg);
        }
        case 2 -> {
          expected = EnumSet.of(Reason.IMAGE_CORRUPT, Reason.IMAGE_FORMAT_UNSUPPORTED);
          byte[] noise = new byte[64 + rnd.nextInt(4096)];
          rnd.nextBytes(noise);
          request = () -> s.generate(List.of(Message.user(ImageInput.of(noise), "What is this?")), cfg);
        }
        case 3 -> {
          expected = EnumSet.of(Reason.UNKNOWN_ADAPTER);
          request = () -> s.generate(List.of(Message.user(good, "x")), cfg,
              RequestOptions.DEFAULT.withAdapter("no-such-adapter"), TokenStreamer.none());
        }
        case 4 -> {
          expected = EnumSet.of(Reason.INVALID_PROMPT);
          request = () -> s.generate(List.of(), cfg);
        }
        case 5 -> {
          expected = EnumSet.of(Reason.PROMPT_TOO_LONG);
          String text = "circle ".repeat(w.model.textConfig().maxPositions());
          request = () -> s.generate(List.of(Message.user(good, text)), cfg);
        }
        case 6 -> {
          expected = EnumSet.of(Reason.INVALID_OPTION);
          request = () -> s.generate(List.of(Message.user(good, "hi")),
              GenerationConfig.builder().maxNewTokens(4).topP(1.5).build());
        }
        case 7 -> {
          expected = EnumSet.of(Reason.INVALID_LABELS);
          request = () -> s.classify(List.of(Message.user(good, "Is this ok?")), List.of("ok", "ok"), RequestOptions.DEFAULT);
        }
        default -> {
          expected = EnumSet.of(Reason.IMAGE_CORRUPT);
          byte[] cut = Arrays.copyOf(png, png.length / 2);
          FewShotPrompt p = FewShotPrompt.builder()
              .demo(io.github.vlm4j.Demo.of(good, "ok"))
              .demo(io.github.vlm4j.Demo.of(ImageInput.of(cut), "defective"))
              .query(good).build();
          request = () -> s.classify(p, List.of("ok", "defective"), RequestOptions.DEFAULT);
        }
      }
      current = "bad input " + which + " (expecting " + expected + ") on " + w.name;
      try {
        request.run();
        stats.problem(SoakStats.MISMATCH, current + " was accepted");
      } catch (VlmInputException e) {
        if (expected.contains(e.reason())) {
          stats.count("bad." + e.reason());
        } else {
          stats.problem(SoakStats.MISMATCH, current + " ended with " + e.reason() + ": " + e.getMessage());
        }
      }
    }
  }

  static boolean terminateFlag(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t.getMessage() != null && t.getMessage().contains("terminate flag")) {
        return true;
      }
    }
    return false;
  }
}
