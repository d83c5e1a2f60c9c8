package io.github.vlm4j.family;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.onnx.Dtype;
import io.github.vlm4j.core.prompt.ChatTemplate;
import io.github.vlm4j.core.prompt.PromptAssembler;
import io.github.vlm4j.core.prompt.PromptPiece;
import io.github.vlm4j.decoder.CausalDecoder;
import io.github.vlm4j.decoder.TokenEmbedder;
import io.github.vlm4j.projector.AdapterRegistry;
import io.github.vlm4j.projector.OnnxProjector;
import io.github.vlm4j.vision.FixedSizePreprocessor;
import io.github.vlm4j.vision.PreprocessorConfig;
import io.github.vlm4j.vision.VisionEncoder;
import java.util.ArrayList;
import java.util.List;

/**
 * The vlm4j modular layout ({@code model_type: vlm4j-modular}, manifest {@code vlm4j.json}, see
 * {@code docs/model-format.md}): a ViT-only vision encoder, a separate projector graph, and named
 * gated cross-modal adapters that replace the projector per request while the vision encoder and the
 * decoder stay shared.
 */
public final class ModularFamily implements ModelFamily {
  /** The manifest file name. */
  public static final String MANIFEST = "vlm4j.json";
  /** The only manifest format version this release reads. */
  public static final int FORMAT_VERSION = 1;

  @Override
  public List<String> modelTypes() {
    return List.of("vlm4j-modular");
  }

  @Override
  public ModelParts load(LoadContext ctx) throws ModelLoadException {
    ModelFolder folder = ctx.folder();
    for (var e : ctx.dtypes().entrySet()) {
      if (e.getValue() != Dtype.FP32) {
        throw new ModelLoadException(ModelLoadException.Reason.UNSUPPORTED_DTYPE,
            "the modular layout names its graph files in " + MANIFEST + "; dtype " + e.getValue().label()
                + " for " + e.getKey().baseName() + " cannot be selected by suffix");
      }
    }
    JsonNode m = Manifest.read(folder);
    PreprocessorConfig pre = m.has("preprocessor_config")
        ? PreprocessorConfig.parse(folder.readJson(m.get("preprocessor_config").asText()),
            folder.describe(m.get("preprocessor_config").asText()))
        : PreprocessorConfig.read(folder);
    FixedSizePreprocessor preprocessor;
    try {
      preprocessor = new FixedSizePreprocessor(pre);
    } catch (IllegalArgumentException e) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, "preprocessor config: " + e.getMessage(), e);
    }
    String imageTokenText = Manifest.text(m, "image_token", folder);
    int tokens = Manifest.positiveInt(m, "tokens_per_image", folder);
    int imageToken = ctx.tokenId(imageTokenText);
    ChatTemplate template = ChatTemplate.fromTokenizerConfig(folder);
    PromptAssembler assembler = new PromptAssembler(ctx.tokenizer(), imageTokenText, imageToken);
    List<PromptPiece> prefix = assembler.parseTrusted(m.path("image_prefix").asText(""));
    List<PromptPiece> suffix = assembler.parseTrusted(m.path("image_suffix").asText(""));
    int hidden = ctx.text().hiddenSize();
    try (Closer closer = new Closer()) {
      VisionEncoder vision = closer.add(VisionEncoder.open(folder, Manifest.file(m, "vision_encoder", folder),
          ctx.settings(), preprocessor.frameHeight(), preprocessor.frameWidth()));
      checkDeclaredIo(m.path("vision_encoder"), folder, Manifest.file(m, "vision_encoder", folder));
      checkDeclaredIo(m.path("projector"), folder, Manifest.file(m, "projector", folder));
      OnnxProjector projector = closer.add(OnnxProjector.open(folder, Manifest.file(m, "projector", folder),
          "projector", ctx.settings(), vision.outputSpec(), hidden));
      AdapterRegistry adapters = closer.add(new AdapterRegistry());
      for (var it = m.path("adapters").fields(); it.hasNext(); ) {
        var e = it.next();
        String file = e.getValue().path("file").asText(null);
        if (file == null) {
          throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
              folder.describe(MANIFEST) + ": adapter '" + e.getKey() + "' has no \"file\"");
        }
        checkDeclaredIo(m.path("adapters").path(e.getKey()), folder, file);
        OnnxProjector adapter = OnnxProjector.open(folder, file, e.getKey(), ctx.settings(), vision.outputSpec(), hidden);
        adapters.register(adapter, Adapters.info(e.getKey(), e.getValue().path("description").asText(""), folder, file,
            adapter.usesQuery()));
      }
      TokenEmbedder embedder = closer.add(TokenEmbedder.open(folder, Manifest.file(m, "embed_tokens", folder),
          ctx.settings(), hidden));
      CausalDecoder decoder = closer.add(CausalDecoder.open(folder, Manifest.file(m, "decoder", folder),
          ctx.settings(), ctx.text()));
      ImageExpansion expansion = (k, img) -> {
        List<PromptPiece> p = new ArrayList<>(prefix);
        p.add(new PromptPiece.ImageTokens(k, tokens));
        p.addAll(suffix);
        return p;
      };
      ModelParts parts = new ModelParts(template, assembler, preprocessor, vision, projector, adapters, expansion,
          embedder, decoder, List.of());
      closer.release();
      return parts;
    }
  }

  /**
   * Checks the manifest's documented inputs/outputs against the graph file: every declared name
   * exists and every static dimension agrees.
   */
  private static void checkDeclaredIo(JsonNode entry, ModelFolder folder, String file) throws ModelLoadException {
    if (!entry.has("inputs") && !entry.has("outputs")) {
      return;
    }
    try (var g = io.github.vlm4j.core.onnx.OnnxGraph.open(folder, file, io.github.vlm4j.core.onnx.SessionSettings.builder()
        .intraOpThreads(1).optimizationLevel(io.github.vlm4j.core.onnx.SessionSettings.OptimizationLevel.DISABLE_ALL).build())) {
      for (String kind : new String[] {"inputs", "outputs"}) {
        for (JsonNode io : entry.path(kind)) {
          String name = io.path("name").asText();
          var spec = (kind.equals("inputs") ? g.inputs() : g.outputs()).get(name);
          if (spec == null) {
            throw g.mismatch("has no " + kind.substring(0, kind.length() - 1) + " '" + name + "' but " + MANIFEST
                + " declares it; the graph's " + kind + " are " + (kind.equals("inputs") ? g.inputs() : g.outputs()).values());
          }
          JsonNode shape = io.path("shape");
          if (shape.isArray()) {
            if (shape.size() != spec.rank()) {
              throw g.mismatch(kind.substring(0, kind.length() - 1) + " " + spec.describe() + " has rank " + spec.rank()
                  + " but " + MANIFEST + " declares " + shape);
            }
            for (int i = 0; i < shape.size(); i++) {
              if (shape.get(i).isIntegralNumber() && spec.dim(i) >= 0 && spec.dim(i) != shape.get(i).asLong()) {
                throw g.mismatch(kind.substring(0, kind.length() - 1) + " " + spec.describe() + " disagrees with "
                    + MANIFEST + "'s " + shape + " at dimension " + i);
              }
            }
          }
        }
      }
    }
  }

  /** Reading helpers for {@code vlm4j.json}. */
  static final class Manifest {
    private Manifest() {}

    static JsonNode read(ModelFolder folder) throws ModelLoadException {
      if (!folder.exists(MANIFEST)) {
        throw new ModelLoadException(ModelLoadException.Reason.MISSING_FILE,
            "missing " + folder.describe(MANIFEST) + "; a vlm4j-modular model needs its manifest (docs/model-format.md)");
      }
      JsonNode m = folder.readJson(MANIFEST);
      if (!"vlm4j-modular".equals(m.path("format").asText())) {
        throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
            folder.describe(MANIFEST) + ": \"format\" must be \"vlm4j-modular\", found " + m.get("format"));
      }
      int v = m.path("format_version").asInt(-1);
      if (v != FORMAT_VERSION) {
        throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
            folder.describe(MANIFEST) + ": format_version " + v + " is not supported; this vlm4j reads version "
                + FORMAT_VERSION);
      }
      return m;
    }

    static String file(JsonNode m, String key, ModelFolder folder) throws ModelLoadException {
      String f = m.path(key).path("file").asText(null);
      if (f == null || f.isBlank()) {
        throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
            folder.describe(MANIFEST) + " has no \"" + key + "\": {\"file\": ...}");
      }
      return f;
    }

    static String text(JsonNode m, String key, ModelFolder folder) throws ModelLoadException {
      String s = m.path(key).asText(null);
      if (s == null || s.isEmpty()) {
        throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
            folder.describe(MANIFEST) + " has no \"" + key + "\" string");
      }
      return s;
    }

    static int positiveInt(JsonNode m, String key, ModelFolder folder) throws ModelLoadException {
      int v = m.path(key).asInt(0);
      if (v <= 0) {
        throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
            folder.describe(MANIFEST) + " needs a positive \"" + key + "\"");
      }
      return v;
    }
  }
}
