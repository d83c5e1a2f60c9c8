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
import io.github.vlm4j.vision.ImageLayout;
import io.github.vlm4j.vision.PanAndScanPreprocessor;
import io.github.vlm4j.vision.VisionEncoder;
import java.util.ArrayList;
import java.util.List;

/**
 * Gemma 3 exports as transformers.js 4.3.1 runs them (onnx-community layout, {@code
 * Gemma3ForConditionalGeneration}, a LLaVA-style model):
 * <ul>
 *   <li>the chat template comes from {@code chat_template.jinja} ({@link ChatTemplate#fromFolder});</li>
 *   <li>each {@code <start_of_image>} it writes becomes {@code "\n\n<start_of_image>"}, {@code
 *       image_seq_length} image tokens and {@code "<end_of_image>\n\n"}; with pan-and-scan crops
 *       ({@link PanAndScanPreprocessor}, off unless {@code do_pan_and_scan} or the request's split
 *       override turns it on) first {@code "Here is the original image <start_of_image> and here
 *       are some crops to help you see better <start_of_image> <start_of_image>..."} (one per crop),
 *       as HuggingFace's {@code Gemma3Processor} writes it;</li>
 *   <li>positions count from 1, as transformers.js feeds {@code gemma3} decoders;</li>
 *   <li>image attention is what the decoder graph does with a causal {@code attention_mask}: the
 *       layout transformers.js runs has no input for HuggingFace's bidirectional attention inside
 *       images, and a graph that declares one ({@code token_type_ids}) is refused at load.</li>
 * </ul>
 * The embedding scale ({@code sqrt(hidden_size)}) is inside {@code embed_tokens.onnx}; image
 * features replace embedding rows unscaled.
 */
public final class Gemma3Family implements ModelFamily {
  private static final String PAN_AND_SCAN_INTRO = "Here is the original image ";
  private static final String PAN_AND_SCAN_CROPS = " and here are some crops to help you see better ";

  /** Creates the family (stateless: one instance loads any number of models, concurrently). */
  public Gemma3Family() {}

  @Override
  public List<String> modelTypes() {
    return List.of("gemma3");
  }

  @Override
  public ModelParts load(LoadContext ctx) throws ModelLoadException {
    var folder = ctx.folder();
    PanAndScanPreprocessor preprocessor = PanAndScanPreprocessor.read(folder);
    ConfigReader tok = ConfigReader.of(folder.readJson(ChatTemplate.TOKENIZER_CONFIG),
        folder.describe(ChatTemplate.TOKENIZER_CONFIG));
    String boiText = tok.optText("boi_token").orElse("<start_of_image>");
    int boi = ctx.tokenId(boiText);
    int eoi = ctx.tokenId(tok.optText("eoi_token").orElse("<end_of_image>"));
    int image = ctx.tokenId(tok.optText("image_token").orElse("<image_soft_token>"));
    ConfigReader root = ctx.config().reader();
    checkId(ctx, "image_token_index", image);
    checkId(ctx, "boi_token_index", boi);
    checkId(ctx, "eoi_token_index", eoi);
    int tokens = imageSeqLength(ctx, root);
    ChatTemplate template = ChatTemplate.fromFolder(folder);
    PromptAssembler assembler = new PromptAssembler(ctx.tokenizer(), boiText, image);
    int hidden = ctx.text().hiddenSize();
    try (ParallelOpen opening = new ParallelOpen()) {
      var graphs = StandardGraphs.open(opening, ctx, () -> StandardGraphs.fusedVision(ctx,
          preprocessor.frameHeight(), preprocessor.frameWidth(), tokens, "image",
          "the processor expands each image to " + tokens + " (image_seq_length / mm_tokens_per_image)"));
      VisionEncoder vision = graphs.vision();
      TokenEmbedder embedder = graphs.embedder();
      CausalDecoder decoder = graphs.decoder();
      if (!decoder.takesPositionIds()) {
        throw decoder.graph().mismatch("must take position_ids [batch, sequence]: Gemma 3 positions count from 1");
      }
      ImageExpansion expansion = (k, img) -> expand(k, img, boi, eoi, tokens);
      ModelParts parts = new ModelParts(template, assembler, preprocessor, vision, new FusedProjector(hidden),
          new AdapterRegistry(), expansion, embedder, decoder, List.of(), PositionScheme.startingAt(1));
      opening.release();
      return parts;
    }
  }

  private static List<PromptPiece> expand(int k, ImageLayout img, int boi, int eoi, int tokens) {
    List<PromptPiece> p = new ArrayList<>();
    int crops = PanAndScanPreprocessor.cropCount(img);
    if (crops > 0) {
      p.add(new PromptPiece.Text(PAN_AND_SCAN_INTRO));
    }
    addImage(p, k, boi, eoi, tokens);
    if (crops > 0) {
      p.add(new PromptPiece.Text(PAN_AND_SCAN_CROPS));
      for (int i = 0; i < crops; i++) {
        if (i > 0) {
          p.add(new PromptPiece.Text(" "));
        }
        addImage(p, k, boi, eoi, tokens);
      }
    }
    return p;
  }

  private static void addImage(List<PromptPiece> p, int k, int boi, int eoi, int tokens) {
    p.add(new PromptPiece.Text("\n\n"));
    p.add(new PromptPiece.Token(boi));
    p.add(new PromptPiece.ImageTokens(k, tokens));
    p.add(new PromptPiece.Token(eoi));
    p.add(new PromptPiece.Text("\n\n"));
  }

  private static void checkId(LoadContext ctx, String key, int tokenizerId) throws ModelLoadException {
    var id = ctx.config().rootTokenId(key);
    if (id.isPresent() && id.getAsInt() != tokenizerId) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, ctx.config().source() + ": " + key
          + " is " + id.getAsInt() + " but the tokenizer gives " + tokenizerId);
    }
  }

  /** {@code processor_config.json} image_seq_length, else config.json mm_tokens_per_image; they must agree. */
  private static int imageSeqLength(LoadContext ctx, ConfigReader root) throws ModelLoadException {
    var proc = ctx.folder().readJsonIfPresent("processor_config.json");
    var fromProcessor = proc.isPresent()
        ? ConfigReader.of(proc.get(), ctx.folder().describe("processor_config.json"))
            .optInt("image_seq_length", 1, ModelLimits.MAX_IMAGE_TOKENS)
        : java.util.OptionalInt.empty();
    var fromConfig = root.optInt("mm_tokens_per_image", 1, ModelLimits.MAX_IMAGE_TOKENS);
    if (fromProcessor.isPresent() && fromConfig.isPresent() && fromProcessor.getAsInt() != fromConfig.getAsInt()) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, ctx.config().source()
          + ": mm_tokens_per_image is " + fromConfig.getAsInt() + " but processor_config.json image_seq_length is "
          + fromProcessor.getAsInt());
    }
    if (fromProcessor.isPresent()) {
      return fromProcessor.getAsInt();
    }
    if (fromConfig.isPresent()) {
      return fromConfig.getAsInt();
    }
    throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, "cannot tell the image tokens per image: "
        + ctx.folder().describe("processor_config.json") + " has no image_seq_length and config.json no"
        + " mm_tokens_per_image");
  }
}
