package io.github.vlm4j.decoder;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxTensorLike;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.onnx.Tensors;
import io.github.vlm4j.decoder.generation.TokenFeed;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Continuous batching of decode steps: the sequences of all requests generating at the same time on
 * one decoder share each decoder run, one row each, so the decoder's weights are read once per step
 * for all of them. A sequence joins after its own prefill (its KV cache moves into the batch's, whose
 * rows are left-padded to a common length and masked by {@code attention_mask}; each row has its
 * own {@code position_ids}) and leaves when it finishes, without stopping the others.
 *
 * <p>Everything that makes a sequence differ (sampling, logits processors, constraints, stop
 * strings, streaming, cancellation, timings) stays with its caller: a caller feeds its chosen token
 * through {@link Sequence#feed} and gets its row's logits back. There is no scheduler thread: the
 * last caller of a step to hand in its token runs the step, the others wait for it. A sequence that
 * is the only active one steps alone on its own state, exactly as without batching, and joins the
 * batch at its next step once another sequence is active.
 *
 * <p>The KV cache never passes through Java: a step's {@code present.*} tensors are fed to the next
 * step as they are; when a sequence joins or leaves, the rows are concatenated or selected by tiny
 * ONNX graphs ({@link KvRows}) — the only copies of the cache. <b>Memory bound:</b> at most {@code
 * maxBatch} rows and {@code maxBatchTokens} padded positions (rows × longest row) are in the batch;
 * a sequence that would exceed either waits (its caller blocks) until others leave. While rows are
 * joined or removed the old and the new cache coexist, so the peak is twice the bound. A sequence
 * is always admitted into an empty batch.
 *
 * <p>Requires a decoder that takes {@code position_ids} ({@link #supports}). Thread-safe; owns the
 * batch's cache; {@link #close()} frees it.
 */
public final class DecodeBatcher implements AutoCloseable {
  /** Default most rows per step. */
  public static final int DEFAULT_MAX_BATCH = 8;

  private final CausalDecoder decoder;
  private final TokenEmbedder embedder;
  private final int maxBatch;
  private final long maxBatchTokens;
  private final int vocab;
  private final KvRows kvRows;
  private final OrtSession.RunOptions runOptions;
  private final ByteBuffer logits;
  /** Sequences between {@link #sequence} and their close, in the batch or stepping alone. */
  private final java.util.concurrent.atomic.AtomicInteger active = new java.util.concurrent.atomic.AtomicInteger();
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  // guarded by lock
  private final List<Row> rows = new ArrayList<>();
  private final ArrayDeque<Row> joining = new ArrayDeque<>();
  private boolean running;
  private boolean closed;
  private long steps;
  private long rowSteps;
  private int largestBatch;
  private long largestBatchTokens;
  private long joins;
  private long cacheCopies;
  // owned by the thread running a step (running == true), or by the lock holder otherwise
  private OnnxTensor[] kv;
  private final List<AutoCloseable> kvOwners = new ArrayList<>();
  private int padded;
  private LongBuffer idsBuf = Tensors.directLongs(DEFAULT_MAX_BATCH);
  private LongBuffer positionsBuf = Tensors.directLongs(DEFAULT_MAX_BATCH);
  private LongBuffer maskBuf = Tensors.directLongs(4096);

  private DecodeBatcher(CausalDecoder decoder, TokenEmbedder embedder, int maxBatch, long maxBatchTokens) {
    this.decoder = decoder;
    this.embedder = embedder;
    this.maxBatch = maxBatch;
    this.maxBatchTokens = maxBatchTokens;
    this.vocab = decoder.config().vocabSize();
    this.kvRows = decoder.kvRows();
    this.logits = ByteBuffer.allocateDirect(Math.multiplyExact(maxBatch * vocab, decoder.logitsBytes()))
        .order(ByteOrder.nativeOrder());
    try {
      this.runOptions = new OrtSession.RunOptions();
    } catch (OrtException e) {
      throw new InferenceException("cannot create run options", e);
    }
  }

  /**
   * Tells whether a decoder can batch: it must take {@code position_ids} (rows are left-padded, so
   * positions cannot be derived from the cache length) and the embedder must produce the decoder's
   * input type.
   *
   * @param decoder the decoder
   * @param embedder its token embedder
   * @return whether {@link #open} accepts them
   */
  public static boolean supports(CausalDecoder decoder, TokenEmbedder embedder) {
    return decoder.takesPositionIds() && embedder.outputType() == decoder.embedsType();
  }

  /**
   * Creates a batcher for one decoder.
   *
   * @param decoder the decoder (not owned)
   * @param embedder its token embedder (not owned)
   * @param maxBatch most rows per step, >= 1
   * @param maxBatchTokens most padded positions (rows × longest row) in the batch, at least the
   *     context window
   * @return the batcher; the caller owns it (the helper graphs belong to the decoder)
   * @throws IllegalArgumentException if the decoder cannot batch or a bound is out of range
   */
  public static DecodeBatcher open(CausalDecoder decoder, TokenEmbedder embedder, int maxBatch, long maxBatchTokens) {
    if (!supports(decoder, embedder)) {
      throw new IllegalArgumentException("the decoder " + decoder.graph().file() + " cannot batch: it must take"
          + " position_ids and its input type must be the embedder's");
    }
    if (maxBatch < 1 || maxBatch > 1024) {
      throw new IllegalArgumentException("maxBatch must be in 1..1024, got " + maxBatch);
    }
    if (maxBatchTokens < decoder.config().maxPositions()) {
      throw new IllegalArgumentException("maxBatchTokens must be at least the context window ("
          + decoder.config().maxPositions() + "), got " + maxBatchTokens);
    }
    return new DecodeBatcher(decoder, embedder, maxBatch, maxBatchTokens);
  }

  /**
   * Returns the most rows per step.
   *
   * @return the most rows per step
   */
  public int maxBatch() {
    return maxBatch;
  }

  /**
   * Returns the bound on padded positions.
   *
   * @return the most padded positions (rows × longest row) held in the batch
   */
  public long maxBatchTokens() {
    return maxBatchTokens;
  }

  /**
   * Prepares a sequence whose prompt is in {@code state}. Nothing moves until the first {@link
   * Sequence#feed}: then the state's cache moves into the batch and the state cannot append any more
   * (it must still be closed by its owner).
   *
   * @param state a state of this batcher's decoder holding the prompt
   * @return the sequence; the caller owns it and must close it when the sequence ends
   */
  public Sequence sequence(DecoderState state) {
    return sequence(state, () -> false);
  }

  /**
   * Prepares a sequence that can be stopped while it waits for a place in the batch.
   *
   * @param state a state of this batcher's decoder holding the prompt
   * @param stop polled (every {@value #STOP_POLL_MILLIS} ms) while the sequence waits to be admitted
   *     into a full batch; true makes its {@link Sequence#feed} throw {@link
   *     java.util.concurrent.CancellationException} and frees its cache
   * @return the sequence; the caller owns it and must close it when the sequence ends
   */
  public Sequence sequence(DecoderState state, java.util.function.BooleanSupplier stop) {
    java.util.Objects.requireNonNull(stop, "stop");
    active.incrementAndGet();
    return new Sequence(state, stop);
  }

  /** How often a sequence waiting to join a full batch checks whether it was stopped. */
  public static final long STOP_POLL_MILLIS = 20;

  /**
   * Counters since the batcher was created.
   *
   * @param steps decoder runs of the batch
   * @param rowSteps sum over steps of the rows in the step (tokens decoded)
   * @param largestBatch most rows in one step
   * @param largestBatchTokens most padded positions (rows × longest row) fed to one step
   * @param joins sequences that joined
   * @param cacheCopies times the batch's cache was copied (rows joining a non-empty batch or
   *     leaving it; never per step)
   */
  public record Stats(long steps, long rowSteps, int largestBatch, long largestBatchTokens, long joins,
      long cacheCopies) {
    /**
     * Returns the mean number of rows per step.
     *
     * @return rows per step on average, 0 before the first step
     */
    public double meanBatch() {
      return steps == 0 ? 0 : (double) rowSteps / steps;
    }
  }

  /**
   * Returns the counters.
   *
   * @return the counters so far
   */
  public Stats stats() {
    lock.lock();
    try {
      return new Stats(steps, rowSteps, largestBatch, largestBatchTokens, joins, cacheCopies);
    } finally {
      lock.unlock();
    }
  }

  /**
   * One sequence in the batch. Not thread-safe: used by the thread generating it ({@link #close()}
   * may come from any thread once no {@link #feed} runs).
   */
  public final class Sequence implements TokenFeed, AutoCloseable {
    private final Row row;
    private boolean closed;

    private Sequence(DecoderState state, java.util.function.BooleanSupplier stop) {
      this.row = new Row(state, stop);
    }

    /**
     * Feeds the chosen token. While no other sequence of this batcher is active, the sequence steps
     * alone on its own decoder state (exactly as without batching); from the first step at which
     * another one is active, it joins the shared batch for the rest of its generation, feeds its
     * token in the next shared step and waits for it.
     *
     * @param token the chosen token id
     * @return this sequence's logits after the token (an internal array reused by the next call)
     * @throws InferenceException if the step fails (every sequence of that step gets the error and
     *     leaves the batch) or the batcher is closed
     */
    @Override
    public float[] feed(int token) {
      if (!row.queued && active.get() == 1) {
        return row.state.appendToken(token, embedder);
      }
      return DecodeBatcher.this.feed(row, token);
    }

    /** Leaves the batch (its rows are dropped before the next step). Idempotent. */
    @Override
    public void close() {
      if (!closed) {
        closed = true;
        active.decrementAndGet();
        leave(row);
      }
    }
  }

  /** A sequence's row; guarded by the batcher's lock. */
  private static final class Row {
    final DecoderState state;
    final java.util.function.BooleanSupplier stop;
    DecoderState.MovedCache cache;
    int length;
    /** Position id of the row's next token minus {@link #length}. */
    long positionDelta;
    int token;
    boolean queued;
    boolean decided;
    boolean served;
    boolean leaving;
    boolean gone;
    RuntimeException failure;
    float[] logits;

    Row(DecoderState state, java.util.function.BooleanSupplier stop) {
      this.state = state;
      this.stop = stop;
    }
  }

  private float[] feed(Row row, int token) {
    boolean interrupted = false;
    lock.lock();
    try {
      if (row.gone) {
        throw new IllegalStateException("this sequence has left the batch");
      }
      checkOpen();
      if (!row.queued) {
        if (row.state.decoder() != decoder) {
          throw new IllegalArgumentException("the decoder state belongs to another decoder");
        }
        row.cache = row.state.moveCache();
        row.length = row.cache.length();
        row.positionDelta = row.cache.positionDelta();
        row.logits = new float[vocab];
        row.queued = true;
        joining.add(row);
      }
      row.token = token;
      row.decided = true;
      row.served = false;
      while (!row.served) {
        if (row.failure != null) {
          RuntimeException f = row.failure;
          row.gone = true;
          throw new InferenceException("the batched decode step failed: " + f.getMessage(), f);
        }
        checkOpen();
        boolean waitingToJoin = joining.contains(row);
        if (waitingToJoin && row.stop.getAsBoolean()) {
          joining.remove(row);
          closeQuietly(row.cache.owner());
          row.cache = null;
          row.gone = true;
          changed.signalAll();
          throw new java.util.concurrent.CancellationException("stopped while waiting for a place in the shared batch");
        }
        if (canAdvance()) {
          advance();
        } else if (waitingToJoin) {
          interrupted |= awaitQuietly(STOP_POLL_MILLIS);
        } else {
          changed.awaitUninterruptibly();
        }
      }
      return row.logits;
    } finally {
      lock.unlock();
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Lock held: waits for a change or the time, as uninterruptibly as the other waits.
   *
   * @return whether the thread was interrupted (the caller restores the status before returning)
   */
  private boolean awaitQuietly(long millis) {
    boolean interrupted = Thread.interrupted();
    try {
      changed.await(millis, java.util.concurrent.TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      interrupted = true;
    }
    return interrupted;
  }

  private void checkOpen() {
    if (closed) {
      throw new InferenceException("the batched decoder is closed");
    }
  }

  private void leave(Row row) {
    lock.lock();
    try {
      if (row.gone || !row.queued) {
        row.gone = true;
        return;
      }
      row.gone = true;
      if (joining.remove(row)) {
        closeQuietly(row.cache.owner());
        row.cache = null;
        changed.signalAll();
        return;
      }
      row.leaving = true;
      if (!running && rows.stream().allMatch(r -> r.leaving) && joining.isEmpty()) {
        rows.clear();
        freeCache();   // nobody is left to run a step: free the cache now
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Lock held: no step runs and every row in the batch has handed in its token or left. */
  private boolean canAdvance() {
    if (running || closed || (rows.isEmpty() && joining.isEmpty())) {
      return false;
    }
    for (Row r : rows) {
      if (!r.leaving && !r.decided) {
        return false;
      }
    }
    return true;
  }

  /**
   * Lock held on entry and on return: drops the rows that left, admits waiting sequences within the
   * bounds, runs one step for the batch (without the lock) and hands out the logits.
   */
  private void advance() {
    running = true;
    List<Row> keep = new ArrayList<>();
    List<Integer> keepIndex = new ArrayList<>();
    for (int i = 0; i < rows.size(); i++) {
      if (!rows.get(i).leaving) {
        keep.add(rows.get(i));
        keepIndex.add(i);
      }
    }
    boolean compact = keep.size() < rows.size();
    int longest = keep.stream().mapToInt(r -> r.length).max().orElse(0);
    List<Row> admitted = new ArrayList<>();
    while (!joining.isEmpty()) {
      Row j = joining.peek();
      int n = keep.size() + admitted.size() + 1;
      long tokens = (long) n * (Math.max(longest, j.length) + 1);
      if (n > 1 && (n > maxBatch || tokens > maxBatchTokens)) {
        break;
      }
      joining.poll();
      admitted.add(j);
      longest = Math.max(longest, j.length);
    }
    List<Row> batch = new ArrayList<>(keep);
    batch.addAll(admitted);
    lock.unlock();
    RuntimeException failure = null;
    try {
      if (compact) {
        compact(keepIndex.stream().mapToInt(Integer::intValue).toArray(), keep);
      }
      for (Row j : admitted) {
        merge(j);
      }
      if (!batch.isEmpty()) {
        step(batch);
      }
    } catch (RuntimeException e) {
      failure = e;
    } catch (OutOfMemoryError e) {
      failure = new InferenceException("out of memory in a batched decode step of " + batch.size() + " rows", e);
    } finally {
      lock.lock();
      rows.clear();
      if (failure != null) {
        for (Row r : batch) {
          r.failure = failure;
        }
        freeCache();   // the batch's cache may be half-updated: every row of it leaves
      } else {
        rows.addAll(batch);
        for (Row r : batch) {
          r.decided = false;
          r.served = true;
        }
      }
      running = false;
      if (closed) {
        freeCache();
      }
      changed.signalAll();
    }
  }

  /** Keeps the rows at {@code index} (all of them, in order, are {@code keep}). */
  private void compact(int[] index, List<Row> keep) {
    if (index.length == 0) {
      freeCache();
      return;
    }
    int longest = keep.stream().mapToInt(r -> r.length).max().orElseThrow();
    List<AutoCloseable> owners = new ArrayList<>();
    OnnxTensor[] next = new OnnxTensor[kv.length];
    try {
      for (int i = 0; i < kv.length; i++) {
        OrtSession.Result r = kvRows.select(decoder.cacheEntry(i), kv[i], index, padded - longest, runOptions);
        owners.add(r);
        next[i] = KvRows.out(r);
      }
    } catch (RuntimeException e) {
      owners.forEach(DecodeBatcher::closeQuietly);
      throw e;
    }
    cacheCopies++;
    replaceCache(next, owners, longest);
  }

  /** Appends the rows of a sequence that joins. */
  private void merge(Row j) {
    DecoderState.MovedCache c = j.cache;
    j.cache = null;
    joins++;   // benign: only the running thread writes it, readers take the lock after
    if (kv == null) {
      kv = c.past();
      kvOwners.add(c.owner());
      padded = c.length();
      return;
    }
    List<AutoCloseable> owners = new ArrayList<>();
    OnnxTensor[] next = new OnnxTensor[kv.length];
    try {
      for (int i = 0; i < kv.length; i++) {
        OrtSession.Result r = kvRows.concat(decoder.cacheEntry(i), kv[i], c.past()[i], runOptions);
        owners.add(r);
        next[i] = KvRows.out(r);
      }
    } catch (RuntimeException e) {
      owners.forEach(DecodeBatcher::closeQuietly);
      closeQuietly(c.owner());
      throw e;
    }
    closeQuietly(c.owner());
    cacheCopies++;
    replaceCache(next, owners, Math.max(padded, c.length()));
  }

  private void replaceCache(OnnxTensor[] next, List<AutoCloseable> owners, int length) {
    kvOwners.forEach(DecodeBatcher::closeQuietly);
    kvOwners.clear();
    kvOwners.addAll(owners);
    kv = next;
    padded = length;
  }

  private void freeCache() {
    kvOwners.forEach(DecodeBatcher::closeQuietly);
    kvOwners.clear();
    kv = null;
    padded = 0;
  }

  /** One decoder run for every row of the batch; the rows' logits are read into their arrays. */
  private void step(List<Row> batch) {
    int b = batch.size();
    int total = padded + 1;
    if (idsBuf.capacity() < b) {
      idsBuf = Tensors.directLongs(maxBatch);
      positionsBuf = Tensors.directLongs(maxBatch);
    }
    if (maskBuf.capacity() < (long) b * total) {
      maskBuf = Tensors.directLongs(Math.multiplyExact(Math.max(b, 2), Math.max(total * 2, 1024)));
    }
    LongBuffer ids = idsBuf.duplicate().position(0).limit(b);
    LongBuffer positions = positionsBuf.duplicate().position(0).limit(b);
    LongBuffer mask = maskBuf.duplicate().position(0).limit(b * total);
    for (int r = 0; r < b; r++) {
      Row row = batch.get(r);
      ids.put(r, row.token);
      positions.put(r, row.length + row.positionDelta);
      int pad = padded - row.length;
      for (int t = 0; t < total; t++) {
        mask.put(r * total + t, t < pad ? 0 : 1);
      }
    }
    ByteBuffer out = logits.duplicate().order(ByteOrder.nativeOrder());
    out.limit(b * vocab * decoder.logitsBytes());
    try (OnnxTensor idsTensor = Tensors.longs(ids, b, 1);
         OnnxTensor posTensor = decoder.positionsTensor(positions, b, 1);
         OnnxTensor maskTensor = Tensors.longs(mask, b, total);
         OnnxTensor pinned = decoder.logitsType() == OnnxJavaType.FLOAT16
             ? Tensors.halfs(out.asShortBuffer(), b, 1, vocab) : Tensors.floats(out.asFloatBuffer(), b, 1, vocab);
         OnnxTensor injected = decoder.injectedLayers() == 0 ? null : decoder.injectedStepZeros(b);
         OrtSession.Result embeds = embedder.run(idsTensor, runOptions)) {
      Map<String, OnnxTensorLike> feeds = new HashMap<>();
      feeds.put("inputs_embeds", (OnnxTensor) embeds.get(0));
      feeds.put("attention_mask", maskTensor);
      feeds.put("position_ids", posTensor);
      if (injected != null) {
        feeds.put(CausalDecoder.INJECTED, injected);   // decode steps add nothing
      }
      for (int i = 0; i < decoder.kvEntries(); i++) {
        feeds.put(decoder.pastName(i), kv[i]);
      }
      OrtSession.Result r = decoder.graph().run(feeds, Map.of("logits", pinned), runOptions);
      OnnxTensor[] next = new OnnxTensor[kv.length];
      for (int i = 0; i < next.length; i++) {
        next[i] = (OnnxTensor) r.get(decoder.presentName(i)).orElseThrow();
      }
      replaceCache(next, List.of(r::close), total);
    }
    for (int r = 0; r < b; r++) {
      Row row = batch.get(r);
      row.length++;
      decoder.readLogits(logits, r * vocab, row.logits, 0, vocab);
    }
    steps++;   // only the running thread writes these; readers take the lock after
    rowSteps += b;
    largestBatch = Math.max(largestBatch, b);
    largestBatchTokens = Math.max(largestBatchTokens, (long) b * total);
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception e) {
      // closing native results does not fail in practice; nothing more to free
    }
  }

  /**
   * Stops a running step, fails the sequences waiting for it and frees the batch's cache and
   * graphs. Waits (at most 30 s) for a running step to return. Idempotent.
   */
  @Override
  public void close() {
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      try {
        runOptions.setTerminate(true);
      } catch (OrtException e) {
        // the step then ends on its own
      }
      changed.signalAll();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (running && System.nanoTime() < deadline) {
        try {
          changed.awaitNanos(deadline - System.nanoTime());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
      if (running) {
        return;   // the step's thread frees the cache when it returns; graphs stay open
      }
      freeCache();
      for (Row r : joining) {
        closeQuietly(r.cache.owner());
      }
      joining.clear();
      rows.clear();
      runOptions.close();
    } finally {
      lock.unlock();
    }
  }
}
