package io.github.vlm4j.it;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Manifest v2 (issue 17): the pretrained MobileNet as the image encoder ({@code vlm4j-tiny-cnn}, a
 * complete folder with a trained projector and adapter) and three overlays on it — ViT + CNN on
 * channels (COMM), two ViT layers, the CNN at two scales (S2) — reproduce their PyTorch goldens
 * ({@code refmodels.cnn.fixtures}): prompt ids and greedy ids equal, first-step logits within 1e-4.
 * An overlay folder is assembled in a temporary folder: {@code vlm4j-tiny-cnn}'s files, then {@code
 * vlm4j-tiny-cnn-variants/onnx/*}, then the variant's own manifest, projector and goldens. {@code
 * modular-v2} is {@code vlm4j-tiny-modular} with its manifest rewritten as version 2 (the kit ViT as
 * the only encoder, its 8×8 token grid unpooled): it must give that fixture's own goldens.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EncoderLayoutsGoldenTest {
  static final String BASE = "vlm4j-tiny-cnn";
  static final String MODULAR_V2 = "modular-v2";
  static final String[] VARIANTS = {"comm", "multilayer", "s2", MODULAR_V2};
  private final Map<String, VisionLanguageModel> loaded = new HashMap<>();
  private final Map<String, Path> folders = new HashMap<>();
  private Path tmp;

  @AfterAll
  void close() throws IOException {
    loaded.values().forEach(VisionLanguageModel::close);
    if (tmp != null) {
      try (Stream<Path> s = Files.walk(tmp)) {
        s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    List<String> names = new ArrayList<>(List.of(BASE));
    names.addAll(List.of(VARIANTS));
    for (String n : names) {
      Path folder = folder(n);
      for (JsonNode c : Fixtures.json(folder.resolve("goldens.json")).get("cases")) {
        out.add(Arguments.of(n, c.get("name").asText(), c));
      }
    }
    return out.stream();
  }

  /** The model folder of a fixture: the base folder itself, or a variant assembled once. */
  synchronized Path folder(String name) {
    return folders.computeIfAbsent(name, n -> n.equals(BASE) ? Fixtures.model(BASE) : assemble(n));
  }

  private Path assemble(String variant) {
    try {
      if (tmp == null) {
        tmp = Files.createTempDirectory("vlm4j-encoders");
      }
      Path dir = tmp.resolve(variant);
      Path variants = Fixtures.model(BASE + "-variants");
      if (variant.equals(MODULAR_V2)) {
        copyTree(Fixtures.model("vlm4j-tiny-modular"), dir);
      } else {
        copyTree(Fixtures.model(BASE), dir);
        copyTree(variants.resolve("onnx"), dir.resolve("onnx"));
      }
      copyTree(variants.resolve(variant), dir);
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
  }

  private synchronized VisionLanguageModel model(String name) throws ModelLoadException {
    VisionLanguageModel m = loaded.get(name);
    if (m == null) {
      m = VisionLanguageModel.load(folder(name));
      loaded.put(name, m);
    }
    return m;
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void reproducesPyTorchGolden(String fixture, String caseName, JsonNode c) throws ModelLoadException {
    GoldenParityTest.assertGolden(model(fixture), folder(fixture), c);
  }
}
