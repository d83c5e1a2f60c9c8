package io.github.vlm4j.langchain4j;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.json.JsonAnyOfSchema;
import dev.langchain4j.model.chat.request.json.JsonArraySchema;
import dev.langchain4j.model.chat.request.json.JsonBooleanSchema;
import dev.langchain4j.model.chat.request.json.JsonEnumSchema;
import dev.langchain4j.model.chat.request.json.JsonIntegerSchema;
import dev.langchain4j.model.chat.request.json.JsonNullSchema;
import dev.langchain4j.model.chat.request.json.JsonNumberSchema;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.request.json.JsonRawSchema;
import dev.langchain4j.model.chat.request.json.JsonReferenceSchema;
import dev.langchain4j.model.chat.request.json.JsonSchemaElement;
import dev.langchain4j.model.chat.request.json.JsonStringSchema;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * LangChain4j's JSON schema element tree as JSON Schema text of vlm4j's subset (see {@code
 * OutputConstraint}): objects (properties in declaration order, {@code required},
 * {@code additionalProperties: false}), strings, integers, numbers, booleans, null, string enums,
 * arrays with {@code items}, and raw schemas (passed on as they are, checked by the library).
 * {@code anyOf} (for example a nullable type: {@code anyOf} of it and null). References to
 * {@code definitions} are inlined; recursive references are refused with
 * {@link UnsupportedFeatureException} naming the element and its path. In strict mode every
 * declared property of every object is required, as OpenAI's strict structured outputs do. Stateless.
 */
final class JsonSchemas {
  /** Deepest nesting accepted: the library's own limit on schemas. */
  static final int MAX_DEPTH = 16;

  private static final ObjectMapper JSON = new ObjectMapper();

  private JsonSchemas() {}

  /**
   * Writes a schema as JSON text.
   *
   * @param root the schema's root element
   * @param strict require every declared property of every object (raw schemas are left as they are)
   * @return JSON Schema text for {@code OutputConstraint.jsonSchema}
   * @throws UnsupportedFeatureException for an element outside the subset, naming it and its path
   * @throws InvalidRequestException for a raw schema that is not JSON or a reference to nothing
   */
  static String toJson(JsonSchemaElement root, boolean strict) {
    if (root instanceof JsonRawSchema raw) {
      return raw.schema();
    }
    Map<String, JsonSchemaElement> definitions = new HashMap<>();
    return new JsonSchemas.Writer(definitions, strict).element(root, "$", 0).toString();
  }

  /** One conversion: the definitions seen so far and the references being inlined. */
  private record Writer(Map<String, JsonSchemaElement> definitions, boolean strict, Deque<String> inlining) {
    Writer(Map<String, JsonSchemaElement> definitions, boolean strict) {
      this(definitions, strict, new ArrayDeque<>());
    }

    JsonNode element(JsonSchemaElement e, String path, int depth) {
      if (depth > MAX_DEPTH) {
        throw new UnsupportedFeatureException(path + ": JSON schema nests deeper than " + MAX_DEPTH
            + " levels, vlm4j's limit");
      }
      ObjectNode o = JSON.createObjectNode();
      if (e instanceof JsonObjectSchema obj) {
        if (obj.definitions() != null) {
          definitions.putAll(obj.definitions());
        }
        if (Boolean.TRUE.equals(obj.additionalProperties())) {
          throw new UnsupportedFeatureException(path + ": additionalProperties true is not supported: vlm4j's"
              + " JSON schema subset emits declared properties only (additionalProperties false)");
        }
        o.put("type", "object");
        ObjectNode props = o.putObject("properties");
        if (obj.properties() != null) {
          obj.properties().forEach((name, value) -> props.set(name,
              element(value, path + ".properties." + name, depth + 1)));
        }
        if (strict && obj.properties() != null && !obj.properties().isEmpty()) {
          ArrayNode req = o.putArray("required");
          obj.properties().keySet().forEach(req::add);
        } else if (obj.required() != null && !obj.required().isEmpty()) {
          ArrayNode req = o.putArray("required");
          obj.required().forEach(req::add);
        }
        o.put("additionalProperties", false);
      } else if (e instanceof JsonStringSchema) {
        o.put("type", "string");
      } else if (e instanceof JsonIntegerSchema) {
        o.put("type", "integer");
      } else if (e instanceof JsonNumberSchema) {
        o.put("type", "number");
      } else if (e instanceof JsonBooleanSchema) {
        o.put("type", "boolean");
      } else if (e instanceof JsonNullSchema) {
        o.put("type", "null");
      } else if (e instanceof JsonEnumSchema en) {
        o.put("type", "string");
        ArrayNode values = o.putArray("enum");
        en.enumValues().forEach(values::add);
      } else if (e instanceof JsonArraySchema arr) {
        o.put("type", "array");
        if (arr.items() != null) {
          o.set("items", element(arr.items(), path + ".items", depth + 1));
        }
      } else if (e instanceof JsonReferenceSchema ref) {
        return reference(ref.reference(), path, depth);
      } else if (e instanceof JsonRawSchema raw) {
        try {
          return JSON.readTree(raw.schema());
        } catch (JsonProcessingException ex) {
          throw new InvalidRequestException(path + ": expected a raw JSON schema, found text that is not JSON: "
              + ex.getOriginalMessage(), ex);
        }
      } else if (e instanceof JsonAnyOfSchema any) {
        ArrayNode alternatives = o.putArray("anyOf");
        List<JsonSchemaElement> list = any.anyOf() == null ? List.of() : any.anyOf();
        for (int i = 0; i < list.size(); i++) {
          alternatives.add(element(list.get(i), path + ".anyOf[" + i + "]", depth + 1));
        }
      } else {
        throw new UnsupportedFeatureException(path + ": " + (e == null ? "null" : e.getClass().getSimpleName())
            + " is not supported: expected object, string, integer, number, boolean, null, enum, array,"
            + " reference or raw schema elements");
      }
      return o;
    }

    private JsonNode reference(String name, String path, int depth) {
      JsonSchemaElement target = definitions.get(name);
      if (target == null) {
        throw new InvalidRequestException(path + ": reference \"" + Messages.printable(String.valueOf(name))
            + "\" names no definition of the schema");
      }
      if (inlining.contains(name)) {
        throw new UnsupportedFeatureException(path + ": recursive reference \"" + Messages.printable(name)
            + "\" is not supported: vlm4j's JSON schema subset has no $ref, and a recursive type cannot be"
            + " inlined (use a type that does not contain itself)");
      }
      inlining.push(name);
      try {
        return element(target, path, depth);
      } finally {
        inlining.pop();
      }
    }
  }
}
