package io.github.vlm4j.core.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;

/**
 * The process-wide ONNX Runtime environment, created once with telemetry off and never closed (ONNX
 * Runtime allows one environment per process; closing it while sessions exist is unsafe).
 *
 * <p>Note for Linux users: {@code setTelemetry(false)} alone does not stop ONNX Runtime 1.2x from
 * contacting its telemetry endpoint; also set the environment variable {@code
 * ORT_DISABLE_TELEMETRY=1} before the JVM starts (see the README).
 *
 * <p>Thread-safe.
 */
public final class OrtRuntime {
  private static volatile OrtEnvironment environment;
  private static volatile boolean globalThreadPool;

  private OrtRuntime() {}

  /**
   * Creates the environment with one global intra-op thread pool that every session created with
   * {@link SessionSettings.Builder#globalThreadPool(boolean)} shares — the vision encoder, token
   * embedder, decoder and adapters of every model in the process — instead of a pool per session.
   * Must be called before the first model is loaded (before anything in the process uses ONNX
   * Runtime).
   *
   * @param intraOpThreads threads of the pool in [0, {@link SessionSettings#MAX_THREADS}]; 0 lets
   *     ONNX Runtime choose (physical cores)
   * @param allowSpinning whether idle pool threads spin
   * @throws IllegalStateException if the environment already exists
   * @throws io.github.vlm4j.core.VlmInputException INVALID_OPTION for a thread count out of range
   */
  public static void configureGlobalThreadPool(int intraOpThreads, boolean allowSpinning) {
    SessionSettings.checkThreads("intraOpThreads", intraOpThreads);
    synchronized (OrtRuntime.class) {
      if (environment != null) {
        throw new IllegalStateException("the ONNX Runtime environment already exists (a model was loaded or ONNX"
            + " Runtime was used before); configure the global thread pool first");
      }
      try (OrtEnvironment.ThreadingOptions t = new OrtEnvironment.ThreadingOptions()) {
        if (intraOpThreads > 0) {
          t.setGlobalIntraOpNumThreads(intraOpThreads);
        }
        t.setGlobalInterOpNumThreads(1);
        t.setGlobalSpinControl(allowSpinning);
        environment = telemetryOff(OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, "vlm4j", t));
        globalThreadPool = true;
      } catch (OrtException e) {
        throw new IllegalStateException("ONNX Runtime refused the global thread pool options: " + e.getMessage(), e);
      }
    }
  }

  /**
   * Tells whether sessions can share a global thread pool.
   *
   * @return whether the environment was created with a global thread pool
   */
  public static boolean hasGlobalThreadPool() {
    return globalThreadPool;
  }

  private static OrtEnvironment telemetryOff(OrtEnvironment env) {
    try {
      env.setTelemetry(false);
    } catch (OrtException e) {
      // Telemetry is only compiled into Windows builds; elsewhere this may be unsupported.
    }
    return env;
  }

  /**
   * Returns the process-wide ONNX Runtime environment.
   *
   * @return the shared environment (created on first use)
   */
  public static OrtEnvironment environment() {
    OrtEnvironment env = environment;
    if (env == null) {
      synchronized (OrtRuntime.class) {
        env = environment;
        if (env == null) {
          env = telemetryOff(OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, "vlm4j"));
          environment = env;
        }
      }
    }
    return env;
  }
}
