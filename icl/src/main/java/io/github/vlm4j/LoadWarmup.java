package io.github.vlm4j;

import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.prompt.ChatTemplate;
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
 * Runs the Java side of a request once while ONNX Runtime loads the graphs: decoding a PNG and a
 * JPEG, every resampling filter, normalisation and the chat template, on synthetic input. It
 * touches no native resource of the build (so a failing build does not wait for it: it is only
 * interrupted, and stops at its next stage). In a fresh JVM these paths are interpreted and cost the first request several hundred
 * milliseconds; graph loading is native and leaves a core free, so they are compiled for free.
 * Once the model is built, {@link #prepareOnce} runs the model's own request preparation (its
 * preprocessor, image expansion and prompt assembly) on a synthetic image, still without running a
 * graph. Nothing it computes is kept (beyond one entry of the model's frame-layout memo), and a
 * failure only logs at debug level. Compiled code serves the whole JVM, so the background part runs
 * for the first build of a process only and the preparation once per model type.
 */
final class LoadWarmup {
  private static final Logger LOG = LoggerFactory.getLogger(LoadWarmup.class);
  /** Compiled code stays for the JVM's lifetime: the generic part runs once per JVM, preparation once per model type. */
  private static final java.util.concurrent.atomic.AtomicBoolean GENERIC_DONE = new java.util.concurrent.atomic.AtomicBoolean();
  private static final java.util.Set<String> PREPARED = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private static final LoadWarmup NONE = new LoadWarmup(() -> { });
  private final Thread thread;

  private LoadWarmup(Runnable work) {
    thread = new Thread(work, "vlm4j-load-warmup");
    thread.setDaemon(true);
    thread.setPriority(Thread.MIN_PRIORITY);
  }

  /** Starts warming up on a background thread. */
  static LoadWarmup start(ModelFolder folder, ImageDecoder decoder) {
    if (!GENERIC_DONE.compareAndSet(false, true)) {
      return NONE;
    }
    LoadWarmup w = new LoadWarmup(() -> {
      try {
        run(folder, decoder);
      } catch (RuntimeException | IOException | io.github.vlm4j.core.ModelLoadException | LinkageError e) {
        LOG.debug("load warm-up skipped: {}", e.toString());
      }
    });
    w.thread.start();
    return w;
  }

  private static void run(ModelFolder folder, ImageDecoder decoder)
      throws IOException, io.github.vlm4j.core.ModelLoadException {
    BufferedImage synthetic = synthetic();
    for (String format : new String[] {"png", "jpg"}) {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      ImageIO.write(synthetic, format, bytes);
      RgbImage rgb = decoder.decode(bytes.toByteArray(), "the load warm-up image");
      for (ResampleFilter f : ResampleFilter.values()) {
        if (Thread.currentThread().isInterrupted()) {
          return;
        }
        RgbImage up = Resampler.resize(rgb, 384, 384, f);
        PixelOps.toNormalizedChw(Resampler.resize(up, 97, 61, f), true, 1 / 255.0, true,
            new double[] {0.5, 0.5, 0.5}, new double[] {0.5, 0.5, 0.5});
      }
    }
    if (!Thread.currentThread().isInterrupted() && folder.exists(ChatTemplate.TOKENIZER_CONFIG)) {
      ChatTemplate.fromTokenizerConfig(folder)
          .renderText(List.of(Message.user(ImageInput.of(synthetic), "Describe this image.")), true);
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

  /** Waits for the warm-up to end (at most {@code millis} > 0); it then stops at its next stage. */
  void finish(long millis) {
    if (this == NONE) {
      return;
    }
    try {
      thread.join(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    thread.interrupt();
  }

  /** Stops the warm-up at its next stage without waiting (a failed build). */
  void abandon() {
    if (this == NONE) {
      return;
    }
    GENERIC_DONE.set(false);   // the next build tries again
    thread.interrupt();
  }
}
