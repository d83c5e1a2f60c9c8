package io.github.vlm4j.spark;

import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The executor-side registry: one {@link VisionLanguageModel} per executor JVM and model source
 * (resolved folder + load options), loaded lazily by the first task that needs it and shared by
 * every later task of that JVM, then closed by a JVM shutdown hook. It also owns the small pool of
 * daemon threads on which a partition's rows run concurrently (so that they share decoder steps).
 *
 * <p>Thread-safe. The registry owns the models it loads: callers must not close them.
 */
public final class ExecutorModels {
  private static final Logger LOG = LoggerFactory.getLogger(ExecutorModels.class);
  private static final Map<String, VisionLanguageModel> MODELS = new ConcurrentHashMap<>();
  private static final AtomicLong LOADS = new AtomicLong();
  private static final AtomicInteger THREADS = new AtomicInteger();
  private static final ExecutorService ROWS = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "vlm4j-spark-row-" + THREADS.incrementAndGet());
    t.setDaemon(true);
    return t;
  });

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(ExecutorModels::closeAll, "vlm4j-spark-close-models"));
  }

  private ExecutorModels() {}

  /**
   * Returns this JVM's model for a source, loading it on first use (concurrent first uses load once).
   *
   * @param source where the folder is and how to load it
   * @return the shared model, owned by the registry
   * @throws ModelUnavailableException if the folder cannot be found or loaded, or the library refuses a
   *     load option (not cached: a later task retries)
   */
  public static VisionLanguageModel model(ModelSource source) {
    Path folder;
    try {
      folder = source.resolveFolder();
    } catch (ModelLoadException e) {
      throw unavailable(source, e);
    }
    String key = source.key(folder);
    VisionLanguageModel m = MODELS.get(key);
    if (m != null) {
      return m;
    }
    synchronized (ExecutorModels.class) {
      m = MODELS.get(key);
      if (m == null) {
        try {
          long t0 = System.nanoTime();
          m = source.load(folder);
          LOADS.incrementAndGet();
          LOG.info("loaded {} in {} ms", key, (System.nanoTime() - t0) / 1_000_000);
        } catch (ModelLoadException | RuntimeException e) {
          throw unavailable(source, e);   // e.g. a dtype or thread count the library refuses
        }
        MODELS.put(key, m);
      }
      return m;
    }
  }

  private static ModelUnavailableException unavailable(ModelSource source, Exception e) {
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException u) {
      host = "unknown host";
    }
    return new ModelUnavailableException("cannot load model " + source + " on executor host " + host + ": "
        + (e instanceof ModelLoadException l ? l.reason() + ": " : "") + e.getMessage(), e);
  }

  /**
   * Returns how many models this JVM has loaded since it started (a model closed by
   * {@link #closeAll()} and loaded again counts twice).
   *
   * @return the number of loads
   */
  public static long loadCount() {
    return LOADS.get();
  }

  /**
   * Returns the keys of the models loaded now.
   *
   * @return resolved folder and load options of each loaded model
   */
  public static List<String> loadedModels() {
    return new ArrayList<>(MODELS.keySet());
  }

  /**
   * Closes and forgets every loaded model (each waits for its running requests, which stop at their
   * next step). Called by the shutdown hook; tests call it between cases.
   */
  static synchronized void closeAll() {
    for (String key : new ArrayList<>(MODELS.keySet())) {
      VisionLanguageModel m = MODELS.remove(key);
      if (m != null) {
        try {
          m.close();
        } catch (RuntimeException e) {
          LOG.warn("closing {} failed", key, e);
        }
      }
    }
  }

  /** @return the shared pool on which a partition's rows in flight run */
  static ExecutorService rowThreads() {
    return ROWS;
  }
}
