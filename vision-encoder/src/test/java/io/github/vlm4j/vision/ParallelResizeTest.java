package io.github.vlm4j.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The row-block parallel resize gives the same bytes as the sequential one (which
 * {@code ReferenceFixturesTest} checks against Pillow), for up- and downscaling on both axes.
 */
class ParallelResizeTest {
  @ParameterizedTest
  @EnumSource(ResampleFilter.class)
  void parallelEqualsSequential(ResampleFilter filter) {
    byte[] px = new byte[301 * 217 * 3];
    new Random(7).nextBytes(px);
    RgbImage in = new RgbImage(301, 217, px);
    int[][] sizes = {{2048, 1477}, {1000, 90}, {77, 1500}, {150, 100}};
    for (int[] s : sizes) {
      RgbImage seq = Resampler.resize(in, s[0], s[1], filter, Long.MAX_VALUE);
      RgbImage par = Resampler.resize(in, s[0], s[1], filter, 0);
      assertArrayEquals(seq.data(), par.data(), filter + " to " + s[0] + "x" + s[1]);
    }
  }
}
