package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

/**
 * The committed MobileNet (converted from TF.js by the kit) run by ONNX Runtime gives TF.js's own
 * ImageNet top-5 on the kit's test inputs, and logits within 1e-3 of TF.js's (recorded by
 * {@code refmodels.cnn.verify} from {@code @tensorflow/tfjs} in node, not from this runtime).
 */
class MobileNetConversionTest {
  private static final Path DIR = Fixtures.models().resolve("mobilenet");

  @Test
  void topFiveAndLogitsEqualTfjs() throws OrtException, IOException {
    JsonNode ref = Fixtures.json(DIR.resolve("tfjs_reference.json")).get("images");
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
      o.setIntraOpNumThreads(1);
      try (OrtSession s = env.createSession(DIR.resolve("mobilenet_v1_025.onnx").toString(), o)) {
        for (var it = ref.fields(); it.hasNext(); ) {
          var e = it.next();
          float[] logits = run(env, s, DIR.resolve("inputs").resolve(e.getKey() + ".png"));
          JsonNode want = e.getValue();
          double worst = 0;
          for (int k = 0; k < logits.length; k++) {
            worst = Math.max(worst, Math.abs(logits[k] - want.get("logits").get(k).asDouble()));
          }
          List<Integer> top = IntStream.range(0, logits.length).boxed()
              .sorted(Comparator.comparingDouble(k -> -logits[k])).limit(5).toList();
          List<Integer> wantTop = new ArrayList<>();
          want.get("top5").forEach(n -> wantTop.add(n.asInt()));
          assertEquals(wantTop, top, e.getKey() + ": top-5");
          assertTrue(worst < 1e-3, e.getKey() + ": max abs logit difference " + worst);
        }
      }
    }
  }

  private static float[] run(OrtEnvironment env, OrtSession s, Path png) throws IOException, OrtException {
    BufferedImage img = ImageIO.read(png.toFile());
    int h = img.getHeight();
    int w = img.getWidth();
    FloatBuffer px = FloatBuffer.allocate(h * w * 3);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int rgb = img.getRGB(x, y);
        px.put(((rgb >> 16) & 255) / 255f).put(((rgb >> 8) & 255) / 255f).put((rgb & 255) / 255f);
      }
    }
    try (OnnxTensor t = OnnxTensor.createTensor(env, px.flip(), new long[] {1, h, w, 3});
         OrtSession.Result r = s.run(Map.of("pixel_values", t))) {
      return ((float[][]) r.get("logits").orElseThrow().getValue())[0];
    }
  }
}
