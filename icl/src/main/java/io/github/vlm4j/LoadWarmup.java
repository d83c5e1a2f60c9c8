package io.github.vlm4j;

import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.vision.ImageDecoder;
import io.github.vlm4j.vision.PixelOps;
import io.github.vlm4j.vision.ResampleFilter;
import io.github.vlm4j.vision.Resampler;
import io.github.vlm4j.vision.RgbImage;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;
import javax.imageio.ImageIO;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the Java side of a request once on a background thread right after a model's graphs have
 * loaded: decoding a PNG and a JPEG, every resampling filter and normalisation, on synthetic input.
 * In a fresh JVM these paths are interpreted and cost the first request several hundred
 * milliseconds. It starts after loading, not during it, because the graphs now load concurrently
 * and keep every core busy (a warm-up thread then only lengthened loading); the build does not wait
 * for it. It touches no native resource and holds nothing. {@link #prepareOnce} runs the model's own
 * request preparation (its preprocessor, image expansion, chat template and prompt assembly) on a
 * synthetic image on the building thread, still without running a graph. Nothing either computes is
 * kept (beyond one entry of the model's frame-layout memo), and a failure only logs at debug level.
 * Compiled code serves the whole JVM, so the background part runs for the first build of a process
 * only and the preparation once per model type.
 */
final class LoadWarmup {
  private static final Logger LOG = LoggerFactory.getLogger(LoadWarmup.class);
  /** Compiled code stays for the JVM's lifetime: the generic part runs once per JVM, preparation once per model type. */
  private static final java.util.concurrent.atomic.AtomicBoolean GENERIC_DONE = new java.util.concurrent.atomic.AtomicBoolean();
  private static final java.util.Set<String> PREPARED = java.util.concurrent.ConcurrentHashMap.newKeySet();

  private LoadWarmup() {}

  /** Starts warming up on a background daemon thread (once per JVM); returns at once. */
  static void start(ImageDecoder decoder) {
    if (!GENERIC_DONE.compareAndSet(false, true)) {
      return;
    }
    Thread thread = new Thread(() -> {
      try {
        run(decoder);
      } catch (RuntimeException | IOException | LinkageError e) {
        LOG.debug("load warm-up skipped: {}", e.toString());
      }
    }, "vlm4j-load-warmup");
    thread.setDaemon(true);
    thread.start();
  }

  private static void run(ImageDecoder decoder) throws IOException {
    BufferedImage synthetic = synthetic();
    for (String format : new String[] {"png", "jpg"}) {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      ImageIO.write(synthetic, format, bytes);
      RgbImage rgb = decoder.decode(bytes.toByteArray(), "the load warm-up image");
      for (ResampleFilter f : ResampleFilter.values()) {
        RgbImage up = Resampler.resize(rgb, 384, 384, f);
        PixelOps.toNormalizedChw(Resampler.resize(up, 97, 61, f), true, 1 / 255.0, true,
            new double[] {0.5, 0.5, 0.5}, new double[] {0.5, 0.5, 0.5});
      }
    }
  }

  /** The model's request preparation on a synthetic image and text: no graph runs. */
  static void prepareOnce(VisionLanguageModel model) {
    if (!PREPARED.add(model.modelType())) {
      return;
    }
    try {
      GenerationSession.prepare(model, List.of(Message.user(ImageInput.of(synthetic()), "Describe this image.")),
          RequestOptions.DEFAULT, 1);
    } catch (RuntimeException | LinkageError e) {
      LOG.debug("load warm-up of the request preparation skipped: {}", e.toString());
    }
  }

  private static BufferedImage synthetic() {
    BufferedImage image = new BufferedImage(97, 61, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < image.getHeight(); y++) {
      for (int x = 0; x < image.getWidth(); x++) {
        image.setRGB(x, y, ((x * 31 + y * 17) & 0xFF) * 0x010101 ^ (x << 16));
      }
    }
    return image;
  }
}
