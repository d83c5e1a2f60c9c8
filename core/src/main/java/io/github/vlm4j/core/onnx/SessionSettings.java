package io.github.vlm4j.core.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import io.github.vlm4j.core.ModelLoadException;

/**
 * How ONNX Runtime sessions are created: threads, graph optimisation level, execution provider.
 * Immutable; build with {@link #builder()}.
 *
 * @param intraOpThreads threads per operator; 0 lets ONNX Runtime choose (physical cores)
 * @param optimizationLevel graph optimisation level
 * @param executionProvider where graphs run
 * @param cudaDeviceId CUDA device when {@code executionProvider} is {@link ExecutionProvider#CUDA}
 * @param allowSpinning whether idle intra-op threads spin (ONNX Runtime's default is yes); spinning
 *     helps back-to-back decode steps but steals cores from other work
 * @param configEntries extra ONNX Runtime session config entries (e.g. {@code
 *     session.qdq_matmulnbits_accuracy_level}), applied last
 * @param cpuMemoryArena whether ONNX Runtime keeps freed activation memory in its arena for reuse
 *     (its default; fastest) instead of returning it to the C allocator (lower peak and resident
 *     memory when prompt lengths vary)
 * @param globalThreadPool run on the process-wide pool of {@link
 *     OrtRuntime#configureGlobalThreadPool(int, boolean)} instead of a pool per session ({@code
 *     intraOpThreads} and {@code allowSpinning} are then the pool's)
 */
public record SessionSettings(
    int intraOpThreads,
    OptimizationLevel optimizationLevel,
    ExecutionProvider executionProvider,
    int cudaDeviceId,
    boolean allowSpinning,
    java.util.Map<String, String> configEntries,
    boolean cpuMemoryArena,
    boolean globalThreadPool) {

  /** Graph optimisation levels (ONNX Runtime's {@code GraphOptimizationLevel}). */
  public enum OptimizationLevel {
    /** No graph rewrites. */
    DISABLE_ALL,
    /** Constant folding and redundant node removal. */
    BASIC,
    /** Basic plus node fusions. */
    EXTENDED,
    /** Everything, including layout optimisations (the default). */
    ALL
  }

  /** Execution providers vlm4j can select. */
  public enum ExecutionProvider {
    /** The default CPU provider. */
    CPU,
    /** NVIDIA CUDA; needs the {@code com.microsoft.onnxruntime:onnxruntime_gpu} artifact. */
    CUDA
  }

  /** Defaults: ONNX Runtime's thread count, all optimisations, CPU, spinning allowed. */
  public static final SessionSettings DEFAULT =
      new SessionSettings(0, OptimizationLevel.ALL, ExecutionProvider.CPU, 0, true, java.util.Map.of(), true, false);

  /**
   * ONNX Runtime fuses weight-only int8 graphs (DequantizeLinear + MatMul) into {@code
   * MatMulNBits}; this config entry sets that kernel's compute precision: {@code "4"} (ONNX
   * Runtime's default) quantizes activations to int8 per block (fastest), {@code "1"} computes in
   * float32 (exactly the dequantized weights' result).
   */
  public static final String QDQ_MATMULNBITS_ACCURACY_LEVEL = "session.qdq_matmulnbits_accuracy_level";

  /**
   * Most intra-op threads per session (or in the global pool): {@code max(256, 4 ×
   * availableProcessors)}. More threads than cores only adds contention; each native thread costs
   * about 1 MB of stack, and every graph of a model has its own pool, so {@code 100000} would start
   * hundreds of thousands of threads.
   */
  public static final int MAX_THREADS = Math.max(256, 4 * Runtime.getRuntime().availableProcessors());
  /** Highest CUDA device id accepted: 1023. */
  public static final int MAX_CUDA_DEVICE = 1023;
  /** Longest session config key or value accepted, in characters: 4,096. */
  public static final int MAX_CONFIG_TEXT = 4096;

  /**
   * Validates the values: {@code intraOpThreads} in [0, {@link #MAX_THREADS}] (0 = ONNX Runtime's
   * choice, one per physical core), {@code cudaDeviceId} in [0, {@value #MAX_CUDA_DEVICE}], config
   * keys and values non-null, keys non-blank, both at most {@value #MAX_CONFIG_TEXT} characters.
   *
   * @param intraOpThreads threads per operator; 0 lets ONNX Runtime choose (physical cores)
   * @param optimizationLevel graph optimisation level (non-null)
   * @param executionProvider where graphs run (non-null)
   * @param cudaDeviceId CUDA device when {@code executionProvider} is {@link ExecutionProvider#CUDA}
   * @param allowSpinning whether idle intra-op threads spin
   * @param configEntries extra ONNX Runtime session config entries, applied last (copied)
   * @param cpuMemoryArena whether ONNX Runtime keeps freed activation memory in its arena
   * @param globalThreadPool run on the process-wide pool instead of a pool per session
   * @throws io.github.vlm4j.core.VlmInputException INVALID_OPTION naming the option, range and value
   */
  public SessionSettings {
    java.util.Objects.requireNonNull(configEntries, "configEntries");
    configEntries.forEach(SessionSettings::checkConfigEntry);
    configEntries = java.util.Map.copyOf(configEntries);
    checkThreads("intraOpThreads", intraOpThreads);
    if (cudaDeviceId < 0 || cudaDeviceId > MAX_CUDA_DEVICE) {
      throw invalid("cudaDeviceId must be in [0, " + MAX_CUDA_DEVICE + "], got " + cudaDeviceId);
    }
    if (optimizationLevel == null || executionProvider == null) {
      throw invalid("optimizationLevel and executionProvider must not be null");
    }
  }

  /**
   * Checks a thread count.
   *
   * @param option the option's name, for the message
   * @param n a thread count
   * @throws io.github.vlm4j.core.VlmInputException INVALID_OPTION unless in [0, {@link #MAX_THREADS}]
   */
  public static void checkThreads(String option, int n) {
    if (n < 0 || n > MAX_THREADS) {
      throw invalid(option + " must be in [0, " + MAX_THREADS + "] (0 = ONNX Runtime's choice), got " + n);
    }
  }

  private static void checkConfigEntry(String key, String value) {
    if (key == null || value == null || key.isBlank()) {
      throw invalid("session config entries need a non-blank key and a non-null value, got " + key + " = " + value);
    }
    if (key.length() > MAX_CONFIG_TEXT || value.length() > MAX_CONFIG_TEXT) {
      throw invalid("session config keys and values must have at most " + MAX_CONFIG_TEXT + " characters, got "
          + key.length() + " and " + value.length());
    }
  }

  private static io.github.vlm4j.core.VlmInputException invalid(String message) {
    return new io.github.vlm4j.core.VlmInputException(io.github.vlm4j.core.VlmInputException.Reason.INVALID_OPTION,
        message);
  }

  /**
   * Starts a builder from the defaults.
   *
   * @return a builder starting from {@link #DEFAULT}
   */
  public static Builder builder() {
    return new Builder(DEFAULT);
  }

  /**
   * Starts a builder from these settings.
   *
   * @return a builder starting from these settings
   */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /**
   * Creates session options for one session. The caller owns the result and must close it after
   * the session it configures is closed.
   *
   * @return new options
   * @throws ModelLoadException if the execution provider is not available
   */
  public OrtSession.SessionOptions newOptions() throws ModelLoadException {
    OrtSession.SessionOptions options = new OrtSession.SessionOptions();
    try {
      if (globalThreadPool) {
        if (!OrtRuntime.hasGlobalThreadPool()) {
          throw new ModelLoadException(ModelLoadException.Reason.RUNTIME,
              "the session settings ask for the global thread pool but none is configured: call"
                  + " OrtRuntime.configureGlobalThreadPool(threads, allowSpinning) before loading the first model");
        }
        options.disablePerSessionThreads();
      } else if (intraOpThreads > 0) {
        options.setIntraOpNumThreads(intraOpThreads);
      }
      options.setOptimizationLevel(
          switch (optimizationLevel) {
            case DISABLE_ALL -> OrtSession.SessionOptions.OptLevel.NO_OPT;
            case BASIC -> OrtSession.SessionOptions.OptLevel.BASIC_OPT;
            case EXTENDED -> OrtSession.SessionOptions.OptLevel.EXTENDED_OPT;
            case ALL -> OrtSession.SessionOptions.OptLevel.ALL_OPT;
          });
      if (!cpuMemoryArena) {
        options.setCPUArenaAllocator(false);
      }
      if (!allowSpinning && !globalThreadPool) {
        options.addConfigEntry("session.intra_op.allow_spinning", "0");
      }
      for (var e : new java.util.TreeMap<>(configEntries).entrySet()) {
        options.addConfigEntry(e.getKey(), e.getValue());
      }
      if (executionProvider == ExecutionProvider.CUDA) {
        if (!OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA)) {
          throw new ModelLoadException(
              ModelLoadException.Reason.RUNTIME,
              "CUDA was requested but the ONNX Runtime on the classpath has no CUDA provider"
                  + " (available: " + OrtEnvironment.getAvailableProviders() + "); depend on"
                  + " com.microsoft.onnxruntime:onnxruntime_gpu instead of onnxruntime");
        }
        options.addCUDA(cudaDeviceId);
      }
      return options;
    } catch (OrtException e) {
      options.close();
      throw new ModelLoadException(
          ModelLoadException.Reason.RUNTIME, "cannot configure ONNX Runtime: " + e.getMessage(), e);
    } catch (ModelLoadException | RuntimeException e) {
      options.close();
      throw e;
    }
  }

  /** Builder for {@link SessionSettings}. Not thread-safe. */
  public static final class Builder {
    private int intraOpThreads;
    private OptimizationLevel optimizationLevel;
    private ExecutionProvider executionProvider;
    private int cudaDeviceId;
    private boolean allowSpinning;
    private boolean globalThreadPool;
    private boolean cpuMemoryArena;
    private final java.util.Map<String, String> configEntries = new java.util.LinkedHashMap<>();

    private Builder(SessionSettings s) {
      intraOpThreads = s.intraOpThreads;
      optimizationLevel = s.optimizationLevel;
      executionProvider = s.executionProvider;
      cudaDeviceId = s.cudaDeviceId;
      allowSpinning = s.allowSpinning;
      globalThreadPool = s.globalThreadPool;
      cpuMemoryArena = s.cpuMemoryArena;
      configEntries.putAll(s.configEntries);
    }

    /**
     * Adds an ONNX Runtime session config entry.
     *
     * @param key ONNX Runtime session config key (non-blank, at most {@value #MAX_CONFIG_TEXT} characters)
     * @param value its value (non-null, at most {@value #MAX_CONFIG_TEXT} characters)
     * @return this
     * @throws io.github.vlm4j.core.VlmInputException INVALID_OPTION otherwise
     */
    public Builder configEntry(String key, String value) {
      checkConfigEntry(key, value);
      configEntries.put(key, value);
      return this;
    }

    /**
     * Sets the number of threads per operator.
     *
     * @param n threads per operator in [0, {@link #MAX_THREADS}], 0 for ONNX Runtime's default
     * @return this
     * @throws io.github.vlm4j.core.VlmInputException INVALID_OPTION otherwise
     */
    public Builder intraOpThreads(int n) {
      checkThreads("intraOpThreads", n);
      intraOpThreads = n;
      return this;
    }

    /**
     * Sets the graph optimisation level.
     *
     * @param level graph optimisation level (non-null)
     * @return this
     * @throws io.github.vlm4j.core.VlmInputException INVALID_OPTION if {@code level} is null
     */
    public Builder optimizationLevel(OptimizationLevel level) {
      if (level == null) {
        throw invalid("optimizationLevel must not be null");
      }
      optimizationLevel = level;
      return this;
    }

    /**
     * Sets where graphs run.
     *
     * @param provider execution provider (non-null)
     * @return this
     * @throws io.github.vlm4j.core.VlmInputException INVALID_OPTION if {@code provider} is null
     */
    public Builder executionProvider(ExecutionProvider provider) {
      if (provider == null) {
        throw invalid("executionProvider must not be null");
      }
      executionProvider = provider;
      return this;
    }

    /**
     * Selects CUDA on the given device.
     *
     * @param deviceId CUDA device in [0, {@value #MAX_CUDA_DEVICE}]
     * @return this
     * @throws io.github.vlm4j.core.VlmInputException INVALID_OPTION if {@code deviceId} is out of range
     */
    public Builder cuda(int deviceId) {
      if (deviceId < 0 || deviceId > MAX_CUDA_DEVICE) {
        throw invalid("cudaDeviceId must be in [0, " + MAX_CUDA_DEVICE + "], got " + deviceId);
      }
      executionProvider = ExecutionProvider.CUDA;
      cudaDeviceId = deviceId;
      return this;
    }

    /**
     * Sets whether idle intra-op threads spin.
     *
     * @param allow whether idle threads spin
     * @return this
     */
    public Builder allowSpinning(boolean allow) {
      allowSpinning = allow;
      return this;
    }

    /**
     * Sets whether sessions share the process-wide thread pool.
     *
     * @param use run on the global pool configured with {@link
     *     OrtRuntime#configureGlobalThreadPool(int, boolean)} (required before the first load)
     * @return this
     */
    public Builder globalThreadPool(boolean use) {
      globalThreadPool = use;
      return this;
    }

    /**
     * Sets whether ONNX Runtime keeps freed activation memory in its arena.
     *
     * @param use keep freed activation memory in ONNX Runtime's arena (default true)
     * @return this
     */
    public Builder cpuMemoryArena(boolean use) {
      cpuMemoryArena = use;
      return this;
    }

    /**
     * Builds the settings.
     *
     * @return the settings
     */
    public SessionSettings build() {
      return new SessionSettings(
          intraOpThreads, optimizationLevel, executionProvider, cudaDeviceId, allowSpinning, configEntries,
          cpuMemoryArena, globalThreadPool);
    }
  }
}
