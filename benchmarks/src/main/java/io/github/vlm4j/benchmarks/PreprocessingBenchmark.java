package io.github.vlm4j.benchmarks;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.vlm4j.vision.Idefics3Preprocessor;
import io.github.vlm4j.vision.PixelOps;
import io.github.vlm4j.vision.PreprocessedImage;
import io.github.vlm4j.vision.PreprocessorConfig;
import io.github.vlm4j.vision.ResampleFilter;
import io.github.vlm4j.vision.Resampler;
import io.github.vlm4j.vision.RgbImage;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Image preprocessing at SmolVLM-256M settings (longest edge 2048, 512-px tiles, mean/std 0.5):
 * the Lanczos resize, rescale + normalise, and the whole Idefics3 pipeline with and without tiling.
 *
 * <pre>{@code java -jar benchmarks/target/benchmarks.jar PreprocessingBenchmark}</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(2)
public class PreprocessingBenchmark {
  @Param({"1024x768", "640x480"})
  public String size;

  private RgbImage image;
  private Idefics3Preprocessor smolvlm;

  @Setup
  public void setup() throws Exception {
    String[] wh = size.split("x");
    int w = Integer.parseInt(wh[0]);
    int h = Integer.parseInt(wh[1]);
    byte[] rgb = new byte[w * h * 3];
    SplittableRandom r = new SplittableRandom(1);
    for (int i = 0; i < rgb.length; i++) {
      rgb[i] = (byte) ((i / 3 % w) * 255 / w + r.nextInt(16));
    }
    image = new RgbImage(w, h, rgb);
    smolvlm = new Idefics3Preprocessor(PreprocessorConfig.parse(new ObjectMapper().readTree(
        "{\"do_resize\":true,\"size\":{\"longest_edge\":2048},\"max_image_size\":{\"longest_edge\":512},"
            + "\"resample\":1,\"do_rescale\":true,\"rescale_factor\":0.00392156862745098,\"do_normalize\":true,"
            + "\"image_mean\":[0.5,0.5,0.5],\"image_std\":[0.5,0.5,0.5],\"do_image_splitting\":true}"), "bench"));
  }

  /** @return the image resized to 2048 on its longest edge (Lanczos, Pillow arithmetic) */
  @Benchmark
  public RgbImage lanczosToLongestEdge2048() {
    int[] s = PixelOps.edgeResizeSize(image.width(), image.height(), 0, 2048);
    return Resampler.resize(image, s[0], s[1], ResampleFilter.LANCZOS);
  }

  /** @return rescaled and normalised planar floats */
  @Benchmark
  public float[] rescaleNormalize() {
    return PixelOps.toNormalizedChw(image, true, 1 / 255.0, true, new double[] {0.5, 0.5, 0.5},
        new double[] {0.5, 0.5, 0.5});
  }

  /** @return SmolVLM frames with 4x4-style tiling plus the global image */
  @Benchmark
  public PreprocessedImage idefics3Split() {
    return smolvlm.preprocess(image, true);
  }

  /** @return one 512x512 frame */
  @Benchmark
  public PreprocessedImage idefics3NoSplit() {
    return smolvlm.preprocess(image, false);
  }
}
