package io.github.vlm4j.family;

import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ConfigReader;
import io.github.vlm4j.core.model.ModelLimits;
import io.github.vlm4j.core.prompt.ChatTemplate;
import io.github.vlm4j.core.prompt.PromptAssembler;
import io.github.vlm4j.core.prompt.PromptPiece;
import io.github.vlm4j.decoder.CausalDecoder;
import io.github.vlm4j.decoder.TokenEmbedder;
import io.github.vlm4j.projector.AdapterRegistry;
import io.github.vlm4j.projector.FusedProjector;
import io.github.vlm4j.vision.Idefics3Preprocessor;
import io.github.vlm4j.vision.PreprocessorConfig;
import io.github.vlm4j.vision.VisionEncoder;
import java.util.ArrayList;
import java.util.List;

/**
 * SmolVLM / SmolVLM2 / Idefics3 as exported by onnx-community and run by transformers.js: tiled
 * images ({@code <fake_token_around_image><row_r_col_c>}, {@code <global-img>}, {@code
 * image_seq_len} x {@code <image>} per frame), projector fused into {@code vision_encoder.onnx}.
 */
public final class Idefics3Family implements ModelFamily {
  private static final String FAKE = "<fake_token_around_image>";
  private static final String IMAGE = "<image>";
  private static final String GLOBAL = "<global-img>";
  /** Tiles per side the Idefics3 prompt format names ({@code <row_1_col_1>} .. {@code <row_6_col_6>}). */
  private static final int MAX_TILES = 6;

  /** Creates the family (stateless: one instance loads any number of models, concurrently). */
  public Idefics3Family() {}

  @Override
  public List<String> modelTypes() {
    return List.of("idefics3", "smolvlm");
  }

  @Override
  public ModelParts load(LoadContext ctx) throws ModelLoadException {
    var folder = ctx.folder();
    PreprocessorConfig pre = PreprocessorConfig.read(folder);
    if (pre.maxImageSize() <= 0) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
          folder.describe(PreprocessorConfig.FILE) + " has no max_image_size.longest_edge (the tile size)");
    }
    if (pre.longestEdge() <= 0) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
          folder.describe(PreprocessorConfig.FILE) + " has no size.longest_edge (images are resized to it)");
    }
    int maxTiles = (pre.longestEdge() + pre.maxImageSize() - 1) / pre.maxImageSize();
    if (maxTiles > MAX_TILES) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
          folder.describe(PreprocessorConfig.FILE) + ": size.longest_edge " + pre.longestEdge()
              + " / max_image_size.longest_edge " + pre.maxImageSize() + " gives up to " + maxTiles
              + " tiles per side; the Idefics3 prompt format has row/column tokens for at most " + MAX_TILES);
    }
    int seqLen = imageSeqLen(ctx);
    var imageTokenId = ctx.config().rootTokenId("image_token_id");
    int imageToken = imageTokenId.isPresent() ? imageTokenId.getAsInt() : ctx.tokenId(IMAGE);
    int fake = ctx.tokenId(FAKE);
    int global = ctx.tokenId(GLOBAL);
    int[][] rowCol = new int[MAX_TILES + 1][MAX_TILES + 1];
    for (int r = 1; r <= MAX_TILES; r++) {
      for (int c = 1; c <= MAX_TILES; c++) {
        rowCol[r][c] = r <= maxTiles && c <= maxTiles
            ? ctx.tokenId("<row_" + r + "_col_" + c + ">") : -1;
      }
    }
    ChatTemplate template = ChatTemplate.fromTokenizerConfig(folder);
    PromptAssembler assembler = new PromptAssembler(ctx.tokenizer(), IMAGE, imageToken);
    int hidden = ctx.text().hiddenSize();
    try (ParallelOpen opening = new ParallelOpen()) {
      var graphs = StandardGraphs.open(opening, ctx, () -> StandardGraphs.fusedVision(ctx, pre.maxImageSize(),
          pre.maxImageSize(), seqLen, "frame", "processor_config.json image_seq_len is " + seqLen));
      VisionEncoder vision = graphs.vision();
      TokenEmbedder embedder = graphs.embedder();
      CausalDecoder decoder = graphs.decoder();
      ImageExpansion expansion = (k, img) -> {
        List<PromptPiece> p = new ArrayList<>();
        if (img.rows() == 0 && img.cols() == 0) {
          p.add(new PromptPiece.Token(fake));
          p.add(new PromptPiece.Token(global));
          p.add(new PromptPiece.ImageTokens(k, seqLen));
          p.add(new PromptPiece.Token(fake));
          return p;
        }
        for (int r = 1; r <= img.rows(); r++) {
          for (int c = 1; c <= img.cols(); c++) {
            if (r > MAX_TILES || c > MAX_TILES || rowCol[r][c] < 0) {
              throw new IllegalStateException("the tokenizer has no <row_" + r + "_col_" + c + "> token for a "
                  + img.rows() + "x" + img.cols() + " tiling; lower size.longest_edge");
            }
            p.add(new PromptPiece.Token(fake));
            p.add(new PromptPiece.Token(rowCol[r][c]));
            p.add(new PromptPiece.ImageTokens(k, seqLen));
          }
          p.add(new PromptPiece.Text("\n"));
        }
        p.add(new PromptPiece.Text("\n"));
        p.add(new PromptPiece.Token(fake));
        p.add(new PromptPiece.Token(global));
        p.add(new PromptPiece.ImageTokens(k, seqLen));
        p.add(new PromptPiece.Token(fake));
        return p;
      };
      ModelParts parts = new ModelParts(template, assembler, new Idefics3Preprocessor(pre), vision,
          new FusedProjector(hidden), new AdapterRegistry(), expansion, embedder, decoder, List.of());
      opening.release();
      return parts;
    }
  }

  private static int imageSeqLen(LoadContext ctx) throws ModelLoadException {
    var procJson = ctx.folder().readJsonIfPresent("processor_config.json");
    if (procJson.isPresent()) {
      ConfigReader proc = ConfigReader.of(procJson.get(), ctx.folder().describe("processor_config.json"));
      var seq = proc.optInt("image_seq_len", 1, ModelLimits.MAX_IMAGE_TOKENS);
      if (seq.isPresent()) {
        return seq.getAsInt();
      }
    }
    ConfigReader root = ctx.config().reader();
    int image = root.intOr("vision_config.image_size", 1, ModelLimits.MAX_IMAGE_EDGE, 0);
    int patch = root.intOr("vision_config.patch_size", 1, ModelLimits.MAX_PATCH, 0);
    int scale = root.intOr("scale_factor", 1, 64, 0);
    if (image > 0 && patch > 0 && scale > 0) {
      int side = image / patch;
      int tokens = side * side / (scale * scale);
      if (tokens < 1) {
        throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, ctx.config().source()
            + ": vision_config.image_size " + image + ", patch_size " + patch + " and scale_factor " + scale
            + " give no image tokens per frame");
      }
      return tokens;
    }
    throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
        "cannot tell the image tokens per frame: " + ctx.folder().describe("processor_config.json")
            + " has no image_seq_len and config.json lacks vision_config.image_size/patch_size or scale_factor");
  }
}
