package io.github.vlm4j.langchain4j;

import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;

/** The kit's tiny SmolVLM/Idefics3 model (loaded once per test JVM, never closed by tests) and its pictures. */
final class TestModels {
  static final String PROMPT = "What colours are in the image?";
  static final String PICTURE = "scene_colours_wide_0.png";
  private static VisionLanguageModel model;

  private TestModels() {}

  /** @return the reference models folder, relative to the reactor root as the other modules find it */
  static Path models() {
    return Path.of(System.getProperty("vlm4j.root", "../..")).resolve("src/test/resources/models");
  }

  static synchronized VisionLanguageModel model() {
    if (model == null) {
      try {
        model = VisionLanguageModel.load(models().resolve("vlm4j-tiny-idefics3"));
      } catch (ModelLoadException e) {
        throw new IllegalStateException(e);
      }
    }
    return model;
  }

  /** @param name a picture of the tiny model's goldens folder @return its path */
  static Path picturePath(String name) {
    return models().resolve("vlm4j-tiny-idefics3/goldens").resolve(name);
  }

  /** @param name a picture of the tiny model's goldens folder @return its bytes */
  static byte[] picture(String name) {
    try {
      return Files.readAllBytes(picturePath(name));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String base64(byte[] bytes) {
    return Base64.getEncoder().encodeToString(bytes);
  }
}
