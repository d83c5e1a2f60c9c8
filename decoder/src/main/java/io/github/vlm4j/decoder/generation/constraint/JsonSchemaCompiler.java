package io.github.vlm4j.decoder.generation.constraint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.databind.node.TextNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Compiles the JSON Schema subset of {@link OutputConstraint#jsonSchema} to an automaton over the
 * JSON text. Whitespace policy: none, except one optional space after each {@code :} and {@code ,}
 * inside objects and arrays.
 */
final class JsonSchemaCompiler {
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

  private JsonSchemaCompiler() {}

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
   * Compiles a parsed schema to a minimal DFA under a budget; throws IllegalArgumentException naming
   * the keyword and its path, or the limit exceeded.
   */
  static Dfa compile(JsonNode schema, CompileBudget budget) {
    return value(schema, "$", 0, true, new Memo(budget, schema));
  }

  /**
   * The minimal DFAs of the sub-schemas compiled so far in one compilation, by schema (equal
   * sub-schemas, such as many string properties, compile once), holding at most as many states and
   * half as many transitions in all as one automaton may have.
   */
  private static final class Memo {
    final CompileBudget budget;
    /** The root schema, whose {@code $defs} / {@code definitions} references point into. */
    final JsonNode root;
    final Map<JsonNode, Dfa> done = new HashMap<>();
    /** The references being compiled, outermost first: one seen again is a recursion. */
    final java.util.LinkedHashSet<String> refs = new java.util.LinkedHashSet<>();
    int states;
    int edges;

    Memo(CompileBudget budget, JsonNode root) {
      this.budget = budget;
      this.root = root;
    }

    void put(JsonNode s, Dfa d) {
      if (states + d.size() <= budget.maxDfaStates && edges + d.edgeCount() <= budget.maxDfaEdges / 2) {
        states += d.size();
        edges += d.edgeCount();
        done.put(s, d);
      }
    }
  }

  /** A sub-schema's own minimal DFA (built in its own NFA, released before returning). */
  private static Dfa value(JsonNode s, String path, int depth, boolean root, Memo memo) {
    Dfa known = root ? null : memo.done.get(s);
    if (known != null) {
      if (depth > MAX_DEPTH) {
        throw error(path, "schemas nest deeper than " + MAX_DEPTH + " levels");
      }
      return known;
    }
    Nfa nfa = new Nfa(memo.budget);
    try {
      Nfa.Frag f = unminimized(nfa, s, path, depth, root, memo);
      Dfa d = Dfa.determinize(nfa, f).minimize(memo.budget);
      if (!root) {
        memo.put(s, d);
      }
      return d;
    } finally {
      nfa.release();
    }
  }

  private static Nfa.Frag unminimized(Nfa nfa, JsonNode s, String path, int depth, boolean root, Memo memo) {
    if (!s.isObject()) {
      throw error(path, "a schema must be an object, found " + s.getNodeType());
    }
    if (depth > MAX_DEPTH) {
      throw error(path, "schemas nest deeper than " + MAX_DEPTH + " levels");
    }
    if (s.has("$ref")) {
      return reference(nfa, s, path, depth, root, memo);
    }
    if (s.has("anyOf")) {
      return anyOf(nfa, s, path, depth, root, memo);
    }
    JsonNode type = s.get("type");
    if (type != null && type.isArray()) {
      return typeList(nfa, (com.fasterxml.jackson.databind.node.ObjectNode) s, path, depth, root, memo);
    }
    String t = null;
    if (type != null) {
      if (!type.isTextual() || !TYPES.contains(type.textValue())) {
        throw error(path + ".type", "expected one of " + TYPES + " or an array of them, found " + type);
      }
      t = type.textValue();
    }
    Set<String> allowed = new HashSet<>(ANNOTATIONS);
    allowed.add("type");
    allowed.add("enum");
    allowed.add("const");
    if (root) {
      allowed.addAll(ROOT_ONLY);
    }
    if (t != null) {
      allowed.addAll(keywordsOf(t));
    }
    for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!allowed.contains(k)) {
        throw error(path + "." + k, "keyword \"" + k + "\" is not supported"
            + (t == null ? "" : " for type " + t) + "; supported: " + new java.util.TreeSet<>(allowed));
      }
    }
    if (s.has("enum") || s.has("const")) {
      return literals(nfa, s, t, path);
    }
    if (t == null) {
      throw error(path, "\"type\" is missing; expected a type, enum/const, anyOf or $ref");
    }
    return switch (t) {
      case "object" -> object(nfa, s, path, depth, memo);
      case "array" -> array(nfa, s, path, depth, memo);
      case "string" -> string(nfa, s, path);
      case "number" -> number(nfa, true);
      case "integer" -> number(nfa, false);
      case "boolean" -> nfa.union(List.of(nfa.string("true"), nfa.string("false")));
      default -> nfa.string("null");
    };
  }

  /** Keywords allowed only on the root schema. */
  private static final Set<String> ROOT_ONLY = Set.of("$schema", "$defs", "definitions");

  /** @return the keywords that constrain values of type {@code t} */
  private static List<String> keywordsOf(String t) {
    return switch (t) {
      case "object" -> List.of("properties", "required", "additionalProperties");
      case "array" -> List.of("items", "minItems", "maxItems");
      case "string" -> List.of("pattern", "minLength", "maxLength");
      default -> List.of();
    };
  }

  /** Checks that {@code s} has no keyword beyond annotations, {@code allowed} and (on the root) {@code $defs}. */
  private static void onlyKeywords(JsonNode s, String path, boolean root, String... allowed) {
    Set<String> ok = new HashSet<>(ANNOTATIONS);
    ok.addAll(List.of(allowed));
    if (root) {
      ok.addAll(ROOT_ONLY);
    }
    for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!ok.contains(k)) {
        throw error(path + "." + k, "keyword \"" + k + "\" cannot be combined with " + allowed[0] + "; allowed beside"
            + " it: " + new java.util.TreeSet<>(ok));
      }
    }
  }

  /**
   * {@code "type": [t1, t2, ...]}: a value of any listed type, each constrained by the keywords that
   * apply to its type (so {@code {"type": ["string", "null"], "maxLength": 5}} bounds only strings).
   */
  private static Nfa.Frag typeList(Nfa nfa, com.fasterxml.jackson.databind.node.ObjectNode s, String path, int depth,
      boolean root, Memo memo) {
    JsonNode list = s.get("type");
    Set<String> types = new java.util.LinkedHashSet<>();
    for (JsonNode t : list) {
      if (!t.isTextual() || !TYPES.contains(t.textValue()) || !types.add(t.textValue())) {
        throw error(path + ".type", "expected distinct type names of " + TYPES + ", found " + list);
      }
    }
    if (types.isEmpty()) {
      throw error(path + ".type", "expected at least one type name, found []");
    }
    Set<String> known = new HashSet<>(List.of("type", "enum", "const"));
    types.forEach(t -> known.addAll(keywordsOf(t)));
    List<String> specific = new ArrayList<>();
    types.forEach(t -> specific.addAll(keywordsOf(t)));
    onlyKeywords(s, path, root, known.toArray(String[]::new));
    if (s.has("enum") || s.has("const")) {
      com.fasterxml.jackson.databind.node.ObjectNode any = s.deepCopy();
      any.remove("type");
      ROOT_ONLY.forEach(any::remove);
      com.fasterxml.jackson.databind.node.ArrayNode kept = any.putArray("enum");
      List<JsonNode> values = new ArrayList<>();
      if (s.has("enum") && s.get("enum").isArray()) {
        s.get("enum").forEach(values::add);
      }
      if (s.has("const")) {
        values.removeIf(v -> !v.equals(s.get("const")));
        if (!s.has("enum")) {
          values.add(s.get("const"));
        }
        any.remove("const");
      }
      values.stream().filter(v -> types.stream().anyMatch(t -> hasType(v, t))).forEach(kept::add);
      if (kept.isEmpty()) {
        throw error(path, "no enum/const value is of type " + types);
      }
      return literals(nfa, any, null, path);
    }
    List<Nfa.Frag> parts = new ArrayList<>();
    for (String t : types) {
      com.fasterxml.jackson.databind.node.ObjectNode one = s.deepCopy();
      ROOT_ONLY.forEach(one::remove);
      one.put("type", t);
      specific.stream().filter(k -> !keywordsOf(t).contains(k)).forEach(one::remove);
      parts.add(unminimized(nfa, one, path + "(" + t + ")", depth, false, memo));
    }
    return nfa.union(parts);
  }

  /** {@code anyOf}: a value matching at least one of the listed schemas. */
  private static Nfa.Frag anyOf(Nfa nfa, JsonNode s, String path, int depth, boolean root, Memo memo) {
    onlyKeywords(s, path, root, "anyOf");
    JsonNode list = s.get("anyOf");
    if (!list.isArray() || list.isEmpty()) {
      throw error(path + ".anyOf", "expected a non-empty array of schemas, found " + list);
    }
    List<Nfa.Frag> parts = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      parts.add(nfa.embed(value(list.get(i), path + ".anyOf[" + i + "]", depth + 1, false, memo)));
    }
    return nfa.union(parts);
  }

  /**
   * {@code $ref} to {@code #/$defs/Name} or {@code #/definitions/Name} of the root schema, compiled in
   * place. A recursive reference is refused: the JSON texts of a recursive schema (trees of any
   * depth) are no regular language, and cutting the recursion at some depth would silently refuse
   * valid answers.
   */
  private static Nfa.Frag reference(Nfa nfa, JsonNode s, String path, int depth, boolean root, Memo memo) {
    onlyKeywords(s, path, root, "$ref");
    JsonNode ref = s.get("$ref");
    if (!ref.isTextual()) {
      throw error(path + ".$ref", "expected a string such as \"#/$defs/Name\", found " + ref.getNodeType());
    }
    String r = ref.textValue();
    JsonNode target = null;
    for (String prefix : List.of("#/$defs/", "#/definitions/")) {
      if (r.startsWith(prefix)) {
        String name = r.substring(prefix.length()).replace("~1", "/").replace("~0", "~");
        JsonNode defs = memo.root.get(prefix.substring(2, prefix.length() - 1));
        target = defs != null && defs.isObject() ? defs.get(name) : null;
      }
    }
    if (target == null) {
      throw error(path + ".$ref", "expected a reference to a schema under the root's $defs or definitions"
          + " (\"#/$defs/Name\"), found \"" + r + "\"" + (r.equals("#") ? " (the root itself: recursive)" : ""));
    }
    if (!memo.refs.add(r)) {
      throw error(path + ".$ref", "recursive reference \"" + r + "\" (through " + memo.refs + ") is not supported:"
          + " output constraints are regular languages, and a recursive schema describes trees of any depth");
    }
    try {
      return nfa.embed(value(target, path + "<" + r + ">", depth + 1, false, memo));
    } finally {
      memo.refs.remove(r);
    }
  }

  private static Nfa.Frag literals(Nfa nfa, JsonNode s, String t, String path) {
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
    List<Nfa.Frag> parts = new ArrayList<>();
    for (JsonNode v : values) {
      if (t == null || hasType(v, t)) {
        parts.add(nfa.string(v.toString()));
      }
    }
    if (parts.isEmpty()) {
      throw error(path, "no enum/const value is of type " + t);
    }
    return nfa.union(parts);
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

  /**
   * {@code {}, the members in order (each optional one present or absent) separated by {@code ,}
   * and an optional space, then {@code }}. Built as one automaton holding each member once, linked
   * by epsilon moves between "nothing emitted yet" and "something emitted" states before each member.
   * Each member's value is compiled (and minimized) on its own, then copied in.
   */
  private static Nfa.Frag object(Nfa nfa, JsonNode s, String path, int depth, Memo memo) {
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
    List<Map.Entry<String, JsonNode>> members = new ArrayList<>();
    if (props != null) {
      props.properties().forEach(members::add);
    }
    int n = members.size();
    int open = nfa.state();
    int[] none = new int[n + 1];
    int[] some = new int[n + 1];
    for (int i = 0; i <= n; i++) {
      none[i] = nfa.state();
      some[i] = nfa.state();
    }
    int close = nfa.state();
    int done = nfa.state();
    nfa.edge(open, '{', '{', none[0]);
    nfa.edge(close, '}', '}', done);
    nfa.eps(none[n], close);
    nfa.eps(some[n], close);
    for (int i = 0; i < n; i++) {
      String name = members.get(i).getKey();
      Dfa value = value(members.get(i).getValue(), path + ".properties." + name, depth + 1, false, memo);
      Nfa.Frag m = nfa.concat(List.of(nfa.string(TextNode.valueOf(name).toString() + ":"), space(nfa),
          nfa.embed(value)));
      int comma = nfa.state();
      int afterComma = nfa.state();
      nfa.edge(comma, ',', ',', afterComma);
      nfa.edge(afterComma, ' ', ' ', m.start());
      nfa.eps(afterComma, m.start());
      nfa.eps(none[i], m.start());
      nfa.eps(some[i], comma);
      nfa.eps(m.end(), some[i + 1]);
      if (!required.contains(name)) {
        nfa.eps(none[i], none[i + 1]);
        nfa.eps(some[i], some[i + 1]);
      }
    }
    return new Nfa.Frag(open, done);
  }

  private static Nfa.Frag array(Nfa nfa, JsonNode s, String path, int depth, Memo memo) {
    int min = count(s, "minItems", 0, path);
    int max = count(s, "maxItems", -1, path);
    if (max >= 0 && max < min) {
      throw error(path + ".maxItems", "expected at least minItems (" + min + "), found " + max);
    }
    JsonNode items = s.get("items");
    if (items == null) {
      throw error(path, "\"items\" is missing; expected a schema for the array's items");
    }
    Dfa item = value(items, path + ".items", depth + 1, false, memo);
    Nfa.Frag body;
    if (max == 0) {
      body = nfa.empty();
    } else {
      int lo = Math.max(min - 1, 0);
      Nfa.Frag rest = nfa.repeat(() -> nfa.concat(List.of(nfa.chars(',', ','), space(nfa), nfa.embed(item))), lo,
          max < 0 ? -1 : max - 1);
      body = nfa.concat(nfa.embed(item), rest);
      if (min == 0) {
        body = nfa.optional(body);
      }
    }
    return nfa.concat(List.of(nfa.chars('[', '['), body, nfa.chars(']', ']')));
  }

  private static Nfa.Frag string(Nfa nfa, JsonNode s, String path) {
    int min = count(s, "minLength", 0, path);
    int max = count(s, "maxLength", -1, path);
    if (max >= 0 && max < min) {
      throw error(path + ".maxLength", "expected at least minLength (" + min + "), found " + max);
    }
    Nfa.Frag body;
    if (s.has("pattern")) {
      JsonNode p = s.get("pattern");
      if (!p.isTextual()) {
        throw error(path + ".pattern", "expected a string, found " + p.getNodeType());
      }
      CompileBudget budget = nfa.budget();
      Dfa pattern;
      try {
        pattern = RegexSyntax.compile(p.textValue(), budget);
      } catch (ConstraintTooComplexException e) {
        throw new ConstraintTooComplexException("at " + path + ".pattern: " + e.getMessage());
      } catch (IllegalArgumentException e) {
        throw error(path + ".pattern", "malformed pattern " + p + ": " + e.getMessage());
      }
      Dfa safe = Dfa.intersect(pattern, safeChars(budget), budget).minimize(budget);
      Dfa bounded = Dfa.intersect(safe, lengths(min, max, budget), budget).minimize(budget);
      if (bounded.isEmpty()) {
        throw error(path + ".pattern", "no string without escapes matches " + p + " within the length bounds");
      }
      body = nfa.embed(bounded);
    } else {
      Dfa c = stringChar(nfa.budget());
      body = nfa.repeat(() -> nfa.embed(c), min, max);
    }
    return nfa.concat(List.of(nfa.chars('"', '"'), body, nfa.chars('"', '"')));
  }

  /** Chars allowed unescaped inside strings: printable ASCII but " and \, and BMP non-controls. */
  private static final int[] SAFE = {' ', '!', '#', '[', ']', '~', '\u00a0', '\ud7ff', '\ue000', '\ufffd'};

  /** Any number of unescaped string chars: one accepting state looping on them. */
  private static Dfa safeChars(CompileBudget budget) {
    Dfa.Builder b = new Dfa.Builder(budget);
    b.addState(true);
    b.beginEdges(0);
    for (int i = 0; i < SAFE.length; i += 2) {
      b.edge(SAFE[i], SAFE[i + 1], 0);
    }
    return b.build(0);
  }

  /** Any text of min to max chars (max -1: at least min). */
  private static Dfa lengths(int min, int max, CompileBudget budget) {
    int last = max < 0 ? min : max;
    Dfa.Builder b = new Dfa.Builder(budget);
    for (int i = 0; i <= last; i++) {
      b.addState(i >= min);
    }
    for (int i = 0; i <= last; i++) {
      b.beginEdges(i);
      if (i < last) {
        b.edge(0, 0xFFFF, i + 1);
      } else if (max < 0) {
        b.edge(0, 0xFFFF, i);
      }
    }
    return b.build(0);
  }

  /** One JSON string char: an unescaped one or an escape (no surrogate escapes). */
  private static Dfa stringChar(CompileBudget budget) {
    Nfa nfa = new Nfa(budget);
    try {
      Nfa.Frag simple = nfa.charSet(new int[] {'"', '"', '/', '/', '\\', '\\', 'b', 'b', 'f', 'f', 'n', 'n', 'r', 'r',
          't', 't'});
      int[] hexSet = {'0', '9', 'A', 'F', 'a', 'f'};
      Nfa.Frag notD = nfa.charSet(new int[] {'0', '9', 'A', 'C', 'E', 'F', 'a', 'c', 'e', 'f'});
      Nfa.Frag d = nfa.charSet(new int[] {'D', 'D', 'd', 'd'});
      Nfa.Frag low = nfa.chars('0', '7');
      Nfa.Frag unicode = nfa.concat(nfa.chars('u', 'u'), nfa.union(List.of(
          nfa.concat(notD, nfa.repeat(() -> nfa.charSet(hexSet), 3, 3)),
          nfa.concat(List.of(d, low, nfa.repeat(() -> nfa.charSet(hexSet), 2, 2))))));
      Nfa.Frag escape = nfa.concat(nfa.chars('\\', '\\'), nfa.union(List.of(simple, unicode)));
      Nfa.Frag c = nfa.union(List.of(nfa.charSet(SAFE), escape));
      return Dfa.determinize(nfa, c).minimize(budget);
    } finally {
      nfa.release();
    }
  }

  private static Nfa.Frag number(Nfa nfa, boolean fraction) {
    Nfa.Frag intPart = nfa.union(List.of(nfa.chars('0', '0'),
        nfa.concat(nfa.chars('1', '9'), nfa.repeat(() -> nfa.chars('0', '9'), 0, MAX_DIGITS - 1))));
    Nfa.Frag n = nfa.concat(nfa.optional(nfa.chars('-', '-')), intPart);
    if (fraction) {
      Nfa.Frag frac = nfa.optional(nfa.concat(nfa.chars('.', '.'), nfa.repeat(() -> nfa.chars('0', '9'), 1,
          MAX_DIGITS)));
      Nfa.Frag exp = nfa.optional(nfa.concat(List.of(nfa.charSet(new int[] {'E', 'E', 'e', 'e'}),
          nfa.optional(nfa.charSet(new int[] {'+', '+', '-', '-'})), nfa.repeat(() -> nfa.chars('0', '9'), 1, 2))));
      n = nfa.concat(List.of(n, frac, exp));
    }
    return n;
  }

  private static Nfa.Frag space(Nfa nfa) {
    return nfa.optional(nfa.chars(' ', ' '));
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
