package io.github.vlm4j.decoder.generation.constraint;

import static io.github.vlm4j.decoder.generation.constraint.ConstraintTestSupport.matches;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.vlm4j.core.VlmInputException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class OutputConstraintTest {

  @Test
  void regexMatchesWholeOutputWithTranslatedShorthands() {
    OutputConstraint c = OutputConstraint.regex("^\\d{3}-[a-z]+$");
    assertTrue(matches(c, "123-abc"));
    assertFalse(matches(c, "123-abc!"));
    assertFalse(matches(c, "12-abc"));
    OutputConstraint q = OutputConstraint.regex("say \"<hi>\" & @you #1 ~x");
    assertTrue(matches(q, "say \"<hi>\" & @you #1 ~x"));
    OutputConstraint s = OutputConstraint.regex("a\\sb[\\w.]+(?:x|y)?");
    assertTrue(matches(s, "a\tb_Z9.x"));
    assertFalse(matches(s, "a-b_"));
    assertEquals("regex a\\sb[\\w.]+(?:x|y)?", s.describe());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {"(ab", "a)", "[z-a]", "a\\", "(?=x)y", "\\1", "\\D"})
  void malformedOrUnsupportedRegexIsInvalidOption(String regex) {
    VlmInputException e = assertThrows(VlmInputException.class, () -> OutputConstraint.regex(regex));
    assertEquals(VlmInputException.Reason.INVALID_OPTION, e.reason());
    assertTrue(e.getMessage().contains("expected"), e.getMessage());
    assertTrue(e.getMessage().contains(regex), e.getMessage());
  }

  @Test
  void choiceIsExactlyOneOfTheStringsEvenWithRegexChars() {
    OutputConstraint c = OutputConstraint.choice(List.of("a.b", "(x)*", "\"q\"", "yes"));
    for (String s : List.of("a.b", "(x)*", "\"q\"", "yes")) {
      assertTrue(matches(c, s), s);
    }
    for (String s : List.of("axb", "(x)", "xx", "ye", "yess", "")) {
      assertFalse(matches(c, s), s);
    }
  }

  @Test
  void choiceRefusesEmptyDuplicateOrBlankEntries() {
    assertEquals(VlmInputException.Reason.INVALID_OPTION,
        assertThrows(VlmInputException.class, () -> OutputConstraint.choice(List.of())).reason());
    assertTrue(assertThrows(VlmInputException.class, () -> OutputConstraint.choice(List.of("a", "a")))
        .getMessage().contains("twice"));
    assertTrue(assertThrows(VlmInputException.class, () -> OutputConstraint.choice(List.of("a", "")))
        .getMessage().contains("index 1"));
  }

  @Test
  void schemaObjectWithRequiredAndOptionalPropertiesInOrder() {
    OutputConstraint c = OutputConstraint.jsonSchema("""
        {"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string","maxLength":2},
         "c":{"type":"boolean"}},"required":["b"],"additionalProperties":false}""");
    for (String ok : List.of("{\"b\":\"\"}", "{\"a\":1,\"b\":\"xy\"}", "{\"a\": -10, \"b\": \"\\n\", \"c\": true}",
        "{\"b\":\"x\",\"c\":false}")) {
      assertTrue(matches(c, ok), ok);
    }
    for (String bad : List.of("{}", "{\"a\":1}", "{\"b\":\"xyz\"}", "{\"c\":true,\"b\":\"x\"}", "{\"a\":01,\"b\":\"\"}",
        "{\"b\":\"x\",}", "{\"b\":\"x\"} ", "{\"b\":  \"x\"}", "{\"b\":\"\\x\"}")) {
      assertFalse(matches(c, bad), bad);
    }
  }

  @Test
  void schemaArraysEnumsConstAndNumbers() {
    OutputConstraint c = OutputConstraint.jsonSchema("""
        {"type":"array","items":{"enum":["x",1,null,{"k":[true]}]},"minItems":1,"maxItems":3}""");
    assertTrue(matches(c, "[\"x\"]"));
    assertTrue(matches(c, "[1, null,{\"k\":[true]}]"));
    assertFalse(matches(c, "[]"));
    assertFalse(matches(c, "[1,1,1,1]"));
    assertFalse(matches(c, "[2]"));
    OutputConstraint n = OutputConstraint.jsonSchema("{\"type\":\"number\"}");
    for (String ok : List.of("0", "-0.5", "12e3", "1.25E-7")) {
      assertTrue(matches(n, ok), ok);
    }
    for (String bad : List.of("01", "1.", ".5", "+1", "1e", "--1")) {
      assertFalse(matches(n, bad), bad);
    }
    OutputConstraint k = OutputConstraint.jsonSchema("{\"const\":\"a\\\"b\"}");
    assertTrue(matches(k, "\"a\\\"b\""));
    OutputConstraint p = OutputConstraint.jsonSchema("{\"type\":\"string\",\"pattern\":\"^[A-Z]{2}\\\\d$\"}");
    assertTrue(matches(p, "\"AB1\""));
    assertFalse(matches(p, "\"AB\""));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "{\"type\":\"object\",\"oneOf\":[]}|$.oneOf",
      "{\"$ref\":\"#/x\"}|$.$ref",
      "{\"type\":\"object\",\"patternProperties\":{}}|$.patternProperties",
      "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\",\"minimum\":0}}}|$.properties.n.minimum",
      "{\"type\":\"string\",\"format\":\"date\"}|$.format",
      "{\"type\":\"object\",\"additionalProperties\":true}|$.additionalProperties",
      "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}|$.additionalProperties",
      "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"uniqueItems\":true}}|$.items.uniqueItems",
      "{\"type\":\"array\",\"items\":{\"anyOf\":[]}}|$.items.anyOf",
      "{\"type\":[\"string\",\"string\"]}|$.type",
      "{\"type\":[]}|$.type",
      "{\"type\":[\"string\",\"null\"],\"minItems\":1}|$.minItems",
      "{\"type\":\"string\",\"anyOf\":[{\"type\":\"null\"}]}|$.type",
      "{\"$ref\":\"#/$defs/a\",\"$defs\":{\"a\":{\"$ref\":\"#/$defs/a\"}}}|recursive",
      "{\"$defs\":{\"n\":{\"type\":\"object\",\"properties\":{\"k\":{\"$ref\":\"#/$defs/n\"}}}},\"$ref\":\"#/$defs/n\"}|recursive",
      "{\"$ref\":\"#/$defs/missing\",\"$defs\":{}}|$.$ref",
      "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"null\",\"$defs\":{}}}}|$.properties.a.$defs",
      "{\"properties\":{}}|$.properties",
      "{\"description\":\"no type\"}|type",
      "{\"type\":\"string\",\"minItems\":1}|$.minItems",
      "{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"maxItems\":100000}|$.maxItems",
      "{\"type\":\"string\",\"pattern\":\"(\"}|$.pattern"})
  void schemaKeywordsOutsideTheSubsetAreRefusedNamingKeywordAndPath(String schema, String named) {
    VlmInputException e = assertThrows(VlmInputException.class, () -> OutputConstraint.jsonSchema(schema));
    assertEquals(VlmInputException.Reason.INVALID_OPTION, e.reason());
    assertTrue(e.getMessage().contains(named), e.getMessage());
  }

  @Test
  void schemaTypeListsAnyOfAndReferences() {
    // a nullable string: each listed type keeps only its own keywords (maxLength bounds the string)
    OutputConstraint nullable = OutputConstraint.jsonSchema("{\"type\":[\"string\",\"null\"],\"maxLength\":2}");
    for (String ok : new String[] {"null", "\"ab\"", "\"\""}) {
      assertTrue(matches(nullable, ok), ok);
    }
    for (String bad : new String[] {"\"abc\"", "nul", "1"}) {
      assertFalse(matches(nullable, bad), bad);
    }
    OutputConstraint typedEnum = OutputConstraint.jsonSchema("{\"type\":[\"integer\",\"null\"],\"enum\":[1,\"x\",null]}");
    assertTrue(matches(typedEnum, "1"));
    assertTrue(matches(typedEnum, "null"));
    assertFalse(matches(typedEnum, "\"x\""), "not of a listed type");
    // what Pydantic writes for Optional[Item] and nested models: anyOf, $defs and $ref
    String pydantic = "{\"$defs\":{\"Item\":{\"title\":\"Item\",\"type\":\"object\",\"properties\":{"
        + "\"name\":{\"type\":\"string\",\"maxLength\":3}},\"required\":[\"name\"],\"additionalProperties\":false}},"
        + "\"title\":\"Order\",\"type\":\"object\",\"properties\":{\"item\":{\"anyOf\":[{\"$ref\":\"#/$defs/Item\"},"
        + "{\"type\":\"null\"}],\"default\":null},\"all\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/Item\"},"
        + "\"maxItems\":2}},\"required\":[\"item\",\"all\"],\"additionalProperties\":false}";
    OutputConstraint order = OutputConstraint.jsonSchema(pydantic);
    for (String ok : new String[] {"{\"item\":null,\"all\":[]}", "{\"item\":{\"name\":\"ab\"}, \"all\":[{\"name\":\"\"}]}"}) {
      assertTrue(matches(order, ok), ok);
    }
    for (String bad : new String[] {"{\"item\":{\"name\":\"abcd\"},\"all\":[]}", "{\"item\":{},\"all\":[]}",
        "{\"all\":[]}", "{\"item\":null,\"all\":[null]}"}) {
      assertFalse(matches(order, bad), bad);
    }
    // the same definition under the older name, and the escapes of a JSON pointer
    OutputConstraint old = OutputConstraint.jsonSchema("{\"definitions\":{\"a/b\":{\"type\":\"boolean\"}},"
        + "\"$ref\":\"#/definitions/a~1b\"}");
    assertTrue(matches(old, "true"));
    assertFalse(matches(old, "null"));
  }

  @Test
  void malformedOrOverDeepSchemaIsRefused() {
    assertEquals(VlmInputException.Reason.INVALID_OPTION,
        assertThrows(VlmInputException.class, () -> OutputConstraint.jsonSchema("{\"type\":")).reason());
    assertTrue(assertThrows(VlmInputException.class, () -> OutputConstraint.jsonSchema("[]")).getMessage()
        .contains("must be a JSON object"));
    String deep = "{\"type\":\"array\",\"items\":".repeat(20) + "{\"type\":\"null\"}" + "}".repeat(20);
    assertTrue(assertThrows(VlmInputException.class, () -> OutputConstraint.jsonSchema(deep)).getMessage()
        .contains("deeper"));
  }

  @Test
  void absentAdditionalPropertiesMeansFalseAndKeysAreCanonical() {
    OutputConstraint a = OutputConstraint.jsonSchema("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"null\"}}}");
    OutputConstraint b = OutputConstraint.jsonSchema(
        "{ \"type\" : \"object\", \"properties\" : { \"a\" : { \"type\" : \"null\" } } }");
    assertTrue(matches(a, "{\"a\":null}"));
    assertTrue(matches(a, "{}"));
    assertFalse(matches(a, "{\"b\":null}"));
    assertEquals(a, b);
    assertEquals(a.key(), b.key());
    assertNotEquals(a.key(), OutputConstraint.regex("x").key());
  }

  @Test
  void jsonObjectIsOneObjectWithFreeNamesTwoLevelsDeep() {
    OutputConstraint c = OutputConstraint.jsonObject();
    assertSame(c, OutputConstraint.jsonObject());
    for (String ok : new String[] {"{}", "{\"any name\":1}", "{\"a\": \"x\\\"y\", \"b\":[1,true,null],"
        + "\"c\":{\"d\":-1.5e3}}", "{\"k\":[]}"}) {
      assertTrue(matches(c, ok), ok);
    }
    for (String bad : new String[] {"[]", "\"x\"", "{\"a\":{\"b\":{\"c\":1}}}", "{\"a\":1", "{a:1}",
        "{\"a\":01}"}) {
      assertFalse(matches(c, bad), bad);
    }
  }
}
