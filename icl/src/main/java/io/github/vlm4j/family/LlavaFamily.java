package io.github.vlm4j.family;

import io.github.vlm4j.ModelModule;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.prompt.ChatTemplate;
import io.github.vlm4j.core.prompt.PromptAssembler;
import io.github.vlm4j.core.prompt.PromptPiece;
import io.github.vlm4j.core.onnx.TensorSpec;
import io.github.vlm4j.decoder.CausalDecoder;
import io.github.vlm4j.decoder.TokenEmbedder;
import io.github.vlm4j.projector.AdapterRegistry;
import io.github.vlm4j.projector.FusedProjector;
import io.github.vlm4j.vision.FixedSizePreprocessor;
import io.github.vlm4j.vision.PreprocessorConfig;
import io.github.vlm4j.vision.VisionEncoder;
import java.util.List;

/**
 * LLaVA-style exports: fixed-size images ({@code pixel_values [batch, 3, H, W]}), each placeholder
 * {@code <image>} expanded to {@code floor(H/patch) * floor(W/patch) + num_additional_image_tokens}
 * image tokens (from {@code processor_config.json}, as transformers.js counts them), projector fused
 * into {@code vision_encoder.onnx}. Unlike transformers.js (which expands only the first {@code
 * <image>} of a prompt), every image of a multi-image prompt is expanded, as HuggingFace Python does.
 */
public final class LlavaFamily implements ModelFamily {
  @Override
  public List<String> modelTypes() {
    return List.of("llava");
  }

  @Override
  public ModelParts load(LoadContext ctx) throws ModelLoadException {
    var folder = ctx.folder();
    PreprocessorConfig pre = PreprocessorConfig.read(folder);
    FixedSizePreprocessor preprocessor;
    try {
      preprocessor = new FixedSizePreprocessor(pre);
    } catch (IllegalArgumentException e) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
          folder.describe(PreprocessorConfig.FILE) + ": " + e.getMessage(), e);
    }
    var proc = folder.readJson("processor_config.json");
    String imageTokenText = proc.path("image_token").asText("<image>");
    int patch = proc.path("patch_size").asInt(0);
    if (patch <= 0) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
          folder.describe("processor_config.json") + " needs a positive \"patch_size\"");
    }
    int tokens = (preprocessor.frameHeight() / patch) * (preprocessor.frameWidth() / patch)
        + proc.path("num_additional_image_tokens").asInt(0);
    var root = ctx.config();
    int imageToken = root.rootInt("image_token_index").orElse(root.rootInt("image_token_id")
        .orElse(ctx.tokenId(imageTokenText)));
    ChatTemplate template = ChatTemplate.fromTokenizerConfig(folder);
    PromptAssembler assembler = new PromptAssembler(ctx.tokenizer(), imageTokenText, imageToken);
    int hidden = ctx.text().hiddenSize();
    try (Closer closer = new Closer()) {
      VisionEncoder vision = closer.add(VisionEncoder.open(folder, ctx.file(ModelModule.VISION_ENCODER),
          ctx.settings(), preprocessor.frameHeight(), preprocessor.frameWidth()));
      TensorSpec out = vision.outputSpec();
      long w = out.dim(out.rank() - 1);
      if (w >= 0 && w != hidden) {
        throw vision.graph().mismatch("outputs " + out.describe() + " of width " + w
            + " but text_config.hidden_size is " + hidden);
      }
      if (out.rank() == 3 && out.dim(1) >= 0 && out.dim(1) != tokens) {
        throw vision.graph().mismatch("outputs " + out.describe() + " with " + out.dim(1) + " tokens per image but "
            + "processor_config.json implies " + tokens + " (patch_size " + patch + ")");
      }
      TokenEmbedder embedder = closer.add(TokenEmbedder.open(folder, ctx.file(ModelModule.EMBED_TOKENS),
          ctx.settings(), hidden));
      CausalDecoder decoder = closer.add(CausalDecoder.open(folder, ctx.file(ModelModule.DECODER),
          ctx.settings(), ctx.text()));
      ImageExpansion expansion = (k, img) -> List.of(new PromptPiece.ImageTokens(k, tokens));
      ModelParts parts = new ModelParts(template, assembler, preprocessor, vision, new FusedProjector(hidden),
          new AdapterRegistry(), expansion, embedder, decoder, List.of());
      closer.release();
      return parts;
    }
  }
}
