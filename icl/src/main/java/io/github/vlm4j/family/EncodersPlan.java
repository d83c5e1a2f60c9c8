package io.github.vlm4j.family;

import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.vision.multi.CombineMode;
import io.github.vlm4j.vision.multi.EncoderGraph;
import io.github.vlm4j.vision.multi.EncoderStage;
import io.github.vlm4j.vision.multi.MultiEncoder;
import io.github.vlm4j.vision.multi.ViewSpec;
import io.github.vlm4j.vision.multi.ViewsPreprocessor;
import java.util.ArrayList;
import java.util.List;

/**
 * The parsed image stage of a version-2 manifest, ready to open: the views of all encoders in one
 * preprocessor (encoder order, then scale order), and one {@link EncoderStage} per encoder.
 *
 * @param encoders the encoders, in manifest order
 * @param mode how their features combine
 * @param where the manifest key of the combination, for messages
 */
record EncodersPlan(List<EncodersManifest.Encoder> encoders, CombineMode mode, String where) {
  /**
   * Returns the preprocessor making every view.
   *
   * @return the preprocessor (one frame per encoder and scale)
   */
  ViewsPreprocessor preprocessor() {
    List<ViewSpec> views = new ArrayList<>();
    for (EncodersManifest.Encoder e : encoders) {
      views.addAll(e.views());
    }
    return new ViewsPreprocessor(views);
  }

  /**
   * Opens every encoder graph and checks that the features combine.
   *
   * @param ctx the load context (folder, settings, progress)
   * @param pre the preprocessor from {@link #preprocessor()}
   * @return the image stage; the caller owns it
   * @throws ModelLoadException if a graph is missing or does not fit (every graph opened is closed again)
   */
  MultiEncoder open(LoadContext ctx, ViewsPreprocessor pre) throws ModelLoadException {
    List<EncoderStage> stages = new ArrayList<>();
    try {
      int view = 0;
      for (EncodersManifest.Encoder e : encoders) {
        EncoderGraph g = EncoderGraph.open(ctx.folder(), ctx.graph(e.file()), ctx.settings(), e.input(),
            e.inputLayout(), e.outputs(), e.views());
        List<Integer> idx = new ArrayList<>();
        for (int i = 0; i < e.views().size(); i++) {
          idx.add(view++);
        }
        stages.add(new EncoderStage(g, idx, e.grid()[0], e.grid()[1], e.layers()));
      }
      return MultiEncoder.open(stages, pre, mode, where);
    } catch (ModelLoadException | RuntimeException e) {
      stages.forEach(s -> s.graph().close());
      throw e;
    }
  }
}
