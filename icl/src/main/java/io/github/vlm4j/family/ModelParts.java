package io.github.vlm4j.family;

import io.github.vlm4j.core.prompt.ChatTemplate;
import io.github.vlm4j.core.prompt.PromptAssembler;
import io.github.vlm4j.decoder.CausalDecoder;
import io.github.vlm4j.decoder.TokenEmbedder;
import io.github.vlm4j.projector.AdapterRegistry;
import io.github.vlm4j.projector.ImageProjector;
import io.github.vlm4j.vision.ImagePreprocessor;
import io.github.vlm4j.vision.ImageEncoder;
import java.util.List;

/**
 * Everything a loaded model runs with, wired by its family. The generic pipeline uses only these
 * parts, never the family's name.
 *
 * @param template the chat template
 * @param assembler turns rendered chats into ids (knows the image placeholder and image token)
 * @param preprocessor image preprocessing
 * @param vision the image stage (one vision graph, or several encoders combined)
 * @param projector the default projector (fused identity for onnx-community exports)
 * @param adapters the cross-modal adapters available at run time (may be empty; changeable later)
 * @param expansion how one image is written into the prompt
 * @param embedder the token-embedding graph
 * @param decoder the decoder graph
 * @param closeables resources owned by the model besides the above (closed last)
 * @param positions how prompt positions are numbered for the decoder's rotary embedding
 */
public record ModelParts(ChatTemplate template, PromptAssembler assembler, ImagePreprocessor preprocessor,
    ImageEncoder vision, ImageProjector projector, AdapterRegistry adapters, ImageExpansion expansion,
    TokenEmbedder embedder, CausalDecoder decoder, List<AutoCloseable> closeables, PositionScheme positions) {
  /**
   * Copies the list.
   *
   * @param template the chat template
   * @param assembler turns rendered chats into ids (knows the image placeholder and image token)
   * @param preprocessor image preprocessing
   * @param vision the image stage (one vision graph, or several encoders combined)
   * @param projector the default projector (fused identity for onnx-community exports)
   * @param adapters the cross-modal adapters available at run time (may be empty; changeable later)
   * @param expansion how one image is written into the prompt
   * @param embedder the token-embedding graph
   * @param decoder the decoder graph
   * @param closeables resources owned by the model besides the above (closed last; copied)
   * @param positions how prompt positions are numbered; its axes must be the decoder's
   * @throws IllegalArgumentException if the position scheme's axes are not the decoder graph's, or the
   *     image stage's injected layers are not what the decoder takes
   */
  public ModelParts {
    closeables = List.copyOf(closeables);
    java.util.Objects.requireNonNull(positions, "positions");
    if (positions.axes() != decoder.positionAxes()) {
      throw new IllegalArgumentException(decoder.graph().file() + " takes " + decoder.positionAxes()
          + " position axes but the family numbers positions with " + positions + " (" + positions.axes() + ")");
    }
    if (vision.injectedLayers() != decoder.injectedLayers()) {
      throw new IllegalArgumentException("the image stage produces features for " + vision.injectedLayers()
          + " injected decoder layers but " + decoder.graph().file() + " takes " + decoder.injectedLayers());
    }
  }

  /**
   * Parts whose positions are counted ({@link PositionScheme#SEQUENTIAL}).
   *
   * @param template the chat template
   * @param assembler turns rendered chats into ids
   * @param preprocessor image preprocessing
   * @param vision the image stage
   * @param projector the default projector
   * @param adapters the cross-modal adapters available at run time
   * @param expansion how one image is written into the prompt
   * @param embedder the token-embedding graph
   * @param decoder the decoder graph
   * @param closeables resources owned by the model besides the above (closed last; copied)
   */
  public ModelParts(ChatTemplate template, PromptAssembler assembler, ImagePreprocessor preprocessor,
      ImageEncoder vision, ImageProjector projector, AdapterRegistry adapters, ImageExpansion expansion,
      TokenEmbedder embedder, CausalDecoder decoder, List<AutoCloseable> closeables) {
    this(template, assembler, preprocessor, vision, projector, adapters, expansion, embedder, decoder, closeables,
        PositionScheme.SEQUENTIAL);
  }
}
