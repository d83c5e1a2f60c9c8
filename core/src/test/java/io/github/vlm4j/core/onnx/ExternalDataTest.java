package io.github.vlm4j.core.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ModelFolder;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * External weights are read by ONNX Runtime only after vlm4j has checked every reference: relative,
 * inside the model folder, existing, and long enough.
 */
class ExternalDataTest {
  static final Path DIR = Path.of(System.getProperty("vlm4j.resources",
      System.getProperty("vlm4j.root", "..") + "/src/test/resources")).resolve("fixtures/external-data");

  @Test
  void validExternalDataLoadsAndRuns() throws Exception {
    OnnxFileInfo info = OnnxFileInfo.read(DIR.resolve("ok.onnx"));
    assertEquals(16, info.parameterCount());
    assertEquals(64, info.weightBytes());
    assertEquals("weights.bin", info.initializers().get(0).externalLocation());
    try (OnnxGraph g = OnnxGraph.open(ModelFolder.of(DIR), "ok.onnx", SessionSettings.DEFAULT)) {
      FloatBuffer x = Tensors.directFloats(16);
      for (int i = 0; i < 16; i++) {
        x.put(i, 100f);
      }
      try (OnnxTensor t = Tensors.floats(x, 16); OrtSession.Result r = g.run(Map.of("X", t))) {
        float[] y = Tensors.readFloats(r.get(0));
        float[] expected = new float[16];
        for (int i = 0; i < 16; i++) {
          expected[i] = 100f + i;
        }
        assertArrayEquals(expected, y);
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
      "traversal.onnx, leaves the model folder",
      "nested_traversal.onnx, leaves the model folder",
      "absolute.onnx, only relative paths",
      "missing.onnx, does not exist",
      "past_end.onnx, beyond the end"})
  void hostileReferencesAreRefusedBeforeOnnxRuntimeReadsThem(String file, String expected) {
    ModelLoadException e = assertThrows(ModelLoadException.class,
        () -> OnnxGraph.open(ModelFolder.of(DIR), file, SessionSettings.DEFAULT));
    assertTrue(e.getMessage().contains(expected), e.getMessage());
    assertTrue(e.getMessage().contains("'W'"), "names the weight: " + e.getMessage());
  }
}
