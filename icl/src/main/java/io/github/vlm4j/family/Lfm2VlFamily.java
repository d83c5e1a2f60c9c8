package io.github.vlm4j.family;

import io.github.vlm4j.ModelModule;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ConfigReader;
import io.github.vlm4j.core.prompt.ChatTemplate;
import io.github.vlm4j.core.prompt.PromptAssembler;
import io.github.vlm4j.core.prompt.PromptPiece;
import io.github.vlm4j.decoder.CausalDecoder;
import io.github.vlm4j.decoder.TokenEmbedder;
import io.github.vlm4j.projector.AdapterRegistry;
import io.github.vlm4j.projector.FusedProjector;
import io.github.vlm4j.vision.ImageLayout;
import io.github.vlm4j.vision.Lfm2VlPreprocessor;
import io.github.vlm4j.vision.PaddedPatchEncoder;
import io.github.vlm4j.vision.PreprocessorConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * LFM2-VL exports as transformers.js 4.3.1 runs them (onnx-community layout, {@code
 * Lfm2VlForConditionalGeneration}):
 * <ul>
 *   <li>images are smart-resized, or for large ones cut into {@code tile_size} tiles plus a
 *       thumbnail ({@link Lfm2VlPreprocessor}), and encoded with their patch grids by {@code
 *       vision_encoder.onnx} ({@link PaddedPatchEncoder}; the projector is inside it);</li>
 *   <li>each {@code <image>} the chat template writes becomes {@code <|image_start|>}, then per tile
 *       {@code <|img_row_r_col_c|>} and the tile's image tokens, then {@code <|img_thumbnail|>} and
 *       the thumbnail's (or just the image's tokens when it was not tiled), then {@code
 *       <|image_end|>}, as transformers.js's {@code Lfm2VlProcessor} writes it;</li>
 *   <li>the decoder is LFM2's hybrid: convolution layers cache a fixed-size state ({@code
 *       past_conv.i}) beside the attention layers' keys and values, as {@code
 *       text_config.layer_types} says ({@link CausalDecoder} checks the graph against it).</li>
 * </ul>
 */
public final class Lfm2VlFamily implements ModelFamily {
  private static final String PROCESSOR = "processor_config.json";

  /** Creates the family (stateless: one instance loads any number of models, concurrently). */
  public Lfm2VlFamily() {}

  @Override
  public List<String> modelTypes() {
    return List.of("lfm2_vl");
  }

  @Override
  public ModelParts load(LoadContext ctx) throws ModelLoadException {
    var folder = ctx.folder();
    Lfm2VlPreprocessor preprocessor = Lfm2VlPreprocessor.read(folder);
    checkConfig(ctx, preprocessor);
    ConfigReader proc = ConfigReader.of(folder.readJsonIfPresent(PROCESSOR)
        .orElse(com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode()), folder.describe(PROCESSOR));
    String image = proc.optText("image_token").orElse("<image>");
    int imageToken = ctx.tokenId(image);
    var configured = ctx.config().rootTokenId("image_token_id");
    if (configured.isPresent() && configured.getAsInt() != imageToken) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, ctx.config().source()
          + ": image_token_id is " + configured.getAsInt() + " but the tokenizer's " + image + " is " + imageToken);
    }
    int start = ctx.tokenId(proc.optText("image_start_token").orElse("<|image_start|>"));
    int end = ctx.tokenId(proc.optText("image_end_token").orElse("<|image_end|>"));
    int thumbnail = ctx.tokenId(proc.optText("image_thumbnail").orElse("<|img_thumbnail|>"));
    int sides = preprocessor.maxTiles();
    int[][] tileTokens = new int[sides + 1][sides + 1];
    for (int r = 1; r <= sides; r++) {
      for (int c = 1; c <= sides; c++) {
        tileTokens[r][c] = r * c <= sides ? ctx.tokenId("<|img_row_" + r + "_col_" + c + "|>") : -1;
      }
    }
    ChatTemplate template = ChatTemplate.fromTokenizerConfig(folder);
    PromptAssembler assembler = new PromptAssembler(ctx.tokenizer(), image, imageToken);
    int hidden = ctx.text().hiddenSize();
    try (ParallelOpen opening = new ParallelOpen()) {
      var graphs = StandardGraphs.open(opening, ctx, () -> PaddedPatchEncoder.open(folder,
          ctx.file(ModelModule.VISION_ENCODER), ctx.settings(), preprocessor, hidden));
      PaddedPatchEncoder vision = graphs.vision();
      TokenEmbedder embedder = graphs.embedder();
      CausalDecoder decoder = graphs.decoder();
      ImageExpansion expansion = (k, img) -> expand(k, img, preprocessor, start, end, thumbnail, tileTokens);
      ModelParts parts = new ModelParts(template, assembler, preprocessor, vision, new FusedProjector(hidden),
          new AdapterRegistry(), expansion, embedder, decoder, List.of());
      opening.release();
      return parts;
    }
  }

  private static List<PromptPiece> expand(int k, ImageLayout img, Lfm2VlPreprocessor pre, int start, int end,
      int thumbnail, int[][] tileTokens) {
    List<PromptPiece> p = new ArrayList<>();
    p.add(new PromptPiece.Token(start));
    if (img.rows() > 1 || img.cols() > 1) {
      int perTile = pre.tokensPerTile();
      for (int r = 1; r <= img.rows(); r++) {
        for (int c = 1; c <= img.cols(); c++) {
          p.add(new PromptPiece.Token(tileTokens[r][c]));
          p.add(new PromptPiece.ImageTokens(k, perTile));
        }
      }
      if (img.frames() > img.rows() * img.cols()) {
        p.add(new PromptPiece.Token(thumbnail));
        p.add(new PromptPiece.ImageTokens(k, pre.frameTokens(img, img.frames() - 1)));
      }
    } else {
      p.add(new PromptPiece.ImageTokens(k, pre.frameTokens(img, 0)));
    }
    p.add(new PromptPiece.Token(end));
    return p;
  }

  /** {@code config.json}'s copies of the patch geometry, where present, must be the preprocessor's. */
  private static void checkConfig(LoadContext ctx, Lfm2VlPreprocessor pre) throws ModelLoadException {
    ConfigReader root = ctx.config().reader();
    int patch = root.intOr("encoder_patch_size", 1, 1 << 12, -1);
    if (patch >= 0 && patch != pre.patchSize()) {
      throw mismatch(ctx, "encoder_patch_size", patch, "encoder_patch_size", pre.patchSize());
    }
    int downsample = root.intOr("downsample_factor", 1, 1 << 12, -1);
    if (downsample >= 0 && downsample != pre.downsampleFactor()) {
      throw mismatch(ctx, "downsample_factor", downsample, "downsample_factor", pre.downsampleFactor());
    }
    int visionPatch = root.intOr("vision_config.patch_size", 1, 1 << 12, -1);
    if (visionPatch >= 0 && visionPatch != pre.patchSize()) {
      throw mismatch(ctx, "vision_config.patch_size", visionPatch, "encoder_patch_size", pre.patchSize());
    }
  }

  private static ModelLoadException mismatch(LoadContext ctx, String key, int value, String preKey, int preValue) {
    return new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, ctx.config().source() + ": " + key
        + " is " + value + " but " + ctx.folder().describe(PreprocessorConfig.FILE) + " has " + preKey + " " + preValue);
  }
}
