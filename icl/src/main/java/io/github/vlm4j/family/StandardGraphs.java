package io.github.vlm4j.family;

import io.github.vlm4j.ModelModule;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.onnx.TensorSpec;
import io.github.vlm4j.decoder.CausalDecoder;
import io.github.vlm4j.decoder.TokenEmbedder;
import io.github.vlm4j.vision.VisionEncoder;

/**
 * The three graphs of an onnx-community decoder-only folder: the vision graph (opened by the family),
 * {@code embed_tokens} and the decoder, opened concurrently through a {@link ParallelOpen} (in that
 * start order, so a failure is reported as opening them one after another would). The parts stay
 * owned by the {@code ParallelOpen} until it is released.
 *
 * @param <V> the vision graph's type
 * @param vision the vision graph
 * @param embedder the token-embedding graph
 * @param decoder the decoder graph
 */
record StandardGraphs<V extends AutoCloseable>(V vision, TokenEmbedder embedder, CausalDecoder decoder) {
  /** Opens the three graphs concurrently and waits for them. */
  static <V extends AutoCloseable> StandardGraphs<V> open(ParallelOpen opening, LoadContext ctx,
      ParallelOpen.Opener<V> vision) throws ModelLoadException {
    var visionPart = opening.start("vision", vision);
    var embedderPart = opening.start("embedder", () -> TokenEmbedder.open(ctx.folder(),
        ctx.file(ModelModule.EMBED_TOKENS), ctx.settings(), ctx.text().hiddenSize()));
    var decoderPart = opening.start("decoder", () -> CausalDecoder.open(ctx.folder(), ctx.file(ModelModule.DECODER),
        ctx.settings(), ctx.text()));
    opening.await();
    return new StandardGraphs<>(visionPart.get(), embedderPart.get(), decoderPart.get());
  }

  /**
   * Opens a vision graph with the projector fused in and checks its output (closing it if a check
   * fails): features of {@code text_config.hidden_size}, and {@code tokens} per frame when the graph
   * says.
   *
   * @param ctx the load context
   * @param height frame height
   * @param width frame width
   * @param tokens image tokens per frame the prompt expands to
   * @param unit what one output holds ("image", "frame"), for the message
   * @param expected what the config says, for the message
   */
  static VisionEncoder fusedVision(LoadContext ctx, int height, int width, int tokens, String unit, String expected)
      throws ModelLoadException {
    int hidden = ctx.text().hiddenSize();
    VisionEncoder vision = VisionEncoder.open(ctx.folder(), ctx.file(ModelModule.VISION_ENCODER), ctx.settings(),
        height, width);
    try {
      TensorSpec out = vision.outputSpec();
      long w = out.dim(out.rank() - 1);
      if (w >= 0 && w != hidden) {
        throw vision.graph().mismatch("outputs " + out.describe() + " of width " + w
            + " but text_config.hidden_size is " + hidden + " (the projector should be fused into this graph)");
      }
      if (out.rank() == 3 && out.dim(1) >= 0 && out.dim(1) != tokens) {
        throw vision.graph().mismatch("outputs " + out.describe() + " with " + out.dim(1) + " tokens per " + unit
            + " but " + expected);
      }
      return vision;
    } catch (ModelLoadException | RuntimeException e) {
      vision.close();
      throw e;
    }
  }
}
