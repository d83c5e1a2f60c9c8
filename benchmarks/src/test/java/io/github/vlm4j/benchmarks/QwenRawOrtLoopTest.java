package io.github.vlm4j.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Qwen benchmark's raw ONNX Runtime loop is only a ceiling if it computes what the model
 * computes: on the kit's tiny Qwen folders it must reproduce the PyTorch goldens (prompt ids, M-RoPE
 * position ids, greedy ids) of every one-image case that needs no resize.
 */
class QwenRawOrtLoopTest {
  private static final Path MODELS = Path.of("..", "src", "test", "resources", "models");

  @ParameterizedTest
  @ValueSource(strings = {"vlm4j-tiny-qwen2-vl", "vlm4j-tiny-qwen2_5-vl"})
  void reproducesTheGoldens(String model) throws Exception {
    List<String> lines = QwenRawOrtLoop.checkGoldens(MODELS.resolve(model));
    assertTrue(lines.size() >= 7, "expected the 7 one-image no-resize cases, got " + lines);
    for (String line : lines) {
      assertTrue(line.startsWith("ok"), line);
    }
  }

  @Test
  void refusesImagesThatNeedAResize() throws Exception {
    var shapes = QwenRawOrtLoop.Shapes.read(MODELS.resolve("vlm4j-tiny-qwen2_5-vl"));
    var e = assertThrows(IllegalArgumentException.class,
        () -> QwenRawOrtLoop.patchify(new BufferedImage(100, 56, BufferedImage.TYPE_INT_RGB), shapes));
    assertTrue(e.getMessage().contains("does not resize"), e.getMessage());
    assertEquals(4 * 6 * shapes.patchWidth(),      // 56x84 px: 4x6 patches of 14 px
        QwenRawOrtLoop.patchify(new BufferedImage(56, 84, BufferedImage.TYPE_INT_RGB), shapes).length);
  }
}
