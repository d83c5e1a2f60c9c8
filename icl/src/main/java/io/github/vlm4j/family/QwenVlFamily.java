package io.github.vlm4j.family;

import io.github.vlm4j.ModelModule;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.prompt.ChatTemplate;
import io.github.vlm4j.core.prompt.PromptAssembler;
import io.github.vlm4j.core.prompt.PromptPiece;
import io.github.vlm4j.decoder.CausalDecoder;
import io.github.vlm4j.decoder.TokenEmbedder;
import io.github.vlm4j.projector.AdapterRegistry;
import io.github.vlm4j.projector.FusedProjector;
import io.github.vlm4j.vision.PatchGridEncoder;
import io.github.vlm4j.vision.PreprocessorConfig;
import io.github.vlm4j.vision.SmartResizePreprocessor;
import java.util.List;

/**
 * Qwen2-VL, Qwen2.5-VL and Qwen3-VL exports as transformers.js runs them (onnx-community layout):
 * <ul>
 *   <li>images keep their aspect ratio: {@code smart_resize} to multiples of {@code patch × merge}
 *       pixels within {@code [min_pixels, max_pixels]} (per request with {@link
 *       io.github.vlm4j.RequestOptions#withPixelBudget}), flattened into {@code [patches, C·T·P·P]}
 *       patches and fed with their {@code [t, h, w]} grid to {@code vision_encoder.onnx};</li>
 *   <li>each {@code <|image_pad|>} the chat template writes between {@code <|vision_start|>} and
 *       {@code <|vision_end|>} becomes {@code t·h·w / merge²} image tokens;</li>
 *   <li>the decoder takes M-RoPE {@code position_ids [3, batch, sequence]} ({@link
 *       MultimodalRotaryPositions}).</li>
 * </ul>
 * Qwen2.5-VL's window attention and Qwen3-VL's position-embedding interpolation live inside their
 * vision graphs; nothing here differs between the three. Qwen3-VL's DeepStack (vision features added
 * after the decoder's first layers) runs when the graphs carry it: {@code deepstack_features} from
 * the vision graph, {@code deepstack_embeds} into the decoder ({@link CausalDecoder#INJECTED}); see
 * {@code docs/model-format.md}.
 */
public final class QwenVlFamily implements ModelFamily {
  private static final String IMAGE_PAD = "<|image_pad|>";
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(QwenVlFamily.class);

  /** Creates the family (stateless: one instance loads any number of models, concurrently). */
  public QwenVlFamily() {}

  @Override
  public List<String> modelTypes() {
    return List.of("qwen2_vl", "qwen2_5_vl", "qwen3_vl");
  }

  @Override
  public ModelParts load(LoadContext ctx) throws ModelLoadException {
    var folder = ctx.folder();
    PreprocessorConfig pre = PreprocessorConfig.read(folder);
    SmartResizePreprocessor preprocessor;
    try {
      preprocessor = new SmartResizePreprocessor(pre);
    } catch (IllegalArgumentException e) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
          folder.describe(PreprocessorConfig.FILE) + ": " + e.getMessage(), e);
    }
    int patch = preprocessor.patchSize();
    int merge = preprocessor.mergeSize();
    int temporal = preprocessor.temporalPatchSize();
    checkVisionConfig(ctx, patch, merge, temporal);
    var imageTokenId = ctx.config().rootTokenId("image_token_id");
    int imageToken = ctx.tokenId(IMAGE_PAD);
    if (imageTokenId.isPresent() && imageTokenId.getAsInt() != imageToken) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, ctx.config().source()
          + ": image_token_id is " + imageTokenId.getAsInt() + " but the tokenizer's " + IMAGE_PAD + " is " + imageToken);
    }
    ChatTemplate template = ChatTemplate.fromTokenizerConfig(folder);
    PromptAssembler assembler = new PromptAssembler(ctx.tokenizer(), IMAGE_PAD, imageToken);
    int hidden = ctx.text().hiddenSize();
    try (ParallelOpen opening = new ParallelOpen()) {
      var graphs = StandardGraphs.open(opening, ctx, () -> PatchGridEncoder.open(folder,
          ctx.file(ModelModule.VISION_ENCODER), ctx.settings(), patch, temporal, merge, hidden));
      PatchGridEncoder vision = graphs.vision();
      TokenEmbedder embedder = graphs.embedder();
      CausalDecoder decoder = graphs.decoder();
      if (!decoder.takesPositionIds() || decoder.positionAxes() != 3) {
        throw decoder.graph().mismatch("must take M-RoPE position_ids [3, batch, sequence] (a " + ctx.config().modelType()
            + " decoder); it takes " + (decoder.takesPositionIds()
                ? decoder.graph().input("position_ids").orElseThrow().describe() : "no position_ids"));
      }
      checkInjectedLayers(ctx, vision, decoder);
      ImageExpansion expansion = (k, img) -> List.of(
          new PromptPiece.ImageTokens(k, SmartResizePreprocessor.imageTokens(img, patch, temporal, merge)));
      PositionScheme positions = new MultimodalRotaryPositions(img -> {
        int[] g = SmartResizePreprocessor.gridThw(img, patch, temporal);
        return new int[] {g[0], g[1] / merge, g[2] / merge};
      });
      ModelParts parts = new ModelParts(template, assembler, preprocessor, vision, new FusedProjector(hidden),
          new AdapterRegistry(), expansion, embedder, decoder, List.of(), positions);
      opening.release();
      return parts;
    }
  }

  /**
   * DeepStack (Qwen3-VL): the vision graph's {@code deepstack_features} layers must be what the
   * decoder's {@code deepstack_embeds} takes, and what {@code vision_config.deepstack_visual_indexes}
   * lists. A folder whose graphs carry no DeepStack tensors (as transformers.js 4.3.1 runs
   * {@code qwen3_vl}) loads and runs without it; that is logged once at load.
   */
  private static void checkInjectedLayers(LoadContext ctx, PatchGridEncoder vision, CausalDecoder decoder)
      throws ModelLoadException {
    int fromVision = vision.injectedLayers();
    int intoDecoder = decoder.injectedLayers();
    if (fromVision != intoDecoder) {
      throw fromVision == 0
          ? decoder.graph().mismatch("takes " + CausalDecoder.INJECTED + " for " + intoDecoder + " layers but "
              + vision.graph().file() + " has no " + PatchGridEncoder.DEEPSTACK + " output")
          : vision.graph().mismatch("outputs " + PatchGridEncoder.DEEPSTACK + " for " + fromVision + " layers but "
              + decoder.graph().file() + (intoDecoder == 0 ? " has no " + CausalDecoder.INJECTED + " input"
                  : " takes " + CausalDecoder.INJECTED + " for " + intoDecoder));
    }
    var indexes = ctx.config().root().path("vision_config").path("deepstack_visual_indexes");
    if (indexes.isArray() && fromVision > 0 && indexes.size() != fromVision) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, ctx.config().source()
          + ": vision_config.deepstack_visual_indexes lists " + indexes.size() + " layers but the graphs carry "
          + fromVision);
    }
    if (indexes.isArray() && indexes.size() > 0 && fromVision == 0) {
      LOG.warn("{}: vision_config.deepstack_visual_indexes lists {} DeepStack layers but the graphs carry none:"
          + " the model runs without DeepStack, as transformers.js runs this layout", ctx.config().source(),
          indexes.size());
    }
  }

  /** {@code vision_config}'s patch geometry, where present, must be the preprocessor's. */
  private static void checkVisionConfig(LoadContext ctx, int patch, int merge, int temporal) throws ModelLoadException {
    checkVisionValue(ctx, "vision_config.patch_size", patch, "patch_size");
    checkVisionValue(ctx, "vision_config.spatial_merge_size", merge, "merge_size");
    checkVisionValue(ctx, "vision_config.temporal_patch_size", temporal, "temporal_patch_size");
  }

  private static void checkVisionValue(LoadContext ctx, String key, int expected, String preprocessorKey)
      throws ModelLoadException {
    int v = ctx.config().reader().intOr(key, 1, 1 << 12, -1);
    if (v >= 0 && v != expected) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, ctx.config().source() + ": " + key
          + " is " + v + " but " + ctx.folder().describe(PreprocessorConfig.FILE) + " has " + preprocessorKey + " "
          + expected);
    }
  }
}
