package io.github.vlm4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.Demo;
import io.github.vlm4j.FewShotPrompt;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ImageInput;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A parsed {@code POST /v1/vlm4j/classify} body:
 * <pre>{@code
 * {"question": "Is this part ok or defective?", "instruction": "...", "style": "turns",
 *  "demos": [{"image": "data:image/png;base64,...", "answer": "ok"}, ...],
 *  "query": {"image": "data:image/png;base64,...", "text": "..."},
 *  "labels": ["ok", "defective"], "adapter": "inspection", "image_splitting": false}
 * }</pre>
 * Demos and the query take {@code image} (one) or {@code images} (several); image limits are
 * checked before any decoding.
 *
 * @param prompt the few-shot prompt
 * @param labels candidate answers
 * @param options adapter and image splitting
 */
record ClassifyRequest(FewShotPrompt prompt, List<String> labels, RequestOptions options) {

  static ClassifyRequest parse(JsonNode body, ServerOptions options, ImageSources images) {
    JsonNode demos = Json.absent(body, "demos") ? Json.WRITER.createArrayNode() : Json.array(body, "demos", "demos");
    JsonNode query = Json.object(body.get("query"), "query");
    int count = countImages(query);
    for (JsonNode d : demos) {
      count += countImages(d);
    }
    if (count > options.maxImages()) {
      throw ApiError.badRequest("too_many_images", "demos", "expected at most " + options.maxImages()
          + " images per request, found " + count);
    }
    List<String> labels = Json.stringOrStrings(body, "labels", "labels");
    if (!body.has("labels") || !body.get("labels").isArray()) {
      throw Json.wrongType("labels", "an array of strings", body.get("labels"));
    }
    try {
      FewShotPrompt.Builder b = FewShotPrompt.builder();
      String instruction = Json.optString(body, "instruction", "instruction");
      if (instruction != null) {
        b.instruction(instruction);
      }
      String question = Json.optString(body, "question", "question");
      if (question != null) {
        b.question(question);
      }
      String style = Json.optString(body, "style", "style");
      if (style != null) {
        try {
          b.style(FewShotPrompt.Style.valueOf(style.toUpperCase(Locale.ROOT)));
        } catch (IllegalArgumentException e) {
          throw ApiError.badRequest("invalid_value", "style", "expected the style turns or single_turn, found \""
              + ImageSources.printable(style) + "\"");
        }
      }
      for (int i = 0; i < demos.size(); i++) {
        String path = "demos[" + i + "]";
        JsonNode d = Json.object(demos.get(i), path);
        List<ImageInput> imgs = images(d, path, images);
        String answer = Json.string(d, "answer", path + ".answer");
        String q = Json.optString(d, "question", path + ".question");
        b.demo(q == null && imgs.size() == 1 ? Demo.of(imgs.get(0), answer) : Demo.of(imgs, q, answer));
      }
      b.query(images(query, "query", images), Json.optString(query, "text", "query.text"));
      return new ClassifyRequest(b.build(), labels, ChatRequest.requestOptions(body));
    } catch (VlmInputException e) {
      throw ApiError.badRequest(ErrorMapping.code(e.reason()), null, e.getMessage());
    }
  }

  private static int countImages(JsonNode o) {
    if (o == null || !o.isObject()) {
      return 0;
    }
    int n = o.hasNonNull("image") ? 1 : 0;
    JsonNode list = o.get("images");
    return n + (list != null && list.isArray() ? list.size() : 0);
  }

  private static List<ImageInput> images(JsonNode o, String path, ImageSources images) {
    List<ImageInput> out = new ArrayList<>();
    String one = Json.optString(o, "image", path + ".image");
    if (one != null) {
      out.add(images.load(one, path + ".image"));
    }
    if (!Json.absent(o, "images")) {
      JsonNode list = Json.array(o, "images", path + ".images");
      for (int i = 0; i < list.size(); i++) {
        String p = path + ".images[" + i + "]";
        if (!list.get(i).isTextual()) {
          throw Json.wrongType(p, "a data URI string", list.get(i));
        }
        out.add(images.load(list.get(i).textValue(), p));
      }
    }
    return out;
  }
}
