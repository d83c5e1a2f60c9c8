package io.github.vlm4j.vision.multi;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OrtSession;
import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.onnx.TensorSpec;
import io.github.vlm4j.vision.ImageEncoder;
import io.github.vlm4j.vision.ImageFeatures;
import io.github.vlm4j.vision.PreprocessedImage;
import java.util.ArrayList;
import java.util.List;

/**
 * Several encoders as one image stage: every {@link EncoderStage} yields feature blocks (grids), and
 * the blocks of all encoders are concatenated on channels (all pooled to one grid) or on tokens (all
 * of one width). The result is {@code [1, tokens, width]}, tokens row-major over the grid, which is
 * what the projector and adapters take.
 *
 * <p>Thread-safe; owns the graphs of its stages.
 */
public final class MultiEncoder implements ImageEncoder {
  private final List<EncoderStage> stages;
  private final ViewsPreprocessor pre;
  private final CombineMode combine;
  private final TensorSpec spec;

  private MultiEncoder(List<EncoderStage> stages, ViewsPreprocessor pre, CombineMode combine, TensorSpec spec) {
    this.stages = List.copyOf(stages);
    this.pre = pre;
    this.combine = combine;
    this.spec = spec;
  }

  /**
   * Builds the stage and checks that its encoders combine: it runs once on a blank image, so every
   * output's real shape (which, for a CNN, depends on the view size) is known at load time.
   *
   * @param stages the encoders, in manifest order; on success the result owns their graphs, on failure
   *     the caller still does
   * @param pre the preprocessor making every stage's views
   * @param combine how the encoders' blocks are put together
   * @param where the manifest and key naming the combination, for messages (e.g. {@code vlm4j.json "combine"})
   * @return the stage
   * @throws ModelLoadException GRAPH_MISMATCH if an output does not fit its layout or the blocks do not
   *     combine (grids or widths differ), naming what was expected and found
   */
  public static MultiEncoder open(List<EncoderStage> stages, ViewsPreprocessor pre, CombineMode combine,
      String where) throws ModelLoadException {
    MultiEncoder m = new MultiEncoder(stages, pre, combine, null);
    long[] shape;
    try {
      int h = pre.frameHeight();
      int w = pre.frameWidth();
      int frames = pre.views().size();
      shape = m.encode(new PreprocessedImage(new float[frames * 3 * h * w], frames, h, w, 0, 0), null).shape();
    } catch (IllegalArgumentException | InferenceException e) {
      throw new ModelLoadException(ModelLoadException.Reason.GRAPH_MISMATCH, where + ": the encoders' features "
          + "do not combine on " + combine.label() + ": " + e.getMessage(), e);
    }
    TensorSpec out = new TensorSpec("image_features", OnnxJavaType.FLOAT, new long[] {-1, shape[1], shape[2]},
        new String[] {"num_images", "", ""});
    return new MultiEncoder(stages, pre, combine, out);
  }

  @Override
  public ImageFeatures encode(PreprocessedImage image, OrtSession.RunOptions runOptions) {
    List<FeatureGrid> blocks = new ArrayList<>();
    for (EncoderStage s : stages) {
      blocks.addAll(s.blocks(image, pre, runOptions));
    }
    if (combine == CombineMode.CHANNELS) {
      FeatureGrid g = FeatureGrid.concatChannels(blocks);
      return new ImageFeatures(g.tokens(), new long[] {1, (long) g.height() * g.width(), g.channels()});
    }
    int c = blocks.get(0).channels();
    int tokens = 0;
    for (FeatureGrid g : blocks) {
      if (g.channels() != c) {
        throw new IllegalArgumentException("cannot put blocks of " + g.channels() + " and " + c
            + " channels one after another as tokens");
      }
      tokens += g.height() * g.width();
    }
    float[] out = new float[tokens * c];
    int at = 0;
    for (FeatureGrid g : blocks) {
      float[] t = g.tokens();
      System.arraycopy(t, 0, out, at, t.length);
      at += t.length;
    }
    return new ImageFeatures(out, new long[] {1, tokens, c});
  }

  @Override
  public TensorSpec outputSpec() {
    return spec;
  }

  @Override
  public List<String> files() {
    return stages.stream().map(s -> s.graph().file()).distinct().toList();
  }

  /**
   * Returns the encoders.
   *
   * @return the stages, in manifest order
   */
  public List<EncoderStage> stages() {
    return stages;
  }

  @Override
  public void close() {
    for (EncoderStage s : stages) {
      s.graph().close();
    }
  }
}
