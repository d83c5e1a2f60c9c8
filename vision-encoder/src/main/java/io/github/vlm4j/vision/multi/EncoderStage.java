package io.github.vlm4j.vision.multi;

import ai.onnxruntime.OrtSession;
import io.github.vlm4j.vision.PreprocessedImage;
import java.util.ArrayList;
import java.util.List;

/**
 * One encoder of a {@link MultiEncoder}: its graph, the views it runs on (one per scale), the token
 * grid its outputs are pooled to, and how its outputs (layers) are put together. For every output,
 * the grids of all scales are pooled to the encoder's grid and concatenated on channels (S2); the
 * outputs are then concatenated on channels or kept as separate token blocks.
 *
 * @param graph the graph (owned by the {@link MultiEncoder})
 * @param views indices of its views in the {@link ViewsPreprocessor}, one per scale, first the base scale
 * @param gridHeight rows of the grid the outputs are pooled to
 * @param gridWidth columns of that grid
 * @param layers how its outputs are combined
 */
public record EncoderStage(EncoderGraph graph, List<Integer> views, int gridHeight, int gridWidth,
    CombineMode layers) {
  /**
   * Copies the view list.
   *
   * @param graph the graph (owned by the {@link MultiEncoder})
   * @param views indices of its views in the {@link ViewsPreprocessor}, one per scale (copied)
   * @param gridHeight rows of the grid the outputs are pooled to, at least 1
   * @param gridWidth columns of that grid, at least 1
   * @param layers how its outputs are combined
   * @throws IllegalArgumentException if there is no view or the grid is empty
   */
  public EncoderStage {
    if (views.isEmpty() || gridHeight < 1 || gridWidth < 1) {
      throw new IllegalArgumentException("an encoder needs a view and a grid of at least 1x1");
    }
    views = List.copyOf(views);
  }

  /**
   * Runs the encoder on every scale of one image.
   *
   * @param image frames made by {@code pre}
   * @param pre the preprocessor that made them
   * @param runOptions for termination, may be null
   * @return the feature blocks: one grid if the layers are combined on channels, else one per output
   */
  public List<FeatureGrid> blocks(PreprocessedImage image, ViewsPreprocessor pre, OrtSession.RunOptions runOptions) {
    List<List<FeatureGrid>> perScale = new ArrayList<>();
    for (int v : views) {
      ViewSpec spec = pre.views().get(v);
      perScale.add(graph.run(pre.view(image, v), spec.height(), spec.width(), runOptions));
    }
    List<FeatureGrid> perOutput = new ArrayList<>();
    for (int k = 0; k < graph.outputs().size(); k++) {
      List<FeatureGrid> scales = new ArrayList<>();
      for (List<FeatureGrid> s : perScale) {
        scales.add(s.get(k).pool(gridHeight, gridWidth));
      }
      perOutput.add(FeatureGrid.concatChannels(scales));
    }
    return layers == CombineMode.CHANNELS ? List.of(FeatureGrid.concatChannels(perOutput)) : perOutput;
  }
}
