package io.github.vlm4j.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import io.github.vlm4j.core.ModelLoadException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;

/**
 * Strict, range-checked reading of the fields of one JSON config file. Every accessor takes a
 * dotted field path ({@code "size.longest_edge"}) and the accepted range; a field that is present
 * but of the wrong type, fractional where an integer is expected, not finite, or outside the range
 * is a {@link ModelLoadException} with reason MALFORMED_CONFIG whose message names the file, the
 * field, the accepted range and the value found. Absent fields and JSON {@code null} count as
 * missing. Nothing is wrapped or truncated (unlike Jackson's {@code asInt()}).
 *
 * <p>Immutable and thread-safe (the tree must not be modified while it is read).
 */
public final class ConfigReader {
  private final JsonNode node;
  private final String source;
  private final String prefix;

  private ConfigReader(JsonNode node, String source, String prefix) {
    this.node = node;
    this.source = source;
    this.prefix = prefix;
  }

  /**
   * Wraps a parsed config object.
   *
   * @param root a parsed config, which must be a JSON object
   * @param source the file it came from, for messages
   * @return a reader of its fields
   * @throws ModelLoadException MALFORMED_CONFIG if {@code root} is not an object
   */
  public static ConfigReader of(JsonNode root, String source) throws ModelLoadException {
    if (root == null || !root.isObject()) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
          source + " must hold a JSON object, found " + (root == null ? "nothing" : root.getNodeType()));
    }
    return new ConfigReader(root, source, "");
  }

  /**
   * Returns the name of the file these fields come from.
   *
   * @return the file these fields come from, for messages
   */
  public String source() {
    return source;
  }

  /**
   * Returns the JSON object this reader reads.
   *
   * @return the object read
   */
  public JsonNode node() {
    return node;
  }

  /**
   * Looks up a field without checking its type.
   *
   * @param field a dotted path
   * @return the node there, or a missing node
   */
  public JsonNode get(String field) {
    JsonNode n = node;
    for (String key : field.split("\\.")) {
      n = n.isObject() ? n.path(key) : MissingNode.getInstance();
    }
    return n;
  }

  /**
   * Tells whether a field is present and not null.
   *
   * @param field a dotted path
   * @return whether it is present and not null
   */
  public boolean has(String field) {
    JsonNode n = get(field);
    return !n.isMissingNode() && !n.isNull();
  }

  /**
   * Reads a nested object; an absent field gives a reader with no fields.
   *
   * @param field a dotted path to an object
   * @return a reader of that object (messages name the full path)
   * @throws ModelLoadException MALFORMED_CONFIG if present but not an object
   */
  public ConfigReader object(String field) throws ModelLoadException {
    JsonNode n = get(field);
    if (!has(field)) {
      return new ConfigReader(MissingNode.getInstance(), source, prefix + field + ".");
    }
    if (!n.isObject()) {
      throw wrong(field, "an object", n);
    }
    return new ConfigReader(n, source, prefix + field + ".");
  }

  /**
   * Reads an optional integer within bounds.
   *
   * @param field a dotted path
   * @param min smallest accepted value
   * @param max largest accepted value
   * @return the integer, if present
   * @throws ModelLoadException MALFORMED_CONFIG if present but not an integer in {@code [min, max]}
   */
  public OptionalInt optInt(String field, int min, int max) throws ModelLoadException {
    return has(field) ? OptionalInt.of(intValue(get(field), field, min, max)) : OptionalInt.empty();
  }

  /**
   * Reads an integer within bounds, or a default if absent.
   *
   * @param field a dotted path
   * @param min smallest accepted value
   * @param max largest accepted value
   * @param missing the value if absent
   * @return the integer
   * @throws ModelLoadException MALFORMED_CONFIG if present but not an integer in {@code [min, max]}
   */
  public int intOr(String field, int min, int max, int missing) throws ModelLoadException {
    return optInt(field, min, max).orElse(missing);
  }

  /**
   * Reads a required integer within bounds.
   *
   * @param field a dotted path
   * @param min smallest accepted value
   * @param max largest accepted value
   * @return the integer
   * @throws ModelLoadException MALFORMED_CONFIG if absent or not an integer in {@code [min, max]}
   */
  public int requireInt(String field, int min, int max) throws ModelLoadException {
    OptionalInt v = optInt(field, min, max);
    if (v.isEmpty()) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
          source + ": missing integer \"" + prefix + field + "\" (expected in " + range(min, max) + ")");
    }
    return v.getAsInt();
  }

  /**
   * Reads an integer or an array of integers (such as {@code eos_token_id}).
   *
   * @param field a dotted path
   * @param min smallest accepted value
   * @param max largest accepted value
   * @return the integers, empty if absent
   * @throws ModelLoadException MALFORMED_CONFIG if any element is not an integer in {@code [min, max]}
   */
  public List<Integer> intList(String field, int min, int max) throws ModelLoadException {
    List<Integer> out = new ArrayList<>();
    if (!has(field)) {
      return out;
    }
    JsonNode n = get(field);
    if (n.isArray()) {
      for (int i = 0; i < n.size(); i++) {
        out.add(intValue(n.get(i), field + "[" + i + "]", min, max));
      }
    } else {
      out.add(intValue(n, field, min, max));
    }
    return out;
  }

  /**
   * Reads an optional finite number within bounds.
   *
   * @param field a dotted path
   * @param min smallest accepted value
   * @param max largest accepted value
   * @return the finite number, if present
   * @throws ModelLoadException MALFORMED_CONFIG if present but not a finite number in {@code [min, max]}
   */
  public OptionalDouble optDouble(String field, double min, double max) throws ModelLoadException {
    return has(field) ? OptionalDouble.of(doubleValue(get(field), field, min, max)) : OptionalDouble.empty();
  }

  /**
   * Reads a finite number within bounds, or a default if absent.
   *
   * @param field a dotted path
   * @param min smallest accepted value
   * @param max largest accepted value
   * @param missing the value if absent
   * @return the number
   * @throws ModelLoadException MALFORMED_CONFIG if present but not a finite number in {@code [min, max]}
   */
  public double doubleOr(String field, double min, double max, double missing) throws ModelLoadException {
    return optDouble(field, min, max).orElse(missing);
  }

  /**
   * Reads a number or an array of exactly {@code count} numbers (such as {@code image_mean}).
   *
   * @param field a dotted path
   * @param count the array length
   * @param min smallest accepted value
   * @param max largest accepted value
   * @param missing the value of every element if absent
   * @return {@code count} numbers
   * @throws ModelLoadException MALFORMED_CONFIG for another shape or an element out of range
   */
  public double[] doubles(String field, int count, double min, double max, double missing) throws ModelLoadException {
    double[] out = new double[count];
    if (!has(field)) {
      java.util.Arrays.fill(out, missing);
      return out;
    }
    JsonNode n = get(field);
    if (n.isNumber()) {
      java.util.Arrays.fill(out, doubleValue(n, field, min, max));
      return out;
    }
    if (!n.isArray() || n.size() != count) {
      throw wrong(field, "a number or an array of " + count + " numbers in " + range(min, max), n);
    }
    for (int i = 0; i < count; i++) {
      out[i] = doubleValue(n.get(i), field + "[" + i + "]", min, max);
    }
    return out;
  }

  /**
   * Reads a boolean, or a default if absent.
   *
   * @param field a dotted path
   * @param missing the value if absent
   * @return the boolean
   * @throws ModelLoadException MALFORMED_CONFIG if present but not {@code true}/{@code false}
   */
  public boolean boolOr(String field, boolean missing) throws ModelLoadException {
    if (!has(field)) {
      return missing;
    }
    JsonNode n = get(field);
    if (!n.isBoolean()) {
      throw wrong(field, "true or false", n);
    }
    return n.booleanValue();
  }

  /**
   * Reads an optional string.
   *
   * @param field a dotted path
   * @return the string, if present
   * @throws ModelLoadException MALFORMED_CONFIG if present but not a string
   */
  public Optional<String> optText(String field) throws ModelLoadException {
    if (!has(field)) {
      return Optional.empty();
    }
    JsonNode n = get(field);
    if (!n.isTextual()) {
      throw wrong(field, "a string", n);
    }
    return Optional.of(n.textValue());
  }

  /**
   * Reads a required non-empty string.
   *
   * @param field a dotted path
   * @return the non-empty string
   * @throws ModelLoadException MALFORMED_CONFIG if absent, empty or not a string
   */
  public String requireText(String field) throws ModelLoadException {
    Optional<String> s = optText(field);
    if (s.isEmpty() || s.get().isEmpty()) {
      throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
          source + ": missing non-empty string \"" + prefix + field + "\"");
    }
    return s.get();
  }

  /**
   * Reads a file name that must stay inside the model folder.
   *
   * @param field a dotted path
   * @return the relative name
   * @throws ModelLoadException MALFORMED_CONFIG if absent or not a string, FILE_OUTSIDE_FOLDER if it
   *     is absolute or has a {@code ..} segment
   */
  public String requireFileName(String field) throws ModelLoadException {
    String name = requireText(field);
    ModelFolder.checkRelative(name, source + " \"" + prefix + field + "\"");
    return name;
  }

  /**
   * Reads an array of objects; messages about their fields name {@code field[i].key}.
   *
   * @param field a dotted path to an array
   * @param minCount fewest elements accepted
   * @param maxCount most elements accepted
   * @return one reader per element, in order (empty if absent and {@code minCount} is 0)
   * @throws ModelLoadException MALFORMED_CONFIG if it is not an array of {@code minCount} to {@code maxCount}
   *     objects
   */
  public List<ConfigReader> objects(String field, int minCount, int maxCount) throws ModelLoadException {
    List<ConfigReader> out = new ArrayList<>();
    JsonNode n = get(field);
    if (!has(field) && minCount == 0) {
      return out;
    }
    if (!n.isArray() || n.size() < minCount || n.size() > maxCount) {
      throw wrong(field, "an array of " + minCount + " to " + maxCount + " objects", n);
    }
    for (int i = 0; i < n.size(); i++) {
      if (!n.get(i).isObject()) {
        throw wrong(field + "[" + i + "]", "an object", n.get(i));
      }
      out.add(new ConfigReader(n.get(i), source, prefix + field + "[" + i + "]."));
    }
    return out;
  }

  /**
   * Names a field of this reader as messages do.
   *
   * @param field a dotted path
   * @return the field's full path from the file's root, e.g. {@code encoders[1].outputs}
   */
  public String path(String field) {
    return prefix + field;
  }

  /**
   * Makes a malformed-config error about a field of this reader.
   *
   * @param field a dotted path
   * @param problem what is wrong, e.g. {@code "must be one of [NCHW, NHWC], found \"NWHC\""}
   * @return the exception (MALFORMED_CONFIG) naming the file and the field's full path
   */
  public ModelLoadException malformed(String field, String problem) {
    return new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
        source + ": \"" + prefix + field + "\" " + problem);
  }

  private int intValue(JsonNode n, String field, int min, int max) throws ModelLoadException {
    long v;
    if (n.isIntegralNumber() && n.canConvertToLong()) {
      v = n.longValue();
    } else if (n.isFloatingPointNumber() && Double.isFinite(n.doubleValue())
        && n.doubleValue() == Math.rint(n.doubleValue()) && Math.abs(n.doubleValue()) < 0x1p53) {
      v = (long) n.doubleValue(); // 2048.0 is an integer; 2048.5 is not
    } else {
      throw wrong(field, "an integer in " + range(min, max), n);
    }
    if (v < min || v > max) {
      throw wrong(field, "an integer in " + range(min, max), n);
    }
    return (int) v;
  }

  private double doubleValue(JsonNode n, String field, double min, double max) throws ModelLoadException {
    double v = n.isNumber() ? n.doubleValue() : Double.NaN;
    if (!n.isNumber() || !Double.isFinite(v) || v < min || v > max) {
      throw wrong(field, "a finite number in " + range(min, max), n);
    }
    return v;
  }

  private ModelLoadException wrong(String field, String expected, JsonNode found) {
    String text = found.toString();
    if (text.length() > 80) {
      text = text.substring(0, 77) + "...";
    }
    return new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
        source + ": \"" + prefix + field + "\" must be " + expected + ", found " + text);
  }

  private static String range(double min, double max) {
    return "[" + fmt(min) + ", " + fmt(max) + "]";
  }

  private static String fmt(double d) {
    return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
  }
}
