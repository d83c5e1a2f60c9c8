package io.github.vlm4j.core.onnx;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxTensorLike;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ModelFolder;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * One ONNX graph of a model, loaded as an ONNX Runtime session, with the inputs and outputs it
 * declares. Owns the session and its options; {@link #close()} releases both.
 *
 * <p>{@link #run} is thread-safe (ONNX Runtime allows concurrent runs on one session). Closing while
 * runs are in flight is the owner's responsibility: vlm4j's models guard it with a lifecycle lock.
 */
public final class OnnxGraph implements AutoCloseable {
  private final String file;
  private final OrtSession session;
  private final OrtSession.SessionOptions options;
  private final Map<String, TensorSpec> inputs;
  private final Map<String, TensorSpec> outputs;
  /** The outputs ONNX Runtime allocates, by set of pinned outputs (computed once per set). */
  private final Map<Set<String>, Set<String>> requestedWithout = new java.util.concurrent.ConcurrentHashMap<>();

  private OnnxGraph(String file, OrtSession session, OrtSession.SessionOptions options)
      throws OrtException {
    this.file = file;
    this.session = session;
    this.options = options;
    this.inputs = specs(session.getInputInfo());
    this.outputs = specs(session.getOutputInfo());
  }

  /**
   * Opens {@code name} from {@code folder} (a path when the folder is a directory, so external
   * {@code .onnx_data} files next to the graph are found by ONNX Runtime).
   *
   * @param folder the model folder
   * @param name relative file name, e.g. {@code onnx/decoder_model_merged.onnx}
   * @param settings session settings
   * @return the graph; the caller owns it and must close it
   * @throws ModelLoadException MISSING_FILE (listing the graphs present) or RUNTIME
   */
  public static OnnxGraph open(ModelFolder folder, String name, SessionSettings settings)
      throws ModelLoadException {
    if (!folder.exists(name)) {
      String dir = name.contains("/") ? name.substring(0, name.lastIndexOf('/')) : "";
      var present = folder.list(dir.isEmpty() ? "." : dir).stream().filter(f -> f.endsWith(".onnx")).toList();
      throw new ModelLoadException(
          ModelLoadException.Reason.MISSING_FILE,
          "missing graph " + folder.describe(name)
              + (present.isEmpty() ? "" : "; graphs present in " + dir + "/: " + present));
    }
    var path = folder.path(name);
    if (path.isPresent()) {
      // Refuse external data that leaves the folder, is missing or too short, before ORT reads it.
      OnnxFileInfo.read(path.get()).checkExternalData(folder.path(".").orElseThrow());
    }
    OrtSession.SessionOptions options = settings.newOptions();
    try {
      var env = OrtRuntime.environment();
      OrtSession session =
          path.isPresent()
              ? env.createSession(path.get().toString(), options)
              : env.createSession(folder.readBytes(name), options);
      try {
        return new OnnxGraph(name, session, options);
      } catch (OrtException e) {
        session.close();
        throw e;
      }
    } catch (OrtException e) {
      options.close();
      throw new ModelLoadException(
          ModelLoadException.Reason.RUNTIME,
          "ONNX Runtime cannot load " + folder.describe(name) + ": " + e.getMessage(), e);
    } catch (ModelLoadException | RuntimeException e) {
      options.close();
      throw e;
    }
  }

  /**
   * Opens a graph shipped as a class-path resource (vlm4j's own small helper graphs).
   *
   * @param owner class whose loader and package resolve {@code resource}
   * @param resource resource name relative to {@code owner}'s package
   * @param settings session settings
   * @return the graph; the caller owns it
   * @throws ModelLoadException RUNTIME if the resource is missing or ONNX Runtime cannot load it
   */
  public static OnnxGraph openResource(Class<?> owner, String resource, SessionSettings settings)
      throws ModelLoadException {
    byte[] bytes;
    try (var in = owner.getResourceAsStream(resource)) {
      if (in == null) {
        throw new ModelLoadException(ModelLoadException.Reason.RUNTIME, "vlm4j's class path lacks the graph "
            + owner.getPackageName() + "/" + resource + " (a broken vlm4j jar?)");
      }
      bytes = in.readAllBytes();
    } catch (java.io.IOException e) {
      throw new ModelLoadException(ModelLoadException.Reason.RUNTIME, "cannot read the graph " + resource
          + " from vlm4j's class path: " + e.getMessage(), e);
    }
    OrtSession.SessionOptions options = settings.newOptions();
    try {
      OrtSession session = OrtRuntime.environment().createSession(bytes, options);
      try {
        return new OnnxGraph(resource, session, options);
      } catch (OrtException e) {
        session.close();
        throw e;
      }
    } catch (OrtException e) {
      options.close();
      throw new ModelLoadException(ModelLoadException.Reason.RUNTIME,
          "ONNX Runtime cannot load vlm4j's graph " + resource + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      options.close();
      throw e;
    }
  }

  private static Map<String, TensorSpec> specs(Map<String, NodeInfo> infos) {
    Map<String, TensorSpec> out = new LinkedHashMap<>();
    for (var e : infos.entrySet()) {
      if (e.getValue().getInfo() instanceof TensorInfo t) {
        out.put(e.getKey(), new TensorSpec(e.getKey(), t.type, t.getShape(), t.getDimensionNames()));
      }
    }
    return Collections.unmodifiableMap(out);
  }

  /**
   * Returns the graph's file name.
   *
   * @return the file this graph was loaded from, relative to its folder
   */
  public String file() {
    return file;
  }

  /**
   * Returns the inputs the graph declares.
   *
   * @return declared inputs in graph order
   */
  public Map<String, TensorSpec> inputs() {
    return inputs;
  }

  /**
   * Returns the outputs the graph declares.
   *
   * @return declared outputs in graph order
   */
  public Map<String, TensorSpec> outputs() {
    return outputs;
  }

  /**
   * Looks up a declared input.
   *
   * @param name input name
   * @return the declared input, if any
   */
  public Optional<TensorSpec> input(String name) {
    return Optional.ofNullable(inputs.get(name));
  }

  /**
   * Looks up a declared output.
   *
   * @param name output name
   * @return the declared output, if any
   */
  public Optional<TensorSpec> output(String name) {
    return Optional.ofNullable(outputs.get(name));
  }

  /**
   * Looks up an input the graph must declare.
   *
   * @param name an input the caller needs
   * @return its spec
   * @throws ModelLoadException GRAPH_MISMATCH listing the inputs the graph does declare
   */
  public TensorSpec requireInput(String name) throws ModelLoadException {
    TensorSpec s = inputs.get(name);
    if (s == null) {
      throw mismatch("has no input '" + name + "'; its inputs are " + describe(inputs));
    }
    return s;
  }

  /**
   * Looks up an output the graph must declare.
   *
   * @param name an output the caller needs
   * @return its spec
   * @throws ModelLoadException GRAPH_MISMATCH listing the outputs the graph does declare
   */
  public TensorSpec requireOutput(String name) throws ModelLoadException {
    TensorSpec s = outputs.get(name);
    if (s == null) {
      throw mismatch("has no output '" + name + "'; its outputs are " + describe(outputs));
    }
    return s;
  }

  /**
   * Creates an exception saying this graph does not fit what vlm4j expects.
   *
   * @param problem what is wrong, completing "graph X ..."
   * @return a GRAPH_MISMATCH exception naming this graph's file
   */
  public ModelLoadException mismatch(String problem) {
    return new ModelLoadException(ModelLoadException.Reason.GRAPH_MISMATCH, file + " " + problem);
  }

  private static String describe(Map<String, TensorSpec> specs) {
    return specs.values().stream().map(TensorSpec::describe).collect(Collectors.joining(", ", "[", "]"));
  }

  /** The ONNX Runtime run option that returns a session's free CPU arena memory after a run. */
  public static final String ARENA_SHRINKAGE_KEY = "memory.enable_memory_arena_shrinkage";

  /**
   * Run options that make ONNX Runtime return a graph's free CPU arena memory to the system at the
   * end of each run ({@value #ARENA_SHRINKAGE_KEY}), for one-off runs with large activations such as
   * an image encoder's. Only for sessions that have a CPU arena (ONNX Runtime rejects the run
   * otherwise).
   *
   * @return new run options; the caller owns them and must close them
   * @throws InferenceException if ONNX Runtime cannot create them
   */
  public static OrtSession.RunOptions newArenaReleasingRunOptions() {
    try {
      OrtSession.RunOptions r = new OrtSession.RunOptions();
      r.addRunConfigEntry(ARENA_SHRINKAGE_KEY, "cpu:0");
      return r;
    } catch (OrtException e) {
      throw new InferenceException("cannot create run options", e);
    }
  }

  /**
   * Runs the graph. Outputs listed in {@code pinned} are written into the caller's tensors and are
   * not owned by the returned result; all other outputs are allocated by ONNX Runtime and owned by
   * the result (close it to free them).
   *
   * @param feeds inputs by name (exactly the declared inputs)
   * @param pinned preallocated outputs by name, may be empty
   * @param runOptions run options (for termination), may be null
   * @return the result; the caller owns it
   * @throws InferenceException naming the graph and the shapes fed
   */
  public OrtSession.Result run(
      Map<String, ? extends OnnxTensorLike> feeds,
      Map<String, ? extends OnnxValue> pinned,
      OrtSession.RunOptions runOptions) {
    try {
      if (pinned.isEmpty()) {
        return runOptions == null ? session.run(feeds) : session.run(feeds, runOptions);
      }
      Set<String> requested = requestedWithout.get(pinned.keySet());
      if (requested == null) {
        Set<String> rest = new LinkedHashSet<>(outputs.keySet());
        rest.removeAll(pinned.keySet());
        requested = Collections.unmodifiableSet(rest);
        requestedWithout.put(Set.copyOf(pinned.keySet()), requested);
      }
      return runOptions == null
          ? session.run(feeds, requested, pinned)
          : session.run(feeds, requested, pinned, runOptions);
    } catch (OrtException e) {
      throw new InferenceException(file + " failed with inputs " + describeFeeds(feeds), e);
    }
  }

  /**
   * Runs the graph computing only some of its outputs.
   *
   * @param feeds input tensors by name (owned by the caller)
   * @param requested the outputs wanted (declared outputs of this graph)
   * @param runOptions for termination, may be null
   * @return the result holding exactly the requested outputs; the caller closes it
   * @throws InferenceException if ONNX Runtime fails, with its error code
   */
  public OrtSession.Result run(Map<String, ? extends OnnxTensorLike> feeds, Set<String> requested,
      OrtSession.RunOptions runOptions) {
    try {
      return runOptions == null ? session.run(feeds, requested) : session.run(feeds, requested, runOptions);
    } catch (OrtException e) {
      throw new InferenceException(file + " failed with inputs " + describeFeeds(feeds), e);
    }
  }

  /**
   * Runs the graph, fetching all outputs.
   *
   * @param feeds inputs by name
   * @return the result; the caller owns it
   */
  public OrtSession.Result run(Map<String, ? extends OnnxTensorLike> feeds) {
    return run(feeds, Map.of(), null);
  }

  static String describeFeeds(Map<String, ? extends OnnxTensorLike> feeds) {
    return feeds.entrySet().stream()
        .map(e -> {
          if (e.getValue() instanceof OnnxTensor t) {
            TensorInfo i = t.getInfo();
            return e.getKey() + ":" + i.type + Arrays.toString(i.getShape());
          }
          return e.getKey();
        })
        .collect(Collectors.joining(", ", "{", "}"));
  }

  /** Closes the session, then its options. Idempotent. */
  @Override
  public void close() {
    try {
      session.close();
    } catch (OrtException e) {
      throw new InferenceException("closing " + file, e);
    } catch (IllegalStateException alreadyClosed) {
      // idempotent
    } finally {
      options.close();
    }
  }

  @Override
  public String toString() {
    return file + " " + describe(inputs) + " -> " + describe(outputs);
  }
}
