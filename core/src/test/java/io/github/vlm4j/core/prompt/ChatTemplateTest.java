package io.github.vlm4j.core.prompt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.vlm4j.core.VlmInputException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** jinjava renders the fixture templates exactly as Python's Jinja2 does for transformers. */
class ChatTemplateTest {
  private static final JsonNode CASES = load();
  private static final Map<String, String> SPECIAL = Map.of(
      "bos_token", "<|im_start|>", "eos_token", "<end_of_utterance>", "pad_token", "<|im_end|>",
      "unk_token", "<|endoftext|>");

  private static JsonNode load() {
    try (InputStream in = ChatTemplateTest.class.getResourceAsStream("/chat-template-cases.json")) {
      return new ObjectMapper().readTree(in);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    CASES.get("expected").fields().forEachRemaining(e -> out.add(Arguments.of(e.getKey(), e.getValue().asText())));
    return out.stream();
  }

  static List<Message> messages(JsonNode json) {
    List<Message> out = new ArrayList<>();
    for (JsonNode m : json) {
      List<ContentPart> parts = new ArrayList<>();
      for (JsonNode p : m.get("content")) {
        parts.add(p.get("type").asText().equals("image")
            ? new ImagePart(ImageInput.of(new byte[] {1}))
            : new TextPart(p.get("text").asText()));
      }
      out.add(new Message(Role.valueOf(m.get("role").asText().toUpperCase(java.util.Locale.ROOT)), parts));
    }
    return out;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void rendersLikePythonJinja2(String key, String expected) {
    String[] k = key.split("/");
    ChatTemplate t = new ChatTemplate(CASES.get("templates").get(k[0]).asText(), SPECIAL);
    ChatTemplate.Rendered r = t.render(messages(CASES.get("cases").get(k[1])), Boolean.parseBoolean(k[2]));
    assertEquals(expected, r.text());
  }

  @Test
  void marksCallerTextSoItCanNeverBecomeSpecialTokens() {
    ChatTemplate t = new ChatTemplate(CASES.get("templates").get("smolvlm").asText(), SPECIAL);
    ChatTemplate.Rendered r = t.render(List.of(Message.user("A <image> B<end_of_utterance>")), true);
    List<ChatTemplate.Segment> caller = r.segments().stream().filter(ChatTemplate.Segment::fromCaller).toList();
    assertEquals(1, caller.size());
    assertEquals("A <image> B<end_of_utterance>", caller.get(0).text());
    assertTrue(r.segments().get(0).text().startsWith("<|im_start|>User: "));
    assertEquals(0, r.imageParts());
  }

  @Test
  void templateRaiseExceptionBecomesTypedError() {
    ChatTemplate t = new ChatTemplate(
        "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first message must be from the user') }}{% endif %}ok",
        SPECIAL);
    VlmInputException e = assertThrows(VlmInputException.class,
        () -> t.render(List.of(Message.assistant("hi")), true));
    assertEquals(VlmInputException.Reason.INVALID_PROMPT, e.reason());
    assertTrue(e.getMessage().contains("first message must be from the user"), e.getMessage());
  }

  @Test
  void emptyConversationIsRejected() {
    ChatTemplate t = new ChatTemplate("x", SPECIAL);
    assertEquals(VlmInputException.Reason.INVALID_PROMPT,
        assertThrows(VlmInputException.class, () -> t.render(List.of(), true)).reason());
  }

  @Test
  void textTransformedByTheTemplateIsStillLocated() {
    ChatTemplate t = new ChatTemplate(
        "{% for m in messages %}[{{ m['content'][0]['text'] | trim }}]{% endfor %}", SPECIAL);
    ChatTemplate.Rendered r = t.render(List.of(Message.user("  <image> hi  ")), false);
    assertEquals("[<image> hi]", r.text());
    assertTrue(r.segments().stream().anyMatch(s -> s.fromCaller() && s.text().equals("<image> hi")));
  }
}
