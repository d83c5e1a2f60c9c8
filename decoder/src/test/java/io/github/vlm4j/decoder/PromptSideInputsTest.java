package io.github.vlm4j.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Slicing the per-position inputs a family computes for a whole prompt: positions and injected features. */
class PromptSideInputsTest {
  // 2 text tokens, a 1x2x2 image block (positions 2..3 in h/w), 2 text tokens after it at 4, 5
  private final PromptPositions p = new PromptPositions(3, 8,
      new long[] {0, 1, 2, 2, 2, 2, 4, 5,   0, 1, 2, 2, 3, 3, 4, 5,   0, 1, 2, 3, 2, 3, 4, 5}, 6);

  @Test
  void positionSlicesKeepTheirIdsAndContinueAfterTheirLargest() {
    assertSame(p, p.slice(0, 8));
    PromptPositions head = p.slice(0, 6);   // ends after the image and one text token
    assertEquals(6, head.length());
    assertArrayEquals(new long[] {0, 1, 2, 2, 2, 2, 0, 1, 2, 2, 3, 3, 0, 1, 2, 3, 2, 3}, head.ids());
    assertEquals(4, head.next());   // the token after position 3: 4, as in the whole prompt
    PromptPositions tail = p.slice(6, 8);
    assertArrayEquals(new long[] {4, 5, 4, 5, 4, 5}, tail.ids());
    assertEquals(6, tail.next());
    assertEquals(3, p.at(2, 3));
    assertThrows(IndexOutOfBoundsException.class, () -> p.slice(3, 9));
    assertThrows(IllegalArgumentException.class, () -> new PromptPositions(3, 2, new long[5], 2));
  }

  @Test
  void injectedSlicesCopyEveryLayer() {
    float[] data = new float[2 * 4 * 3];
    for (int i = 0; i < data.length; i++) {
      data[i] = i;
    }
    InjectedFeatures f = new InjectedFeatures(2, 4, 3, data);
    assertSame(f, f.slice(0, 4));
    InjectedFeatures s = f.slice(1, 3);
    assertArrayEquals(new float[] {3, 4, 5, 6, 7, 8, 15, 16, 17, 18, 19, 20}, s.data());
    assertThrows(IllegalArgumentException.class, () -> new InjectedFeatures(2, 4, 3, new float[23]));
  }
}
