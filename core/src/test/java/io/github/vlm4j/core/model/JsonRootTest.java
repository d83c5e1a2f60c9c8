package io.github.vlm4j.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.vlm4j.core.ModelLoadException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Fuzz finding F5: a config file must be one JSON object, nothing before or after it. */
class JsonRootTest {
  static ModelLoadException fails(String json) {
    return assertThrows(ModelLoadException.class,
        () -> ModelFolder.parseJson(json.getBytes(StandardCharsets.UTF_8), "config.json"));
  }

  @Test
  void nonObjectRootsAndTrailingGarbageAreMalformed() {
    for (String bad : new String[] {"\"x\"", "true", "12", "[]", "null", "{} x", "{\"a\": 1} {\"b\": 2}", "true garbage"}) {
      ModelLoadException e = fails(bad);
      assertEquals(ModelLoadException.Reason.MALFORMED_CONFIG, e.reason(), bad);
    }
    assertTrue(fails("\"x\"").getMessage().contains("must hold a JSON object, found string"));
  }

  @Test
  void anObjectStillParses() throws Exception {
    assertEquals(1, ModelFolder.parseJson("{\"a\": 1}\n".getBytes(StandardCharsets.UTF_8), "c").path("a").asInt());
  }
}
