package io.github.vlm4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.vlm4j.ContextPolicy;
import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ContentPart;
import io.github.vlm4j.core.prompt.ImagePart;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.core.prompt.Role;
import io.github.vlm4j.core.prompt.TextPart;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.constraint.OutputConstraint;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A parsed {@code POST /v1/chat/completions} body: the conversation, the generation settings and
 * the streaming choices. Every field is type-checked and every image limit is checked here, before
 * any image is decoded; unknown fields are ignored, as OpenAI does.
 *
 * @param messages the conversation
 * @param config generation settings
 * @param options vlm4j request options (adapter, image splitting)
 * @param stream answer as server-sent events
 * @param includeUsage with {@code stream}: a last chunk carrying {@code usage}
 * @param images images in the request
 */
record ChatRequest(List<Message> messages, GenerationConfig config, RequestOptions options, boolean stream,
    boolean includeUsage, int images) {

  /**
   * The constraint of {@code response_format: json_object}: {@link OutputConstraint#jsonObject()}
   * (one JSON object with free property names, two levels).
   *
   * @return the shared constraint
   */
  static OutputConstraint jsonObjectConstraint() {
    return OutputConstraint.jsonObject();
  }

  private static final Set<String> ROLES = Set.of("system", "developer", "user", "assistant");

  /**
   * @param body the request object
   * @param options server limits
   * @param images resolves image URLs
   * @param eosIds the model's end-of-sequence ids (for {@code ignore_eos})
   * @return the request
   * @throws ApiError 400 (413 for an oversized image) naming the field
   */
  static ChatRequest parse(JsonNode body, ServerOptions options, ImageSources images, Set<Integer> eosIds) {
    refuseUnsupported(body);
    JsonNode list = Json.array(body, "messages", "messages");
    if (list.isEmpty()) {
      throw ApiError.badRequest("invalid_prompt", "messages", "expected at least one message, found none");
    }
    int imageCount = countImages(list);
    if (imageCount > options.maxImages()) {
      throw ApiError.badRequest("too_many_images", "messages", "expected at most " + options.maxImages()
          + " images per request, found " + imageCount);
    }
    List<Message> messages = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      messages.add(message(list.get(i), "messages[" + i + "]", images));
    }
    boolean stream = Boolean.TRUE.equals(Json.optBoolean(body, "stream", "stream"));
    boolean includeUsage = false;
    if (!Json.absent(body, "stream_options")) {
      JsonNode so = Json.object(body.get("stream_options"), "stream_options");
      includeUsage = Boolean.TRUE.equals(Json.optBoolean(so, "include_usage", "stream_options.include_usage"));
    }
    return new ChatRequest(messages, config(body, options, eosIds), requestOptions(body), stream, includeUsage, imageCount);
  }

  /**
   * Refuses OpenAI parameters that would change the answer but that vlm4j does not implement, rather
   * than ignoring them: more than one choice, tools and functions, log probabilities, audio output
   * and predicted outputs. Their neutral values (as clients send by default: {@code n: 1},
   * {@code tools: []}, {@code tool_choice: "none"}, {@code logprobs: false},
   * {@code modalities: ["text"]}) pass.
   * Fields that do not change the answer ({@code user}, {@code metadata}, {@code store}, ...) are
   * ignored, as OpenAI does with fields it does not know.
   */
  static void refuseUnsupported(JsonNode body) {
    Integer n = Json.optInt(body, "n", "n");
    if (n != null && n != 1) {
      throw ApiError.badRequest("unsupported_parameter", "n", "expected n = 1 (one choice per request), found " + n);
    }
    for (String f : List.of("tools", "functions")) {
      if (!Json.absent(body, f) && !(body.get(f).isArray() && body.get(f).isEmpty())) {
        throw unsupported(f, "tool and function calling is not supported: expected no " + f + ", found "
            + Json.describe(body.get(f)));
      }
    }
    for (String f : List.of("tool_choice", "function_call")) {
      if (!Json.absent(body, f) && !"none".equals(body.get(f).asText(null)) && !"auto".equals(body.get(f).asText(null))) {
        throw unsupported(f, "tool and function calling is not supported: expected " + f + " \"none\" or \"auto\""
            + " without tools, found " + Json.describe(body.get(f)));
      }
    }
    if (Boolean.TRUE.equals(Json.optBoolean(body, "logprobs", "logprobs"))) {
      throw unsupported("logprobs", "log probabilities are not returned: expected logprobs false, found true");
    }
    Integer top = Json.optInt(body, "top_logprobs", "top_logprobs");
    if (top != null && top != 0) {
      throw unsupported("top_logprobs", "log probabilities are not returned: expected top_logprobs 0, found " + top);
    }
    if (!Json.absent(body, "modalities")) {
      for (String m : Json.stringOrStrings(body, "modalities", "modalities")) {
        if (!m.equals("text")) {
          throw unsupported("modalities", "only text output is supported: expected modalities [\"text\"], found \""
              + ImageSources.printable(m) + "\"");
        }
      }
    }
    for (String f : List.of("audio", "prediction")) {
      if (!Json.absent(body, f)) {
        throw unsupported(f, f + " is not supported: expected no " + f + ", found " + Json.describe(body.get(f)));
      }
    }
  }

  private static ApiError unsupported(String param, String message) {
    return ApiError.badRequest("unsupported_parameter", param, message);
  }

  /**
   * @return the vlm4j extension fields {@code adapter}, {@code image_splitting}, {@code context_policy} and
   *     {@code min_pixels}/{@code max_pixels} as request options
   */
  static RequestOptions requestOptions(JsonNode body) {
    RequestOptions o = RequestOptions.DEFAULT;
    String policy = Json.optString(body, "context_policy", "context_policy");
    if (policy != null) {
      try {
        o = o.withContextPolicy(ContextPolicy.parse(policy));
      } catch (VlmInputException e) {
        throw ApiError.badRequest("invalid_value", "context_policy", e.getMessage());
      }
    }
    String adapter = Json.optString(body, "adapter", "adapter");
    if (adapter != null) {
      o = o.withAdapter(adapter);
    }
    Boolean split = Json.optBoolean(body, "image_splitting", "image_splitting");
    if (split != null) {
      o = o.withImageSplitting(split);
    }
    Integer minPixels = Json.optInt(body, "min_pixels", "min_pixels");
    Integer maxPixels = Json.optInt(body, "max_pixels", "max_pixels");
    if ((minPixels == null) != (maxPixels == null)) {
      throw ApiError.badRequest("invalid_value", minPixels == null ? "min_pixels" : "max_pixels",
          "min_pixels and max_pixels go together (the pixel bounds each image is resized into); found only "
              + (minPixels == null ? "max_pixels" : "min_pixels"));
    }
    if (minPixels != null) {
      try {
        o = o.withPixelBudget(minPixels, maxPixels);
      } catch (VlmInputException e) {
        throw ApiError.badRequest("invalid_value", "min_pixels", e.getMessage());
      }
    }
    return o;
  }

  private static int countImages(JsonNode list) {
    int count = 0;
    for (JsonNode m : list) {
      JsonNode c = m.get("content");
      if (c != null && c.isArray()) {
        for (JsonNode p : c) {
          if (p.isObject() && p.path("type").asText("").equals("image_url")) {
            count++;
          }
        }
      }
    }
    return count;
  }

  private static Message message(JsonNode m, String path, ImageSources images) {
    Json.object(m, path);
    String role = Json.string(m, "role", path + ".role").toLowerCase(Locale.ROOT);
    if (!ROLES.contains(role)) {
      throw ApiError.badRequest("unsupported_role", path + ".role", "expected the role system, developer, user or"
          + " assistant, found \"" + ImageSources.printable(role) + "\" (tools and functions are not supported)");
    }
    Role r = switch (role) {
      case "user" -> Role.USER;
      case "assistant" -> Role.ASSISTANT;
      default -> Role.SYSTEM;
    };
    JsonNode content = m.get("content");
    List<ContentPart> parts = new ArrayList<>();
    if (content != null && content.isTextual()) {
      parts.add(new TextPart(content.textValue()));
    } else if (content != null && content.isArray()) {
      for (int i = 0; i < content.size(); i++) {
        parts.add(part(content.get(i), path + ".content[" + i + "]", images, r));
      }
    } else {
      throw Json.wrongType(path + ".content", "a string or an array of content parts", content);
    }
    return new Message(r, parts);
  }

  private static ContentPart part(JsonNode p, String path, ImageSources images, Role role) {
    Json.object(p, path);
    String type = Json.string(p, "type", path + ".type");
    switch (type) {
      case "text":
        return new TextPart(Json.string(p, "text", path + ".text"));
      case "image_url":
        if (role != Role.USER) {
          throw ApiError.badRequest("invalid_prompt", path, "expected images in user messages only, found one in a "
              + role.templateName() + " message");
        }
        JsonNode iu = p.get("image_url");
        String url = iu != null && iu.isTextual() ? iu.textValue()
            : Json.string(Json.object(iu, path + ".image_url"), "url", path + ".image_url.url");
        return new ImagePart(images.load(url, path + ".image_url.url"));
      default:
        throw ApiError.badRequest("unsupported_content_type", path + ".type", "expected a content part of type text"
            + " or image_url, found \"" + ImageSources.printable(type) + "\"");
    }
  }

  private static GenerationConfig config(JsonNode body, ServerOptions options, Set<Integer> eosIds) {
    GenerationConfig.Builder b = GenerationConfig.builder();
    Integer max = Json.optInt(body, "max_completion_tokens", "max_completion_tokens");
    String maxParam = "max_completion_tokens";
    if (max == null) {
      max = Json.optInt(body, "max_tokens", "max_tokens");
      maxParam = "max_tokens";
    }
    Double temperature = Json.optDouble(body, "temperature", "temperature");
    Double topP = Json.optDouble(body, "top_p", "top_p");
    Long seed = Json.optLong(body, "seed", "seed");
    Integer topK = Json.optInt(body, "top_k", "top_k");
    Double repetition = Json.optDouble(body, "repetition_penalty", "repetition_penalty");
    Double presence = Json.optDouble(body, "presence_penalty", "presence_penalty");
    Double frequency = Json.optDouble(body, "frequency_penalty", "frequency_penalty");
    Map<Integer, Double> bias = logitBias(body);
    List<String> stop = Json.stringOrStrings(body, "stop", "stop");
    boolean ignoreEos = Boolean.TRUE.equals(Json.optBoolean(body, "ignore_eos", "ignore_eos"));
    String param = maxParam;
    try {
      b.maxNewTokens(max == null ? options.defaultMaxTokens() : max);
      param = "temperature";
      if (temperature != null && temperature > 0) {
        b.doSample(true).temperature(temperature);
        param = "top_p";
        if (topP != null) {
          b.topP(topP);
        }
        param = "top_k";
        if (topK != null) {
          b.topK(topK);
        }
        if (seed != null) {
          b.seed(seed);
        }
      } else if (temperature != null && temperature < 0) {
        throw ApiError.badRequest("invalid_value", "temperature", "expected a temperature >= 0 (0 = greedy), found "
            + temperature);
      }
      param = "repetition_penalty";
      if (repetition != null) {
        b.repetitionPenalty(repetition);
      }
      // build() checks every value set so far: called here, an error names this parameter
      param = "presence_penalty";
      if (presence != null) {
        b.presencePenalty(presence).build();
      }
      param = "frequency_penalty";
      if (frequency != null) {
        b.frequencyPenalty(frequency).build();
      }
      param = "logit_bias";
      if (!bias.isEmpty()) {
        b.logitBias(bias).build();
      }
      param = "stop";
      if (!stop.isEmpty()) {
        b.stopStrings(stop);
      }
      param = "response_format";
      if (!Json.absent(body, "response_format")) {
        responseFormat(b, Json.object(body.get("response_format"), "response_format"), options.responseFormats());
      }
      if (ignoreEos) {
        if (!Json.absent(body, "response_format")) {
          throw ApiError.badRequest("unsupported_parameter", "ignore_eos", "expected ignore_eos without"
              + " response_format (a constraint ends only at an end-of-sequence token), found both");
        }
        int[] ids = eosIds.stream().mapToInt(Integer::intValue).toArray();
        b.addProcessor((sequence, length, logits) -> {
          for (int id : ids) {
            if (id >= 0 && id < logits.length) {
              logits[id] = Float.NEGATIVE_INFINITY;
            }
          }
        });
      }
      return b.build();
    } catch (VlmInputException e) {
      throw ApiError.badRequest(ErrorMapping.code(e.reason()), param, e.getMessage());
    }
  }

  /** @return {@code logit_bias}: token ids (as JSON object keys) to numbers */
  private static Map<Integer, Double> logitBias(JsonNode body) {
    Map<Integer, Double> bias = new java.util.LinkedHashMap<>();
    if (Json.absent(body, "logit_bias")) {
      return bias;
    }
    JsonNode o = Json.object(body.get("logit_bias"), "logit_bias");
    for (Map.Entry<String, JsonNode> e : o.properties()) {
      String path = "logit_bias." + ImageSources.printable(e.getKey());
      int id;
      try {
        id = Integer.parseInt(e.getKey());
      } catch (NumberFormatException x) {
        throw ApiError.badRequest("invalid_value", "logit_bias", "expected token ids as keys of logit_bias, found \""
            + ImageSources.printable(e.getKey()) + "\"");
      }
      if (!e.getValue().isNumber()) {
        throw Json.wrongType(path, "a number in [-100, 100]", e.getValue());
      }
      bias.put(id, e.getValue().doubleValue());
    }
    return bias;
  }

  private static void responseFormat(GenerationConfig.Builder b, JsonNode rf, boolean allowed) {
    String type = Json.string(rf, "type", "response_format.type");
    if (!allowed && !type.equals("text")) {
      throw ApiError.badRequest("response_format_disabled", "response_format.type", "this server does not accept"
          + " response_format " + ImageSources.printable(type) + " (started with --no-response-format)");
    }
    switch (type) {
      case "text" -> { }
      case "json_object" -> b.constraint(jsonObjectConstraint());
      case "json_schema" -> {
        JsonNode js = Json.object(rf.get("json_schema"), "response_format.json_schema");
        JsonNode schema = Json.object(js.get("schema"), "response_format.json_schema.schema");
        b.constraint(OutputConstraint.jsonSchema(schema.toString()));
      }
      default -> throw ApiError.badRequest("unsupported_response_format", "response_format.type",
          "expected text, json_object or json_schema, found \"" + ImageSources.printable(type) + "\"");
    }
  }
}
