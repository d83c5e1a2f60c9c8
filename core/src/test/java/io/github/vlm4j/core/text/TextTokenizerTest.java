package io.github.vlm4j.core.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.vlm4j.core.ModelClosedException;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ModelFolder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** DJL-backed tokenizer against vectors from the kit's reference BPE implementation. */
class TextTokenizerTest {
  static final Path RESOURCES = Path.of(System.getProperty("vlm4j.resources",
      System.getProperty("vlm4j.root", "..") + "/src/test/resources"));
  static TextTokenizer tok;
  static JsonNode cases;

  @BeforeAll
  static void load() throws Exception {
    cases = new ObjectMapper().readTree(RESOURCES.resolve("fixtures/tokenizer-cases.json").toFile());
    tok = TextTokenizer.load(ModelFolder.of(RESOURCES.resolve("models/vlm4j-tiny-idefics3")));
  }

  @AfterAll
  static void close() {
    tok.close();
  }

  static int[] ints(JsonNode n) {
    int[] out = new int[n.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = n.get(i).asInt();
    }
    return out;
  }

  @Test
  void plainEncodingMatchesTheReference() {
    for (JsonNode c : cases.get("cases")) {
      String text = c.get("text").asText();
      assertArrayEquals(ints(c.get("plain_ids")), tok.encode(text), text);
      assertEquals(c.get("decoded").asText(), tok.decode(ints(c.get("plain_ids")), true), text);
    }
  }

  @Test
  void templateTextSplitAtAddedTokensMatchesHuggingFaceSemantics() {
    for (JsonNode c : cases.get("cases")) {
      String text = c.get("text").asText();
      List<Integer> ids = new ArrayList<>();
      for (AddedTokenMatcher.Piece p : tok.matcher().split(text)) {
        if (p.isToken()) {
          ids.add(p.token().id());
        } else {
          for (int id : tok.encode(p.text())) {
            ids.add(id);
          }
        }
      }
      assertArrayEquals(ints(c.get("ids")), ids.stream().mapToInt(Integer::intValue).toArray(), text);
    }
  }

  @Test
  void specialStringsInTextStayText() {
    int image = tok.idOf("<image>").getAsInt();
    int[] ids = tok.encode("look: <image><end_of_utterance>");
    for (int id : ids) {
      assertFalse(tok.isSpecial(id), "id " + id + " is special");
      assertTrue(id != image);
    }
  }

  @Test
  void outOfRangeIdsAreRejectedNotWrapped() {
    assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {-1}, true));
    assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {tok.vocabSize()}, true));
    assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {Integer.MAX_VALUE}, true));
  }

  @Test
  void streamingNeverSplitsACharacter() {
    String text = "Unicode: café, naïve, 東京, 🙂 done";
    int[] ids = tok.encode(text);
    StreamingDetokenizer s = new StreamingDetokenizer(tok, true);
    StringBuilder out = new StringBuilder();
    for (int id : ids) {
      String d = s.push(id);
      assertFalse(d.contains("\uFFFD"), "delta '" + d + "'");
      out.append(d);
    }
    out.append(s.flush());
    assertEquals(text, out.toString());
    assertTrue(ids.length > text.codePointCount(0, text.length()) / 3, "multi-byte characters span tokens");
  }

  @Test
  void noTruncationOrPaddingOnLongText() {
    String text = "circle square triangle cross ".repeat(600);
    int[] ids = tok.encode(text);
    assertTrue(ids.length > 2000, "got " + ids.length + " ids");
    assertEquals(text, tok.decode(ids, true));
  }

  @Test
  void closedTokenizerFailsClearly() throws ModelLoadException {
    TextTokenizer t = TextTokenizer.load(ModelFolder.of(RESOURCES.resolve("models/vlm4j-tiny-idefics3")));
    t.close();
    t.close();
    assertThrows(ModelClosedException.class, () -> t.encode("x"));
  }

  @Test
  void garbageTokenizerFileIsTyped() {
    ModelLoadException e = assertThrows(ModelLoadException.class,
        () -> TextTokenizer.load("{\"model\": 3}".getBytes(java.nio.charset.StandardCharsets.UTF_8), "t.json"));
    assertEquals(ModelLoadException.Reason.TOKENIZER, e.reason());
  }
}
