package io.github.vlm4j.projector;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.vision.ImageFeatures;
import java.util.List;
import org.junit.jupiter.api.Test;

/** DeepStack-style injected features land on the image-token positions of each layer; text stays zero. */
class ScatterInjectedTest {
  static ImageFeatures image(int rows, float base) {
    float[] data = new float[rows * 2];
    float[] injected = new float[2 * rows * 2];
    for (int i = 0; i < injected.length; i++) {
      injected[i] = base + i;
    }
    return new ImageFeatures(data, new long[] {rows, 2}, injected, 2);
  }

  @Test
  void rowsGoToTheirTokensInEveryLayer() {
    int img = 9;
    int[] ids = {1, img, img, 2, img, 3};
    float[] out = EmbeddingMerger.scatterInjected(ids, img, List.of(image(2, 100), image(1, 200)), 2, 2);
    assertArrayEquals(new float[] {
        0, 0, 100, 101, 102, 103, 0, 0, 200, 201, 0, 0,      // layer 0
        0, 0, 104, 105, 106, 107, 0, 0, 202, 203, 0, 0}, out); // layer 1
  }

  @Test
  void disagreementsAreErrors() {
    int img = 9;
    assertThrows(InferenceException.class,
        () -> EmbeddingMerger.scatterInjected(new int[] {img, img, img}, img, List.of(image(2, 0)), 2, 2));
    assertThrows(InferenceException.class, () -> EmbeddingMerger.scatterInjected(new int[] {img}, img,
        List.of(new ImageFeatures(new float[2], new long[] {1, 2})), 2, 2));
  }
}
