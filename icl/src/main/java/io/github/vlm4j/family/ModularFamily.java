package io.github.vlm4j.family;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ConfigReader;
import io.github.vlm4j.core.model.ModelLimits;
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
import io.github.vlm4j.vision.ImageEncoder;
import io.github.vlm4j.vision.ImagePreprocessor;
import io.github.vlm4j.vision.PreprocessorConfig;
import io.github.vlm4j.vision.VisionEncoder;
import io.github.vlm4j.vision.multi.ViewsPreprocessor;
import java.util.ArrayList;
import java.util.List;

/**
 * The vlm4j modular layout ({@code model_type: vlm4j-modular}, manifest {@code vlm4j.json}, see
 * {@code docs/model-format.md}): the image encoders (version 1: one ViT-only graph; version 2: a
 * list of encoders, CNN or ViT, with their own preprocessing, layers and scales, combined as {@link
 * EncodersManifest} reads them), a separate projector graph, and named gated cross-modal adapters
 * that replace the projector per request while the encoders and the decoder stay shared.
 */
public final class ModularFamily implements ModelFamily {
  /** The manifest file name. */
  public static final String MANIFEST = "vlm4j.json";
  /**
   * The newest manifest format version this release reads: 2 (several encoders, see {@code
   * docs/model-format.md}); version 1 (one ViT) still loads unchanged.
   */
  public static final int FORMAT_VERSION = 2;

  /** Creates the family (stateless: one instance loads any number of models, concurrently). */
  public ModularFamily() {}

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
    ConfigReader mr = Manifest.read(folder);
    int version = mr.requireInt("format_version", 1, FORMAT_VERSION);
    EncodersPlan plan = version >= 2 ? EncodersManifest.read(mr) : null;
    ImagePreprocessor preprocessor = plan != null ? plan.preprocessor() : v1Preprocessor(folder, mr);
    String imageTokenText = mr.requireText("image_token");
    int tokens = mr.requireInt("tokens_per_image", 1, ModelLimits.MAX_IMAGE_TOKENS);
    int imageToken = ctx.tokenId(imageTokenText);
    ChatTemplate template = ChatTemplate.fromTokenizerConfig(folder);
    PromptAssembler assembler = new PromptAssembler(ctx.tokenizer(), imageTokenText, imageToken);
    List<PromptPiece> prefix = assembler.parseTrusted(mr.optText("image_prefix").orElse(""));
    List<PromptPiece> suffix = assembler.parseTrusted(mr.optText("image_suffix").orElse(""));
    String visionFile = plan == null ? Manifest.file(mr, "vision_encoder") : null;
    String projectorFile = Manifest.file(mr, "projector");
    String embedFile = Manifest.file(mr, "embed_tokens");
    String decoderFile = Manifest.file(mr, "decoder");
    ConfigReader adapterEntries = mr.object("adapters");
    List<String> adapterNames = new ArrayList<>();
    List<String> adapterFiles = new ArrayList<>();
    List<String> adapterDescriptions = new ArrayList<>();
    for (var it = adapterEntries.node().fieldNames(); it.hasNext(); ) {
      String name = it.next();
      ConfigReader entry = adapterEntries.object(name);
      if (!entry.has("file")) {
        throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
            folder.describe(MANIFEST) + ": adapter '" + name + "' has no \"file\"");
      }
      adapterNames.add(name);
      adapterFiles.add(entry.requireFileName("file"));
      adapterDescriptions.add(entry.optText("description").orElse(""));
    }
    int hidden = ctx.text().hiddenSize();
    try (Closer closer = new Closer()) {
      ImageEncoder vision;
      if (plan != null) {
        vision = closer.add(plan.open(ctx, (ViewsPreprocessor) preprocessor));
      } else {
        vision = closer.add(VisionEncoder.open(folder, ctx.graph(visionFile),
            ctx.settings(), preprocessor.frameHeight(), preprocessor.frameWidth()));
        checkDeclaredIo(mr.object("vision_encoder"), folder, visionFile);
      }
      checkDeclaredIo(mr.object("projector"), folder, projectorFile);
      OnnxProjector projector = closer.add(OnnxProjector.open(folder, ctx.graph(projectorFile),
          "projector", ctx.settings(), vision.outputSpec(), hidden));
      AdapterRegistry adapters = closer.add(new AdapterRegistry());
      for (int i = 0; i < adapterNames.size(); i++) {
        String name = adapterNames.get(i);
        String file = adapterFiles.get(i);
        checkDeclaredIo(adapterEntries.object(name), folder, file);
        OnnxProjector adapter = OnnxProjector.open(folder, ctx.graph(file), name, ctx.settings(), vision.outputSpec(), hidden);
        io.github.vlm4j.projector.AdapterInfo info;
        try {
          info = Adapters.info(name, adapterDescriptions.get(i), folder, file, adapter.usesQuery());
        } catch (ModelLoadException | RuntimeException e) {
          adapter.close(); // not yet owned by the registry
          throw e;
        }
        adapters.register(adapter, info); // owns it from here, even if it throws

      }
      TokenEmbedder embedder = closer.add(TokenEmbedder.open(folder, ctx.graph(embedFile), ctx.settings(), hidden));
      CausalDecoder decoder = closer.add(CausalDecoder.open(folder, ctx.graph(decoderFile), ctx.settings(), ctx.text()));
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

  /** Version 1: one fixed-size preprocessor from {@code preprocessor_config.json}. */
  private static ImagePreprocessor v1Preprocessor(ModelFolder folder, ConfigReader mr) throws ModelLoadException {
    String preFile = mr.has("preprocessor_config") ? mr.requireFileName("preprocessor_config") : null;
    PreprocessorConfig pre = preFile != null
        ? PreprocessorConfig.parse(folder.readJson(preFile), folder.describe(preFile))
        : PreprocessorConfig.read(folder);
    try {
      return new FixedSizePreprocessor(pre);
    } catch (IllegalArgumentException e) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, "preprocessor config: " + e.getMessage(), e);
    }
  }

  /**
   * Checks the manifest's documented inputs/outputs against the graph file: every declared name
   * exists and every static dimension agrees.
   */
  private static void checkDeclaredIo(ConfigReader declared, ModelFolder folder, String file) throws ModelLoadException {
    if (!declared.has("inputs") && !declared.has("outputs")) {
      return;
    }
    for (String kind : new String[] {"inputs", "outputs"}) {
      JsonNode list = declared.get(kind);
      if (declared.has(kind) && !list.isArray()) {
        throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, folder.describe(MANIFEST) + ": \""
            + kind + "\" of " + file + " must be an array of {\"name\", \"shape\"}, found " + list.getNodeType());
      }
      for (JsonNode io : list) {
        if (!io.isObject() || !io.path("name").isTextual()
            || !(io.path("shape").isMissingNode() || io.path("shape").isArray())) {
          throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, folder.describe(MANIFEST) + ": an entry of \""
              + kind + "\" of " + file + " must be {\"name\": string, \"shape\": array}, found " + abbreviate(io));
        }
      }
    }
    JsonNode entry = declared.node();
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

  private static String abbreviate(JsonNode n) {
    String t = n.toString();
    return t.length() > 80 ? t.substring(0, 77) + "..." : t;
  }

  /** Reading helpers for {@code vlm4j.json}. */
  static final class Manifest {
    /** Manifest keys naming files of the folder; each must stay inside it. */
    private static final List<String> FILE_KEYS =
        List.of("config", "generation_config", "preprocessor_config", "tokenizer", "tokenizer_config");

    private Manifest() {}

    static ConfigReader read(ModelFolder folder) throws ModelLoadException {
      if (!folder.exists(MANIFEST)) {
        throw new ModelLoadException(ModelLoadException.Reason.MISSING_FILE,
            "missing " + folder.describe(MANIFEST) + "; a vlm4j-modular model needs its manifest (docs/model-format.md)");
      }
      ConfigReader m = ConfigReader.of(folder.readJson(MANIFEST), folder.describe(MANIFEST));
      if (!"vlm4j-modular".equals(m.optText("format").orElse(null))) {
        throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
            folder.describe(MANIFEST) + ": \"format\" must be \"vlm4j-modular\", found " + m.get("format"));
      }
      int v = m.requireInt("format_version", 0, Integer.MAX_VALUE);
      if (v < 1 || v > FORMAT_VERSION) {
        throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
            folder.describe(MANIFEST) + ": format_version " + v + " is not supported; this vlm4j reads versions 1 to "
                + FORMAT_VERSION);
      }
      for (String key : FILE_KEYS) {
        if (m.has(key)) {
          m.requireFileName(key);
        }
      }
      return m;
    }

    static String file(ConfigReader m, String key) throws ModelLoadException {
      if (!m.has(key + ".file")) {
        throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
            m.source() + " has no \"" + key + "\": {\"file\": ...}");
      }
      return m.object(key).requireFileName("file");
    }
  }
}
