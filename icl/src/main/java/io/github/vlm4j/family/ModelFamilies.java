package io.github.vlm4j.family;

import io.github.vlm4j.core.ModelLoadException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * The registry of model families by {@code model_type}: the built-ins plus any found with {@link
 * ServiceLoader} (a {@code META-INF/services/io.github.vlm4j.family.ModelFamily} entry). Thread-safe.
 */
public final class ModelFamilies {
  private static final Map<String, ModelFamily> BY_TYPE = discover();

  private ModelFamilies() {}

  private static Map<String, ModelFamily> discover() {
    Map<String, ModelFamily> m = new LinkedHashMap<>();
    List<ModelFamily> all = new ArrayList<>(List.of(new Idefics3Family(), new LlavaFamily(), new QwenVlFamily(),
        new Lfm2VlFamily(), new Gemma3Family(), new ModularFamily()));
    ServiceLoader.load(ModelFamily.class).forEach(all::add);
    for (ModelFamily f : all) {
      for (String t : f.modelTypes()) {
        m.putIfAbsent(t, f);
      }
    }
    return Map.copyOf(m);
  }

  /**
   * Returns the family of a model type.
   *
   * @param modelType {@code config.json}'s {@code model_type}
   * @param source the config file, for the message
   * @return the family
   * @throws ModelLoadException UNSUPPORTED_MODEL_TYPE listing the supported types
   */
  public static ModelFamily forType(String modelType, String source) throws ModelLoadException {
    ModelFamily f = BY_TYPE.get(modelType);
    if (f == null && "florence2".equals(modelType)) {
      throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED_MODEL_TYPE, source + " has model_type"
          + " 'florence2', an encoder-decoder model: load it with io.github.vlm4j.florence.FlorenceModel.load (chat"
          + " sessions, the server and the integrations run decoder-only models: " + supportedTypes() + ")");
    }
    if (f == null) {
      throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED_MODEL_TYPE,
          source + " has model_type '" + modelType + "', which vlm4j does not support; supported: " + supportedTypes());
    }
    return f;
  }

  /**
   * Returns the supported model types.
   *
   * @return every supported {@code model_type}, sorted
   */
  public static List<String> supportedTypes() {
    return BY_TYPE.keySet().stream().sorted().toList();
  }
}
