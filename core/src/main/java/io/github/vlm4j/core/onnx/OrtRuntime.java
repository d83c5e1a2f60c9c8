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

  private OrtRuntime() {}

  /** @return the shared environment (created on first use) */
  public static OrtEnvironment environment() {
    OrtEnvironment env = environment;
    if (env == null) {
      synchronized (OrtRuntime.class) {
        env = environment;
        if (env == null) {
          env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, "vlm4j");
          try {
            env.setTelemetry(false);
          } catch (OrtException e) {
            // Telemetry is only compiled into Windows builds; elsewhere this may be unsupported.
          }
          environment = env;
        }
      }
    }
    return env;
  }
}
