package io.github.vlm4j.decoder.generation.constraint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.databind.node.TextNode;
import dk.brics.automaton.Automaton;
import dk.brics.automaton.BasicOperations;
import dk.brics.automaton.State;
import dk.brics.automaton.StatePair;
import dk.brics.automaton.Transition;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The reference for {@link LanguageEquivalenceTest}: the JSON Schema subset compiled with
 * dk.brics.automaton's own (unbounded) operations, as main compiled it before the budgeted
 * automata replaced them. Use only on trusted schemas.
 */
final class BricsReferenceSchema {
  /** Longest schema text accepted, in chars. */
  static final int MAX_SCHEMA_CHARS = 256 * 1024;
  /** Deepest nesting of schemas accepted. */
  static final int MAX_DEPTH = 16;
  /** Largest minItems/maxItems accepted. */
  static final int MAX_ITEMS = 100;
  /** Largest minLength/maxLength accepted. */
  static final int MAX_LENGTH = 1000;
  /** Most digits of an integer part, a fraction and an exponent. */
  static final int MAX_DIGITS = 16;

  private static final ObjectMapper JSON = JsonMapper.builder(JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(2 * MAX_DEPTH + 8)
          .maxStringLength(MAX_SCHEMA_CHARS).build()).build()).build();

  private static final Set<String> ANNOTATIONS = Set.of("title", "description", "$comment", "examples", "default");
  private static final Set<String> TYPES = Set.of("object", "array", "string", "number", "integer", "boolean", "null");

  private BricsReferenceSchema() {}

  /** Parses schema text; throws IllegalArgumentException for malformed or over-long text. */
  static JsonNode parse(String schemaJson) {
    if (schemaJson.length() > MAX_SCHEMA_CHARS) {
      throw new IllegalArgumentException("the schema has " + schemaJson.length() + " chars; at most "
          + MAX_SCHEMA_CHARS + " are accepted");
    }
    try {
      JsonNode n = JSON.readTree(schemaJson);
      if (n == null || !n.isObject()) {
        throw new IllegalArgumentException("a JSON Schema must be a JSON object, found "
            + (n == null ? "nothing" : n.getNodeType()));
      }
      return n;
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("the schema is not valid JSON: " + e.getOriginalMessage(), e);
    }
  }

  /** Canonical compact text of a parsed schema. */
  static String canonical(JsonNode schema) {
    return schema.toString();
  }

  /**
   * Compiles a parsed schema to a minimal DFA; throws IllegalArgumentException naming the keyword
   * and its path.
   */
  static Automaton compile(JsonNode schema) {
    return value(schema, "$", 0, true);
  }

  private static Automaton value(JsonNode s, String path, int depth, boolean root) {
    Automaton a = unminimized(s, path, depth, root);
    a.minimize();
    return a;
  }

  private static Automaton unminimized(JsonNode s, String path, int depth, boolean root) {
    if (!s.isObject()) {
      throw error(path, "a schema must be an object, found " + s.getNodeType());
    }
    if (depth > MAX_DEPTH) {
      throw error(path, "schemas nest deeper than " + MAX_DEPTH + " levels");
    }
    JsonNode type = s.get("type");
    String t = null;
    if (type != null) {
      if (!type.isTextual() || !TYPES.contains(type.textValue())) {
        throw error(path + ".type", "expected one of " + TYPES + " (a single type name), found " + type);
      }
      t = type.textValue();
    }
    Set<String> allowed = new HashSet<>(ANNOTATIONS);
    allowed.add("type");
    allowed.add("enum");
    allowed.add("const");
    if (root) {
      allowed.add("$schema");
    }
    if (t != null) {
      switch (t) {
        case "object" -> allowed.addAll(List.of("properties", "required", "additionalProperties"));
        case "array" -> allowed.addAll(List.of("items", "minItems", "maxItems"));
        case "string" -> allowed.addAll(List.of("pattern", "minLength", "maxLength"));
        default -> { }
      }
    }
    for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!allowed.contains(k)) {
        throw error(path + "." + k, "keyword \"" + k + "\" is not supported"
            + (t == null ? "" : " for type " + t) + "; supported: " + new java.util.TreeSet<>(allowed));
      }
    }
    if (s.has("enum") || s.has("const")) {
      return literals(s, t, path);
    }
    if (t == null) {
      throw error(path, "\"type\" is missing; expected a type or enum/const");
    }
    return switch (t) {
      case "object" -> object(s, path, depth);
      case "array" -> array(s, path, depth);
      case "string" -> string(s, path);
      case "number" -> number(true);
      case "integer" -> number(false);
      case "boolean" -> Automaton.makeString("true").union(Automaton.makeString("false"));
      default -> Automaton.makeString("null");
    };
  }

  private static Automaton literals(JsonNode s, String t, String path) {
    for (String k : List.of("properties", "required", "additionalProperties", "items", "minItems", "maxItems",
        "pattern", "minLength", "maxLength")) {
      if (s.has(k)) {
        throw error(path + "." + k, "keyword \"" + k + "\" cannot be combined with enum/const");
      }
    }
    List<JsonNode> values = new ArrayList<>();
    if (s.has("const")) {
      values.add(s.get("const"));
    }
    if (s.has("enum")) {
      JsonNode e = s.get("enum");
      if (!e.isArray() || e.isEmpty()) {
        throw error(path + ".enum", "expected a non-empty array, found " + e);
      }
      e.forEach(values::add);
      if (s.has("const")) {
        values.removeIf(v -> !v.equals(s.get("const")));
      }
    }
    List<Automaton> parts = new ArrayList<>();
    for (JsonNode v : values) {
      if (t == null || hasType(v, t)) {
        parts.add(Automaton.makeString(v.toString()));
      }
    }
    if (parts.isEmpty()) {
      throw error(path, "no enum/const value is of type " + t);
    }
    return Automaton.union(parts);
  }

  private static boolean hasType(JsonNode v, String t) {
    return switch (t) {
      case "object" -> v.isObject();
      case "array" -> v.isArray();
      case "string" -> v.isTextual();
      case "number" -> v.isNumber();
      case "integer" -> v.isIntegralNumber() || (v.isNumber() && v.decimalValue().stripTrailingZeros().scale() <= 0);
      case "boolean" -> v.isBoolean();
      default -> v.isNull();
    };
  }

  private static Automaton object(JsonNode s, String path, int depth) {
    JsonNode extra = s.get("additionalProperties");
    if (extra != null && !(extra.isBoolean() && !extra.booleanValue())) {
      throw error(path + ".additionalProperties", "only false is supported (absent means false), found " + extra);
    }
    JsonNode props = s.get("properties");
    if (props != null && !props.isObject()) {
      throw error(path + ".properties", "expected an object, found " + props.getNodeType());
    }
    Set<String> required = new HashSet<>();
    JsonNode req = s.get("required");
    if (req != null) {
      if (!req.isArray()) {
        throw error(path + ".required", "expected an array of property names, found " + req.getNodeType());
      }
      for (JsonNode r : req) {
        if (!r.isTextual() || props == null || !props.has(r.textValue())) {
          throw error(path + ".required", "expected names of declared properties, found " + r);
        }
        required.add(r.textValue());
      }
    }
    List<Automaton> members = new ArrayList<>();
    List<Boolean> optional = new ArrayList<>();
    if (props != null) {
      for (Iterator<Map.Entry<String, JsonNode>> it = props.properties().iterator(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> p = it.next();
        String name = p.getKey();
        members.add(Automaton.makeString(TextNode.valueOf(name).toString() + ":").concatenate(space())
            .concatenate(value(p.getValue(), path + ".properties." + name, depth + 1, false)));
        optional.add(!required.contains(name));
      }
    }
    return members(members, optional);
  }

  /**
   * {@code {}, the members in order (each optional one present or absent) separated by {@code ,}
   * and an optional space, then {@code }}. Built as one automaton holding each member once, linked
   * by epsilon moves between "nothing emitted yet" and "something emitted" states before each member.
   */
  private static Automaton members(List<Automaton> members, List<Boolean> optional) {
    int n = members.size();
    State open = new State();
    State[] none = new State[n + 1];
    State[] some = new State[n + 1];
    for (int i = 0; i <= n; i++) {
      none[i] = new State();
      some[i] = new State();
    }
    State close = new State();
    State done = new State();
    done.setAccept(true);
    open.addTransition(new Transition('{', none[0]));
    close.addTransition(new Transition('}', done));
    List<StatePair> epsilons = new ArrayList<>();
    epsilons.add(new StatePair(none[n], close));
    epsilons.add(new StatePair(some[n], close));
    for (int i = 0; i < n; i++) {
      Automaton m = members.get(i).clone();
      m.expandSingleton();
      State entry = m.getInitialState();
      State comma = new State();
      State afterComma = new State();
      comma.addTransition(new Transition(',', afterComma));
      afterComma.addTransition(new Transition(' ', entry));
      epsilons.add(new StatePair(afterComma, entry));
      epsilons.add(new StatePair(none[i], entry));
      epsilons.add(new StatePair(some[i], comma));
      for (State a : m.getAcceptStates()) {
        a.setAccept(false);
        epsilons.add(new StatePair(a, some[i + 1]));
      }
      if (optional.get(i)) {
        epsilons.add(new StatePair(none[i], none[i + 1]));
        epsilons.add(new StatePair(some[i], some[i + 1]));
      }
    }
    Automaton result = new Automaton();
    result.setInitialState(open);
    result.setDeterministic(false);
    BasicOperations.addEpsilons(result, epsilons);
    result.minimize();
    return result;
  }

  private static Automaton array(JsonNode s, String path, int depth) {
    int min = count(s, "minItems", 0, path);
    int max = count(s, "maxItems", -1, path);
    if (max >= 0 && max < min) {
      throw error(path + ".maxItems", "expected at least minItems (" + min + "), found " + max);
    }
    JsonNode items = s.get("items");
    if (items == null) {
      throw error(path, "\"items\" is missing; expected a schema for the array's items");
    }
    Automaton item = value(items, path + ".items", depth + 1, false);
    item.minimize();
    Automaton next = Automaton.makeChar(',').concatenate(space()).concatenate(item);
    Automaton body;
    if (max == 0) {
      body = Automaton.makeEmptyString();
    } else {
      int lo = Math.max(min - 1, 0);
      Automaton rest = max < 0 ? next.repeat(lo) : next.repeat(lo, max - 1);
      body = item.concatenate(rest);
      if (min == 0) {
        body = body.optional();
      }
    }
    return Automaton.makeChar('[').concatenate(body).concatenate(Automaton.makeChar(']'));
  }

  private static Automaton string(JsonNode s, String path) {
    int min = count(s, "minLength", 0, path);
    int max = count(s, "maxLength", -1, path);
    if (max >= 0 && max < min) {
      throw error(path + ".maxLength", "expected at least minLength (" + min + "), found " + max);
    }
    Automaton body;
    if (s.has("pattern")) {
      JsonNode p = s.get("pattern");
      if (!p.isTextual()) {
        throw error(path + ".pattern", "expected a string, found " + p.getNodeType());
      }
      try {
        body = BricsReferenceRegex.parse(p.textValue());
      } catch (IllegalArgumentException e) {
        throw error(path + ".pattern", "malformed pattern " + p + ": " + e.getMessage());
      }
      body = body.intersection(safeChar().repeat());
      Automaton any = Automaton.makeAnyChar();
      body = body.intersection(max < 0 ? any.repeat(min) : any.repeat(min, max));
      if (body.isEmpty()) {
        throw error(path + ".pattern", "no string without escapes matches " + p + " within the length bounds");
      }
    } else {
      Automaton c = safeChar().union(escape());
      c.minimize();
      body = max < 0 ? c.repeat(min) : c.repeat(min, max);
    }
    Automaton quote = Automaton.makeChar('"');
    return quote.concatenate(body).concatenate(quote);
  }

  /** Chars allowed unescaped inside strings: printable ASCII but " and \, and BMP non-controls. */
  static Automaton safeChar() {
    return Automaton.union(List.of(Automaton.makeCharRange(' ', '!'), Automaton.makeCharRange('#', '['),
        Automaton.makeCharRange(']', '~'), Automaton.makeCharRange('\u00a0', '\ud7ff'),
        Automaton.makeCharRange('\ue000', '\ufffd')));
  }

  private static Automaton escape() {
    Automaton simple = Automaton.union(List.of(Automaton.makeChar('"'), Automaton.makeChar('\\'),
        Automaton.makeChar('/'), Automaton.makeChar('b'), Automaton.makeChar('f'), Automaton.makeChar('n'),
        Automaton.makeChar('r'), Automaton.makeChar('t')));
    Automaton hex = Automaton.union(List.of(Automaton.makeCharRange('0', '9'), Automaton.makeCharRange('a', 'f'),
        Automaton.makeCharRange('A', 'F')));
    Automaton notD = Automaton.union(List.of(Automaton.makeCharRange('0', '9'), Automaton.makeCharRange('a', 'c'),
        Automaton.makeCharRange('A', 'C'), Automaton.makeCharRange('e', 'f'), Automaton.makeCharRange('E', 'F')));
    Automaton d = Automaton.makeChar('d').union(Automaton.makeChar('D'));
    Automaton low = Automaton.makeCharRange('0', '7');
    Automaton unicode = Automaton.makeChar('u').concatenate(
        notD.concatenate(hex.repeat(3, 3)).union(d.concatenate(low).concatenate(hex.repeat(2, 2))));
    return Automaton.makeChar('\\').concatenate(simple.union(unicode));
  }

  private static Automaton number(boolean fraction) {
    Automaton digit = Automaton.makeCharRange('0', '9');
    Automaton intPart = Automaton.makeChar('0').union(
        Automaton.makeCharRange('1', '9').concatenate(digit.repeat(0, MAX_DIGITS - 1)));
    Automaton n = Automaton.makeChar('-').optional().concatenate(intPart);
    if (fraction) {
      Automaton frac = Automaton.makeChar('.').concatenate(digit.repeat(1, MAX_DIGITS)).optional();
      Automaton exp = Automaton.makeChar('e').union(Automaton.makeChar('E'))
          .concatenate(Automaton.makeChar('+').union(Automaton.makeChar('-')).optional())
          .concatenate(digit.repeat(1, 2)).optional();
      n = n.concatenate(frac).concatenate(exp);
    }
    return n;
  }

  private static Automaton space() {
    return Automaton.makeChar(' ').optional();
  }

  private static int count(JsonNode s, String key, int absent, String path) {
    JsonNode v = s.get(key);
    if (v == null) {
      return absent;
    }
    int bound = key.endsWith("Items") ? MAX_ITEMS : MAX_LENGTH;
    if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < 0 || v.intValue() > bound) {
      throw error(path + "." + key, "expected an integer in [0, " + bound + "], found " + v);
    }
    return v.intValue();
  }

  private static IllegalArgumentException error(String path, String message) {
    return new IllegalArgumentException("at " + path + ": " + message);
  }
}
