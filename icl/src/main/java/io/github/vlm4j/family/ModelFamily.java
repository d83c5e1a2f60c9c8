package io.github.vlm4j.family;

import io.github.vlm4j.core.ModelLoadException;
import java.util.List;

/**
 * A kind of model folder, selected by {@code config.json}'s {@code model_type}. A family knows its
 * files, its preprocessing and how it writes images into prompts; it loads them into {@link
 * ModelParts}. The built-ins (Idefics3/SmolVLM, LLaVA, Qwen-VL, LFM2-VL, vlm4j modular) are always present; further
 * families are found with {@link java.util.ServiceLoader} (see {@link ModelFamilies}).
 * Implementations must be stateless and thread-safe.
 */
public interface ModelFamily {
  /**
   * Returns the model types this family loads.
   *
   * @return the {@code model_type} values this family loads
   */
  List<String> modelTypes();

  /**
   * Loads the family's graphs and configs. On failure, everything opened so far is closed.
   *
   * @param ctx folder, configs, tokenizer and options
   * @return the wired parts; the caller owns them
   * @throws ModelLoadException naming the file and what disagrees
   */
  ModelParts load(LoadContext ctx) throws ModelLoadException;
}
