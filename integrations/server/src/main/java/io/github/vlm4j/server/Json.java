package io.github.vlm4j.server;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/** Bounded JSON reading and the typed field accessors of request bodies. Thread-safe. */
final class Json {
  /** Writes responses. */
  static final ObjectMapper WRITER = new ObjectMapper();

  private final ObjectMapper reader;

  /** @param maxBodyBytes the body limit, which also bounds every JSON string */
  Json(long maxBodyBytes) {
    JsonFactory f = JsonFactory.builder().streamReadConstraints(StreamReadConstraints.builder()
        .maxStringLength((int) Math.min(Integer.MAX_VALUE, maxBodyBytes)).maxNestingDepth(64).maxNumberLength(64)
        .build()).build();
    this.reader = new ObjectMapper(f);
  }

  /**
   * @param body the request body
   * @return its JSON object
   * @throws ApiError 400 for malformed JSON or a non-object body (the message never quotes the body)
   */
  ObjectNode parseObject(byte[] body) {
    JsonNode n;
    try {
      n = reader.readTree(body);
    } catch (JsonProcessingException e) {
      throw ApiError.badRequest("invalid_json", null, "expected a JSON object as the request body, found malformed"
          + " JSON (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")");
    } catch (java.io.IOException e) {
      throw ApiError.badRequest("invalid_json", null, "could not read the request body as JSON");
    }
    if (n == null || !n.isObject()) {
      throw ApiError.badRequest("invalid_json", null, "expected a JSON object as the request body, found "
          + (n == null || n.isMissingNode() ? "nothing" : n.getNodeType().name().toLowerCase(java.util.Locale.ROOT)));
    }
    return (ObjectNode) n;
  }

  /** @return whether the field is absent or JSON null */
  static boolean absent(JsonNode obj, String field) {
    JsonNode v = obj.get(field);
    return v == null || v.isNull();
  }

  static String string(JsonNode obj, String field, String path) {
    JsonNode v = obj.get(field);
    if (v == null || v.isNull()) {
      throw ApiError.badRequest("missing_field", path, "expected \"" + path + "\" (a string), found none");
    }
    if (!v.isTextual()) {
      throw wrongType(path, "a string", v);
    }
    return v.textValue();
  }

  static String optString(JsonNode obj, String field, String path) {
    return absent(obj, field) ? null : string(obj, field, path);
  }

  static Integer optInt(JsonNode obj, String field, String path) {
    if (absent(obj, field)) {
      return null;
    }
    JsonNode v = obj.get(field);
    if (!v.isIntegralNumber() || !v.canConvertToInt()) {
      throw wrongType(path, "an integer", v);
    }
    return v.intValue();
  }

  static Long optLong(JsonNode obj, String field, String path) {
    if (absent(obj, field)) {
      return null;
    }
    JsonNode v = obj.get(field);
    if (!v.isIntegralNumber() || !v.canConvertToLong()) {
      throw wrongType(path, "an integer (64 bits)", v);
    }
    return v.longValue();
  }

  static Double optDouble(JsonNode obj, String field, String path) {
    if (absent(obj, field)) {
      return null;
    }
    JsonNode v = obj.get(field);
    if (!v.isNumber()) {
      throw wrongType(path, "a number", v);
    }
    return v.doubleValue();
  }

  static Boolean optBoolean(JsonNode obj, String field, String path) {
    if (absent(obj, field)) {
      return null;
    }
    JsonNode v = obj.get(field);
    if (!v.isBoolean()) {
      throw wrongType(path, "true or false", v);
    }
    return v.booleanValue();
  }

  static JsonNode array(JsonNode obj, String field, String path) {
    JsonNode v = obj.get(field);
    if (v == null || v.isNull()) {
      throw ApiError.badRequest("missing_field", path, "expected \"" + path + "\" (an array), found none");
    }
    if (!v.isArray()) {
      throw wrongType(path, "an array", v);
    }
    return v;
  }

  static JsonNode object(JsonNode v, String path) {
    if (v == null || !v.isObject()) {
      throw wrongType(path, "an object", v);
    }
    return v;
  }

  /** @return the strings of an array field, or of a single string field */
  static List<String> stringOrStrings(JsonNode obj, String field, String path) {
    List<String> out = new ArrayList<>();
    if (absent(obj, field)) {
      return out;
    }
    JsonNode v = obj.get(field);
    if (v.isTextual()) {
      out.add(v.textValue());
      return out;
    }
    if (!v.isArray()) {
      throw wrongType(path, "a string or an array of strings", v);
    }
    for (int i = 0; i < v.size(); i++) {
      if (!v.get(i).isTextual()) {
        throw wrongType(path + "[" + i + "]", "a string", v.get(i));
      }
      out.add(v.get(i).textValue());
    }
    return out;
  }

  static ApiError wrongType(String path, String expected, JsonNode found) {
    String kind = found == null || found.isMissingNode() ? "nothing"
        : found.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
    return ApiError.badRequest("invalid_type", path, "expected \"" + path + "\" to be " + expected + ", found "
        + kind);
  }

  /** @return a short description of {@code v} for an error message (never its whole content) */
  static String describe(JsonNode v) {
    if (v.isArray()) {
      return "an array of " + v.size();
    }
    if (v.isObject()) {
      return "an object with " + v.size() + " fields";
    }
    if (v.isTextual()) {
      return "\"" + ImageSources.printable(v.textValue()) + "\"";
    }
    return v.getNodeType().name().toLowerCase(java.util.Locale.ROOT) + " " + ImageSources.printable(v.toString());
  }
}
