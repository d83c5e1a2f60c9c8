package io.github.vlm4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.decoder.PromptPositions;
import io.github.vlm4j.it.Fixtures;
import io.github.vlm4j.vision.ImageLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Qwen-VL families' M-RoPE positions: for every golden case, the position ids the family computes
 * from the prompt and the preprocessed images equal the PyTorch reference's {@code get_rope_index}
 * ({@code position_ids [3][S]}), and the decode offset equals its {@code rope_delta}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class QwenPositionsTest {
  static final String[] MODELS = {"vlm4j-tiny-qwen2-vl", "vlm4j-tiny-qwen2_5-vl", "vlm4j-tiny-qwen3-vl",
      "vlm4j-tiny-qwen3-vl-deepstack"};
  private final java.util.Map<String, VisionLanguageModel> loaded = new java.util.HashMap<>();

  @BeforeAll
  void load() throws ModelLoadException {
    for (String m : MODELS) {
      loaded.put(m, VisionLanguageModel.load(Fixtures.model(m)));
    }
  }

  @AfterAll
  void close() {
    loaded.values().forEach(VisionLanguageModel::close);
  }

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (String m : MODELS) {
      for (JsonNode c : Fixtures.json(Fixtures.model(m).resolve("goldens.json")).get("cases")) {
        out.add(Arguments.of(m, c.get("name").asText(), c));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void positionsEqualTheReferenceRopeIndex(String name, String caseName, JsonNode c) {
    VisionLanguageModel model = loaded.get(name);
    Path folder = Fixtures.model(name);
    List<ImageLayout> layouts = new ArrayList<>();
    for (JsonNode i : c.get("images")) {
      var rgb = model.imageDecoder().decode(ImageInput.of(folder.resolve(i.asText())), () -> false);
      layouts.add(model.parts().preprocessor().preprocess(rgb, null).layout());
    }
    int[] ids = Fixtures.ints(c.get("prompt_ids"));
    PromptPositions p = model.parts().positions().positions(ids, model.parts().assembler().imageTokenId(), layouts);
    assertEquals(3, p.axes());
    for (int axis = 0; axis < 3; axis++) {
      long[] row = new long[ids.length];
      for (int i = 0; i < ids.length; i++) {
        row[i] = p.at(axis, i);
      }
      assertArrayEquals(toLongs(c.get("position_ids").get(axis)), row, caseName + " axis " + axis);
    }
    assertEquals(c.get("rope_delta").asLong(), p.next() - ids.length, caseName + " rope delta");
  }

  private static long[] toLongs(JsonNode a) {
    long[] out = new long[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).asLong();
    }
    return out;
  }

  @Test
  void imageTokensThatDoNotMatchTheImagesAreRefused() {
    var parts = loaded.get(MODELS[0]).parts();
    int img = parts.assembler().imageTokenId();
    ImageLayout twoByTwo = new ImageLayout(2, 56, 56, 0, 0);   // 4x4 patches, 2x2 merged tokens
    var scheme = parts.positions();
    // 3 image tokens for an image of 4
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> scheme.positions(new int[] {1, img, img, img, 2, 3, 4}, img, List.of(twoByTwo)));
    assertEquals("image 0 needs 4 consecutive image tokens from position 1; position 4 holds token 2", e.getMessage());
    // image tokens but no image
    assertThrows(IllegalArgumentException.class, () -> scheme.positions(new int[] {1, img}, img, List.of()));
    // an image without tokens
    assertThrows(IllegalArgumentException.class, () -> scheme.positions(new int[] {1, 2}, img, List.of(twoByTwo)));
    // a text-only prompt counts 0, 1, 2, ... in every axis and continues at its length
    PromptPositions t = scheme.positions(new int[] {5, 6, 7}, img, List.of());
    assertArrayEquals(new long[] {0, 1, 2, 0, 1, 2, 0, 1, 2}, t.ids());
    assertEquals(3, t.next());
  }
}
