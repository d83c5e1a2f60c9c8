package io.github.vlm4j.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.vlm4j.core.ModelLoadException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Strict config reading: no wrapping, no truncation, messages naming file, field, range and value. */
class ConfigReaderTest {
  static ConfigReader reader(String json) throws Exception {
    return ConfigReader.of(new ObjectMapper().readTree(json), "cfg.json");
  }

  static void malformed(Executable e, String... inMessage) {
    ModelLoadException x = assertThrows(ModelLoadException.class, e);
    assertEquals(ModelLoadException.Reason.MALFORMED_CONFIG, x.reason(), x.getMessage());
    for (String s : inMessage) {
      assertTrue(x.getMessage().contains(s), "message should mention '" + s + "': " + x.getMessage());
    }
  }

  @Test
  void integersAreReadExactlyAndRangeChecked() throws Exception {
    ConfigReader r = reader("{\"a\": 7, \"b\": 4294967424, \"c\": 2.5, \"d\": \"7\", \"e\": 8.0, \"f\": -1,"
        + " \"g\": 1e400, \"n\": null, \"o\": {\"x\": 3}}");
    assertEquals(7, r.requireInt("a", 1, 10));
    assertEquals(8, r.requireInt("e", 1, 10), "an integral double is an integer");
    assertEquals(3, r.requireInt("o.x", 1, 10));
    assertEquals(5, r.intOr("missing", 1, 10, 5));
    assertEquals(5, r.intOr("n", 1, 10, 5), "null counts as missing");
    malformed(() -> r.requireInt("b", 1, Integer.MAX_VALUE), "cfg.json", "\"b\"", "4294967424", "[1, 2147483647]");
    malformed(() -> r.requireInt("c", 1, 10), "\"c\"", "2.5");
    malformed(() -> r.requireInt("d", 1, 10), "\"d\"", "\"7\"");
    malformed(() -> r.requireInt("f", 0, 10), "\"f\"", "-1", "[0, 10]");
    malformed(() -> r.requireInt("g", 0, 10), "\"g\"");
    malformed(() -> r.requireInt("missing", 0, 10), "missing integer", "\"missing\"");
    malformed(() -> r.requireInt("o", 0, 10), "\"o\"");
  }

  @Test
  void numbersListsAndFlags() throws Exception {
    ConfigReader r = reader("{\"std\": [0.5, 0, 0.5], \"m\": 0.5, \"ids\": [1, 2, 99], \"t\": true, \"s\": \"yes\","
        + " \"big\": 1e400}");
    malformed(() -> r.doubles("std", 3, 1e-3, 10, 1), "std[1]", "0");
    assertArrayEquals(new double[] {0.5, 0.5, 0.5}, r.doubles("m", 3, 0, 1, 0));
    assertArrayEquals(new double[] {1, 1, 1}, r.doubles("absent", 3, 0, 1, 1));
    malformed(() -> r.doubles("ids", 2, 0, 100, 0), "ids", "2 numbers");
    assertEquals(List.of(1, 2), reader("{\"ids\": [1, 2]}").intList("ids", 0, 10));
    malformed(() -> r.intList("ids", 0, 10), "ids[2]", "99");
    assertTrue(r.boolOr("t", false));
    malformed(() -> r.boolOr("s", false), "\"s\"", "true or false");
    malformed(() -> r.optDouble("big", 0, 10), "\"big\"", "finite");
  }

  @Test
  void fileNamesMustStayInsideTheFolder() throws Exception {
    ConfigReader r = reader("{\"a\": {\"file\": \"../x.onnx\"}, \"b\": \"/etc/passwd\", \"c\": \"onnx/ok.onnx\"}");
    ModelLoadException e = assertThrows(ModelLoadException.class, () -> r.object("a").requireFileName("file"));
    assertEquals(ModelLoadException.Reason.FILE_OUTSIDE_FOLDER, e.reason());
    assertTrue(e.getMessage().contains("a.file") && e.getMessage().contains("../x.onnx"), e.getMessage());
    assertEquals(ModelLoadException.Reason.FILE_OUTSIDE_FOLDER,
        assertThrows(ModelLoadException.class, () -> r.requireFileName("b")).reason());
    assertEquals("onnx/ok.onnx", r.requireFileName("c"));
  }

  @Test
  void jsonIsParsedWithinBounds(@TempDir Path dir) throws Exception {
    malformed(() -> ModelFolder.parseJson("[".repeat(ModelFolder.MAX_JSON_DEPTH + 1).getBytes(StandardCharsets.UTF_8),
        "deep.json"), "deep.json");
    malformed(() -> ModelFolder.parseJson(("{\"n\": " + "1".repeat(ModelFolder.MAX_JSON_NUMBER + 1) + "}")
        .getBytes(StandardCharsets.UTF_8), "long.json"), "long.json");
    malformed(() -> ModelFolder.parseJson(new byte[0], "empty.json"), "empty.json");
    JsonNode ok = ModelFolder.parseJson("{\"a\": 1}".getBytes(StandardCharsets.UTF_8), "ok.json");
    assertEquals(1, ok.get("a").asInt());
    Files.writeString(dir.resolve("x.json"), "{}");
    ModelFolder folder = ModelFolder.of(dir);
    assertEquals(ModelLoadException.Reason.FILE_OUTSIDE_FOLDER,
        assertThrows(ModelLoadException.class, () -> folder.readJson("../x.json")).reason());
    assertEquals(ModelLoadException.Reason.MALFORMED_CONFIG,
        assertThrows(ModelLoadException.class, () -> folder.readBytes("x.json", 1)).reason());
    ModelFolder cp = ModelFolder.onClasspath(getClass().getClassLoader(), "nothing");
    assertEquals(ModelLoadException.Reason.FILE_OUTSIDE_FOLDER,
        assertThrows(ModelLoadException.class, () -> cp.exists("../../etc/passwd")).reason());
  }
}
