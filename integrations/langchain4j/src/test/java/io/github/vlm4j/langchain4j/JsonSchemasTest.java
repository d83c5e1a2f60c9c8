package io.github.vlm4j.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ResponseFormatType;
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
import dev.langchain4j.model.chat.request.json.JsonSchema;
import dev.langchain4j.model.chat.request.json.JsonStringSchema;
import io.github.vlm4j.decoder.generation.constraint.OutputConstraint;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** LangChain4j's schema element tree to vlm4j's JSON Schema subset, and the response formats to constraints. */
class JsonSchemasTest {
  static final ObjectMapper JSON = new ObjectMapper();

  static void assertJson(String expected, String actual) throws Exception {
    assertEquals(JSON.readTree(expected), JSON.readTree(actual), actual);
  }

  @Test
  void everyElementTypeMapsToTheSubset() throws Exception {
    JsonObjectSchema part = JsonObjectSchema.builder().description("a part")
        .addProperty("name", JsonStringSchema.builder().description("its name").build())
        .addProperty("count", new JsonIntegerSchema())
        .addProperty("weight", new JsonNumberSchema())
        .addProperty("ok", new JsonBooleanSchema())
        .addProperty("none", new JsonNullSchema())
        .addProperty("colour", JsonEnumSchema.builder().enumValues("red", "blue").build())
        .addProperty("tags", JsonArraySchema.builder().items(new JsonStringSchema()).build())
        .addProperty("raw", JsonRawSchema.from("{\"type\":\"string\",\"maxLength\":3}"))
        .required("name", "count").build();
    String text = JsonSchemas.toJson(part, false);
    assertJson("{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"count\":{\"type\":\"integer\"},"
        + "\"weight\":{\"type\":\"number\"},\"ok\":{\"type\":\"boolean\"},\"none\":{\"type\":\"null\"},"
        + "\"colour\":{\"type\":\"string\",\"enum\":[\"red\",\"blue\"]},"
        + "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
        + "\"raw\":{\"type\":\"string\",\"maxLength\":3}},"
        + "\"required\":[\"name\",\"count\"],\"additionalProperties\":false}", text);
    // declaration order is kept (the library emits properties in that order)
    assertTrue(text.indexOf("\"name\"") < text.indexOf("\"count\"") && text.indexOf("\"count\"") < text.indexOf("\"raw\""));
    OutputConstraint.jsonSchema(text); // the library accepts it
  }

  @Test
  void referencesAreInlinedAndRecursionIsRefused() throws Exception {
    JsonObjectSchema point = JsonObjectSchema.builder().addProperty("x", new JsonIntegerSchema()).required("x").build();
    JsonObjectSchema root = JsonObjectSchema.builder()
        .addProperty("from", JsonReferenceSchema.builder().reference("point").build())
        .addProperty("to", JsonReferenceSchema.builder().reference("point").build())
        .definitions(Map.of("point", point)).build();
    String p = "{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"integer\"}},\"required\":[\"x\"],"
        + "\"additionalProperties\":false}";
    assertJson("{\"type\":\"object\",\"properties\":{\"from\":" + p + ",\"to\":" + p + "},\"additionalProperties\":false}",
        JsonSchemas.toJson(root, false));

    JsonObjectSchema node = JsonObjectSchema.builder()
        .addProperty("next", JsonReferenceSchema.builder().reference("node").build()).build();
    JsonObjectSchema list = JsonObjectSchema.builder()
        .addProperty("head", JsonReferenceSchema.builder().reference("node").build())
        .definitions(Map.of("node", node)).build();
    UnsupportedFeatureException e = assertThrows(UnsupportedFeatureException.class, () -> JsonSchemas.toJson(list, false));
    assertTrue(e.getMessage().contains("$.properties.head.properties.next") && e.getMessage().contains("recursive"),
        e.getMessage());
  }

  @Test
  void strictModeRequiresEveryPropertyOfEveryObject() throws Exception {
    JsonObjectSchema inner = JsonObjectSchema.builder().addProperty("b", new JsonBooleanSchema()).build();
    JsonObjectSchema outer = JsonObjectSchema.builder().addProperty("a", new JsonStringSchema())
        .addProperty("inner", inner).required("a").build();
    assertJson("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"inner\":{\"type\":\"object\","
        + "\"properties\":{\"b\":{\"type\":\"boolean\"}},\"required\":[\"b\"],\"additionalProperties\":false}},"
        + "\"required\":[\"a\",\"inner\"],\"additionalProperties\":false}", JsonSchemas.toJson(outer, true));
  }

  @Test
  void anyOfMapsToAnyOfAndTheLibraryConstrainsIt() throws Exception {
    JsonObjectSchema any = JsonObjectSchema.builder().addProperty("v", JsonAnyOfSchema.builder()
        .anyOf(new JsonStringSchema(), new JsonNullSchema()).build()).build();
    String json = JsonSchemas.toJson(any, true);
    assertJson("{\"type\":\"object\",\"properties\":{\"v\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}},"
        + "\"required\":[\"v\"],\"additionalProperties\":false}", json);
    OutputConstraint.jsonSchema(json); // inside the library's subset
  }

  @Test
  void additionalPropertiesTrueIsRefusedWithItsPath() {
    JsonObjectSchema open = JsonObjectSchema.builder().additionalProperties(true).build();
    UnsupportedFeatureException e = assertThrows(UnsupportedFeatureException.class,
        () -> JsonSchemas.toJson(open, false));
    assertTrue(e.getMessage().contains("additionalProperties"), e.getMessage());
  }

  @Test
  void responseFormatsMapToConstraints() {
    assertEquals(null, RequestMapping.constraint(null, false));
    assertEquals(null, RequestMapping.constraint(ResponseFormat.TEXT, false));
    assertEquals(OutputConstraint.jsonObject(), RequestMapping.constraint(ResponseFormat.JSON, false));
    JsonSchema schema = JsonSchema.builder().name("x").rootElement(JsonObjectSchema.builder()
        .addProperty("a", new JsonBooleanSchema()).build()).build();
    assertEquals(OutputConstraint.jsonSchema(
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"boolean\"}},\"additionalProperties\":false}"),
        RequestMapping.constraint(ResponseFormat.builder().type(ResponseFormatType.JSON).jsonSchema(schema).build(), false));
  }
}
