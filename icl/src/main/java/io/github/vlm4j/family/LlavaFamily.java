package io.github.vlm4j.family;

import io.github.vlm4j.ModelModule;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ConfigReader;
import io.github.vlm4j.core.model.ModelLimits;
import io.github.vlm4j.core.prompt.ChatTemplate;
import io.github.vlm4j.core.prompt.PromptAssembler;
import io.github.vlm4j.core.prompt.PromptPiece;
import io.github.vlm4j.core.onnx.TensorSpec;
import io.github.vlm4j.decoder.CausalDecoder;
import io.github.vlm4j.decoder.TokenEmbedder;
import io.github.vlm4j.projector.AdapterRegistry;
import io.github.vlm4j.projector.FusedProjector;
import io.github.vlm4j.vision.FixedSizePreprocessor;
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
  /** Creates the family (stateless: one instance loads any number of models, concurrently). */
  public LlavaFamily() {}

  @Override
  public List<String> modelTypes() {
    return List.of("llava");
  }

  @Override
  public ModelParts load(LoadContext ctx) throws ModelLoadException {
    var folder = ctx.folder();
    FixedSizePreprocessor preprocessor = FixedSizePreprocessor.read(folder);
    ConfigReader proc = ConfigReader.of(folder.readJson("processor_config.json"), folder.describe("processor_config.json"));
    String imageTokenText = proc.optText("image_token").orElse("<image>");
    if (imageTokenText.isEmpty()) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, proc.source() + ": \"image_token\" is empty");
    }
    int patch = proc.requireInt("patch_size", 1, ModelLimits.MAX_PATCH);
    int tokens = (preprocessor.frameHeight() / patch) * (preprocessor.frameWidth() / patch)
        + proc.intOr("num_additional_image_tokens", 0, 16, 0);
    if (tokens < 1 || tokens > ModelLimits.MAX_IMAGE_TOKENS) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, proc.source() + ": patch_size " + patch
          + " gives " + tokens + " image tokens for a " + preprocessor.frameHeight() + "x" + preprocessor.frameWidth()
          + " frame; expected 1 to " + ModelLimits.MAX_IMAGE_TOKENS);
    }
    var root = ctx.config();
    var index = root.rootTokenId("image_token_index");
    var id = root.rootTokenId("image_token_id");
    int imageToken = index.isPresent() ? index.getAsInt() : id.isPresent() ? id.getAsInt() : ctx.tokenId(imageTokenText);
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
