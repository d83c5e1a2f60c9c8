package io.github.vlm4j.vision.multi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link FeatureGrid}: pooling equals PyTorch's {@code adaptive_avg_pool2d} (vectors written by
 * PyTorch, {@code multi/adaptive_avg_pool2d.json}: sizes that divide, that do not, and an output
 * larger than the input); layouts and concatenation move values to the right places.
 */
class FeatureGridTest {
  @Test
  void poolingEqualsPyTorch() throws IOException {
    JsonNode doc;
    try (InputStream in = getClass().getResourceAsStream("/multi/adaptive_avg_pool2d.json")) {
      doc = new ObjectMapper().readTree(in);
    }
    for (JsonNode c : doc.get("cases")) {
      FeatureGrid g = new FeatureGrid(floats(c.get("input")), c.get("channels").asInt(), c.get("height").asInt(),
          c.get("width").asInt());
      float[] got = g.pool(c.get("out_height").asInt(), c.get("out_width").asInt()).data();
      assertArrayEquals(floats(c.get("output")), got, 1e-6f, c.toString().substring(0, 60));
    }
  }

  @Test
  void layoutsReadChannelsFromTheirPlace() {
    // one image, 2 channels, 1x2 grid: channel k at cell j is 10k + j
    FeatureGrid nchw = FeatureGrid.of(new float[] {0, 1, 10, 11}, new long[] {1, 2, 1, 2}, FeatureLayout.NCHW);
    FeatureGrid nhwc = FeatureGrid.of(new float[] {0, 10, 1, 11}, new long[] {1, 1, 2, 2}, FeatureLayout.NHWC);
    FeatureGrid tokens = FeatureGrid.of(new float[] {0, 10, 1, 11, 2, 12, 3, 13}, new long[] {1, 4, 2},
        FeatureLayout.TOKENS);
    assertArrayEquals(nchw.data(), nhwc.data());
    assertEquals(2, tokens.height());
    assertArrayEquals(new float[] {0, 1, 2, 3, 10, 11, 12, 13}, tokens.data());
    assertArrayEquals(new float[] {0, 10, 1, 11}, nchw.tokens());
    assertThrows(IllegalArgumentException.class,
        () -> FeatureGrid.of(new float[6], new long[] {1, 3, 2}, FeatureLayout.TOKENS)); // 3 tokens: no square
  }

  @Test
  void concatenationStacksChannelsOfOneGrid() {
    FeatureGrid a = new FeatureGrid(new float[] {1, 2}, 1, 1, 2);
    FeatureGrid b = new FeatureGrid(new float[] {3, 4, 5, 6}, 2, 1, 2);
    FeatureGrid ab = FeatureGrid.concatChannels(List.of(a, b));
    assertEquals(3, ab.channels());
    assertArrayEquals(new float[] {1, 3, 5, 2, 4, 6}, ab.tokens());
    assertThrows(IllegalArgumentException.class,
        () -> FeatureGrid.concatChannels(List.of(a, new FeatureGrid(new float[2], 1, 2, 1))));
  }

  private static float[] floats(JsonNode a) {
    float[] out = new float[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) a.get(i).asDouble();
    }
    return out;
  }
}
