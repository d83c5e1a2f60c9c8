package io.github.vlm4j.family;

import io.github.vlm4j.ModelModule;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ModelConfig;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.model.TextConfig;
import io.github.vlm4j.core.onnx.Dtype;
import io.github.vlm4j.core.onnx.SessionSettings;
import io.github.vlm4j.core.text.TextTokenizer;
import java.util.Map;
import java.util.TreeSet;

/**
 * What a family gets to load its parts: the folder, parsed configs, the tokenizer, and the caller's
 * dtype and session choices.
 *
 * @param folder the model folder
 * @param config {@code config.json}
 * @param text the decoder's dimensions
 * @param tokenizer the tokenizer (owned by the model, not the family)
 * @param dtypes weight precision per graph
 * @param settings ONNX Runtime session settings
 * @param progress reports each graph as it is opened (through {@link #file(ModelModule)} and {@link
 *     #graph(String)}); families call one of them right before opening each graph
 */
public record LoadContext(ModelFolder folder, ModelConfig config, TextConfig text, TextTokenizer tokenizer,
    Map<ModelModule, Dtype> dtypes, SessionSettings settings, LoadProgress progress) {

  /**
   * Reports that a graph named by the family (not by a dtype suffix, e.g. from a manifest) is about
   * to be opened.
   *
   * @param file the graph file, relative to the folder
   * @return {@code file}
   */
  public String graph(String file) {
    progress.opening(file);
    return file;
  }

  /**
   * Resolves a graph's file for the chosen dtype and reports it as about to be opened.
   *
   * @param module a graph
   * @return its file inside the folder for the chosen dtype, e.g. {@code onnx/decoder_model_merged_fp16.onnx}
   * @throws ModelLoadException UNSUPPORTED_DTYPE listing the variants present, if the file is missing
   */
  public String file(ModelModule module) throws ModelLoadException {
    Dtype d = dtypes.getOrDefault(module, Dtype.FP32);
    String file = "onnx/" + d.fileName(module.baseName());
    if (!folder.exists(file)) {
      TreeSet<String> present = new TreeSet<>();
      for (String f : folder.list("onnx")) {
        for (Dtype v : Dtype.values()) {
          if (f.equals(v.fileName(module.baseName()))) {
            present.add(v.label());
          }
        }
      }
      throw new ModelLoadException(d == Dtype.FP32 ? ModelLoadException.Reason.MISSING_FILE
          : ModelLoadException.Reason.UNSUPPORTED_DTYPE,
          "missing " + folder.describe(file) + " (dtype " + d.label() + " of " + module.baseName() + ")"
              + (present.isEmpty() ? "" : "; dtypes present for this graph: " + present));
    }
    progress.opening(file);
    return file;
  }

  /**
   * Looks up the id of an added token.
   *
   * @param token an added token the family needs
   * @return its id
   * @throws ModelLoadException MALFORMED_CONFIG if the tokenizer lacks it
   */
  public int tokenId(String token) throws ModelLoadException {
    return tokenizer.idOf(token).orElseThrow(() -> new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
        folder.describe(TextTokenizer.FILE) + " has no token '" + token + "', which a " + safeType() + " model needs"));
  }

  private String safeType() {
    try {
      return config.modelType();
    } catch (ModelLoadException e) {
      return "vision-language";
    }
  }
}
