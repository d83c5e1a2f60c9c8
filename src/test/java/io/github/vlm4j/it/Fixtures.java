package io.github.vlm4j.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.vlm4j.core.prompt.ContentPart;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.ImagePart;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.core.prompt.Role;
import io.github.vlm4j.core.prompt.TextPart;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Locates the committed reference models and reads their goldens and evaluation cases. */
public final class Fixtures {
  private static final ObjectMapper JSON = new ObjectMapper();

  private Fixtures() {}

  /** @return the folder holding the reference models ({@code -Dvlm4j.models} overrides) */
  public static Path models() {
    String override = System.getProperty("vlm4j.models");
    if (override != null) {
      return Path.of(override);
    }
    return Path.of(System.getProperty("vlm4j.root", "../..")).resolve("src/test/resources/models");
  }

  /** @param name e.g. {@code vlm4j-tiny-idefics3} @return its folder */
  public static Path model(String name) {
    return models().resolve(name);
  }

  /** @return the evaluation set folder */
  public static Path eval() {
    return models().getParent().resolve("eval");
  }

  /**
   * Finds one golden case of a committed tiny model.
   *
   * @param model the model folder's name
   * @param caseName the case's {@code name}
   * @return the case of its {@code goldens.json}
   * @throws AssertionError if there is none
   */
  public static JsonNode golden(String model, String caseName) {
    for (JsonNode c : json(model(model).resolve("goldens.json")).get("cases")) {
      if (c.get("name").asText().equals(caseName)) {
        return c;
      }
    }
    throw new AssertionError(model + " has no golden case " + caseName);
  }

  /** @param file a JSON file @return its tree */
  public static JsonNode json(Path file) {
    try {
      return JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** @param file a JSON-lines file @return one tree per line */
  public static List<JsonNode> jsonLines(Path file) {
    try {
      List<JsonNode> out = new ArrayList<>();
      for (String line : Files.readAllLines(file)) {
        if (!line.isBlank()) {
          out.add(JSON.readTree(line));
        }
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * @param messages HF-format messages
   * @param images image files, in order of the image parts
   * @return vlm4j messages
   */
  public static List<Message> messages(JsonNode messages, List<Path> images) {
    List<Message> out = new ArrayList<>();
    int k = 0;
    for (JsonNode m : messages) {
      List<ContentPart> parts = new ArrayList<>();
      for (JsonNode p : m.get("content")) {
        if (p.get("type").asText().equals("image")) {
          parts.add(new ImagePart(ImageInput.of(images.get(k++))));
        } else {
          parts.add(new TextPart(p.get("text").asText()));
        }
      }
      out.add(new Message(Role.valueOf(m.get("role").asText().toUpperCase(Locale.ROOT)), parts));
    }
    return out;
  }

  /** One held-out evaluation case of {@code eval/cases.jsonl}. */
  public record EvalCase(String id, String task, JsonNode messages, List<Path> images, String answer, JsonNode meta) {
    /** @return the case's chat (ending with the user turn) */
    public List<Message> chat() {
      return Fixtures.messages(messages, images);
    }
  }

  /** @return every evaluation case */
  public static List<EvalCase> evalCases() {
    List<EvalCase> out = new ArrayList<>();
    for (JsonNode c : jsonLines(eval().resolve("cases.jsonl"))) {
      List<Path> imgs = new ArrayList<>();
      c.get("images").forEach(n -> imgs.add(eval().resolve(n.asText())));
      out.add(new EvalCase(c.get("id").asText(), c.get("task").asText(), c.get("messages"), imgs,
          c.get("answer").asText(), c.get("meta")));
    }
    return out;
  }

  /** @param task a task name @return its cases */
  public static List<EvalCase> evalCases(String task) {
    return evalCases().stream().filter(c -> c.task().equals(task)).toList();
  }

  /** @return {@code eval/results.json}: config → task → accuracy, cases */
  public static JsonNode evalResults() {
    return json(eval().resolve("results.json"));
  }

  /** @param node a JSON array of ints @return the ints */
  public static int[] ints(JsonNode node) {
    int[] out = new int[node.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = node.get(i).asInt();
    }
    return out;
  }

  /**
   * @param ec a held-out ICL episode
   * @return its demos (one image and label each) and query image as a typed few-shot prompt
   */
  public static io.github.vlm4j.FewShotPrompt fewShot(EvalCase ec) {
    io.github.vlm4j.FewShotPrompt.Builder b = io.github.vlm4j.FewShotPrompt.builder()
        .style(ec.meta().get("style").asText().equals("turns") ? io.github.vlm4j.FewShotPrompt.Style.TURNS
            : io.github.vlm4j.FewShotPrompt.Style.SINGLE_TURN);
    JsonNode demoLabels = ec.meta().get("demo_labels");
    for (int i = 0; i < demoLabels.size(); i++) {
      b.demo(io.github.vlm4j.Demo.of(ImageInput.of(ec.images().get(i)), demoLabels.get(i).asText()));
    }
    return b.query(ImageInput.of(ec.images().get(demoLabels.size()))).build();
  }

  /**
   * Copies a committed reference model so a test can damage the copy.
   *
   * @param name e.g. {@code vlm4j-tiny-idefics3}
   * @param dst the folder to create
   * @return {@code dst}
   */
  public static Path copyModel(String name, Path dst) throws IOException {
    Path src = model(name);
    try (java.util.stream.Stream<Path> s = Files.walk(src)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        Path t = dst.resolve(src.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(t);
        } else {
          Files.copy(p, t, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
    return dst;
  }
}
