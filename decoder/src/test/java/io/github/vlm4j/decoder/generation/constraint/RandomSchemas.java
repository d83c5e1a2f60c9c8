package io.github.vlm4j.decoder.generation.constraint;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** Generates random schemas from the supported subset (test helper, also used by src/test). */
public final class RandomSchemas {
  private static final String[] NAMES = {"id", "name", "tags", "a", "b c", "q\\\"uote", "x", "é"};
  private static final String[] PATTERNS = {"[a-z]{1,5}", "\\\\d{2,4}", "(ab|cd)+", "[A-Z][a-z]*", "x?y?z"};

  private RandomSchemas() {}

  /**
   * Draws one schema.
   *
   * @param r the random source
   * @param depth the nesting depth so far (0 at the root)
   * @return the schema as JSON text
   */
  public static String schema(SplittableRandom r, int depth) {
    int kind = r.nextInt(depth >= 3 ? 6 : 9);
    switch (kind) {
      case 0:
        return "{\"type\":\"number\"}";
      case 1:
        return "{\"type\":\"integer\"}";
      case 2:
        return "{\"type\":\"boolean\"}";
      case 3:
        return r.nextInt(4) == 0 ? "{\"type\":\"null\"}" : "{\"enum\":[\"red\",\"green\",3,null,true]}";
      case 4:
      case 5:
        return string(r);
      case 6:
      case 7:
        return object(r, depth);
      default:
        return array(r, depth);
    }
  }

  private static String string(SplittableRandom r) {
    switch (r.nextInt(5)) {
      case 0:
        return "{\"type\":\"string\"}";
      case 1: {
        int min = r.nextInt(3);
        return "{\"type\":\"string\",\"minLength\":" + min + ",\"maxLength\":" + (min + r.nextInt(6)) + "}";
      }
      case 2:
        return "{\"type\":\"string\",\"pattern\":\"^" + PATTERNS[r.nextInt(PATTERNS.length)] + "$\"}";
      case 3:
        return "{\"type\":\"string\",\"enum\":[\"yes\",\"no\",\"a\\\"b\"]}";
      default:
        return "{\"const\":\"fixed\"}";
    }
  }

  private static String object(SplittableRandom r, int depth) {
    int n = r.nextInt(5);
    List<String> props = new ArrayList<>();
    List<String> required = new ArrayList<>();
    List<String> names = new ArrayList<>(List.of(NAMES));
    for (int i = 0; i < n; i++) {
      String name = names.remove(r.nextInt(names.size()));
      props.add("\"" + name + "\":" + schema(r, depth + 1));
      if (r.nextBoolean()) {
        required.add("\"" + name + "\"");
      }
    }
    return "{\"type\":\"object\",\"properties\":{" + String.join(",", props) + "},\"required\":["
        + String.join(",", required) + "]" + (r.nextBoolean() ? ",\"additionalProperties\":false" : "") + "}";
  }

  private static String array(SplittableRandom r, int depth) {
    StringBuilder s = new StringBuilder("{\"type\":\"array\",\"items\":" + schema(r, depth + 1));
    int min = r.nextInt(3);
    if (r.nextBoolean()) {
      s.append(",\"minItems\":").append(min);
    } else {
      min = 0;
    }
    if (r.nextInt(3) > 0) {
      s.append(",\"maxItems\":").append(min + r.nextInt(4));
    }
    return s.append('}').toString();
  }
}
