package io.github.vlm4j.benchmarks;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The markdown tables of BENCHMARKS.md's Qwen section from {@code benchmarks/qwen.sh}'s results: one
 * row per (threads, image), the three contenders side by side with their ratios (of medians), and
 * the range of the 1-minute load average the machine had while each contender ran. Each figure is
 * the median over the rows of that contender and configuration (one row per round). A contender
 * without a row prints "not measured". A third table has the CPU figures (the process's CPU time to
 * the first token and per decode step), which other load on the machine distorts less. With {@code
 * --best} the first table takes each contender's best round instead of the median (shortest time,
 * highest tokens/s: other load only ever adds time). {@code --contenders A,B,...} picks the contenders
 * and their order (default {@code vlm4j,raw-ort,transformers.js}; ratios for every pair); when the CSV
 * holds more than one model a model column leads each row, and a {@code load_ms} column
 * ({@link FamilyComparison}'s) adds model-load figures to the second table ({@code benchmarks/families.sh}).
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.github.vlm4j.benchmarks.QwenReport \
 *     benchmarks/results/qwen.csv benchmarks/results/qwen-load.csv [--best] [--contenders A,B,...]
 * }</pre>
 */
public final class QwenReport {
  private QwenReport() {}

  private static String[] who = {"vlm4j", "raw-ort", "transformers.js"};
  private static boolean best;

  /**
   * @param args the results CSV (QwenComparison's columns) and the load CSV written by qwen.sh
   *     ({@code contender,image,threads,load_start,load_end})
   * @throws Exception if a file cannot be read
   */
  public static void main(String[] args) throws Exception {
    List<String> argList = Arrays.asList(args);
    best = argList.contains("--best");
    int ci = argList.indexOf("--contenders");
    if (ci >= 0) {
      who = args[ci + 1].split(",");
    }
    Map<String, Map<String, List<Map<String, String>>>> rows = new TreeMap<>((a, b) -> {
      String[] x = a.split(" ");
      String[] y = b.split(" ");
      int c = x[3].compareTo(y[3]);   // model
      c = c != 0 ? c : Integer.compare(Integer.parseInt(y[0]), Integer.parseInt(x[0]));   // threads descending
      return c != 0 ? c : Integer.compare(Integer.parseInt(x[2]), Integer.parseInt(y[2]));   // tokens ascending
    });
    List<Map<String, String>> results = read(Path.of(args[0]));
    boolean models = results.stream().map(r -> r.get("model")).distinct().count() > 1;
    boolean loadMs = results.stream().anyMatch(r -> r.get("load_ms") != null);
    for (Map<String, String> r : results) {
      rows.computeIfAbsent(r.get("threads") + " " + r.get("image") + " " + r.get("image_tokens") + " " + r.get("model"),
          k -> new LinkedHashMap<>()).computeIfAbsent(r.get("contender"), k -> new ArrayList<>()).add(r);
    }
    Map<String, double[]> loads = new LinkedHashMap<>();   // min, max of the 1-min load at start and end
    if (args.length > 1 && Files.exists(Path.of(args[1]))) {
      for (Map<String, String> r : read(Path.of(args[1]))) {
        double[] range = loads.computeIfAbsent(r.get("contender") + " " + r.get("threads") + " " + r.get("image"),
            k -> new double[] {Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY});
        for (String col : new String[] {"load_start", "load_end"}) {
          double v = Double.parseDouble(r.get(col).split(" ")[0]);
          range[0] = Math.min(range[0], v);
          range[1] = Math.max(range[1], v);
        }
      }
    }
    String lead = models ? "| model " : "";
    header(lead + "| threads | image | image tokens | prompt tokens | rounds | " + each("vision ms") + " | "
        + each("prefill ms") + " | " + each("TTFT−pre ms") + " | " + pairs() + " | " + each("decode tok/s") + " | "
        + pairs() + " | 1-min load " + String.join(" / ", shortNames()) + " |");
    for (var e : rows.entrySet()) {
      String[] key = e.getKey().split(" ");
      var m = e.getValue();
      List<String> c = start(models, key);
      c.addAll(List.of(key[2], prompt(m), rounds(m)));
      c.addAll(three(m, "vision_ms", 0));
      c.addAll(three(m, "prefill_ms", 0));
      c.addAll(three(m, "ttft_minus_preprocess_ms", 0));
      c.addAll(ratios(m, "ttft_minus_preprocess_ms"));
      c.addAll(three(m, "decode_tok_s", 2));
      c.addAll(ratios(m, "decode_tok_s"));
      c.add(load(loads, key));
      System.out.println("| " + String.join(" | ", c) + " |");
    }
    if (best) {
      return;
    }
    System.out.println();
    header(lead + "| threads | image | " + (loadMs ? each("load ms") + " | " : "") + each("preprocess ms") + " | "
        + each("TTFT ms") + " | " + pairs() + " | " + each("peak RSS MiB") + " |");
    for (var e : rows.entrySet()) {
      String[] key = e.getKey().split(" ");
      var m = e.getValue();
      List<String> c = start(models, key);
      if (loadMs) {
        c.addAll(three(m, "load_ms", 0));
      }
      c.addAll(three(m, "preprocess_ms", 0));
      c.addAll(three(m, "ttft_ms", 0));
      c.addAll(ratios(m, "ttft_ms"));
      c.addAll(three(m, "peak_rss_mib", 0));
      System.out.println("| " + String.join(" | ", c) + " |");
    }
    System.out.println();
    header(lead + "| threads | image | " + each("CPU ms to first token") + " | " + pairs() + " | "
        + each("CPU ms per decode step") + " | " + pairs() + " |");
    for (var e : rows.entrySet()) {
      String[] key = e.getKey().split(" ");
      var m = e.getValue();
      List<String> c = start(models, key);
      c.addAll(three(m, "ttft_cpu_ms", 0));
      c.addAll(ratios(m, "ttft_cpu_ms"));
      c.addAll(three(m, "decode_cpu_ms_per_token", 1));
      c.addAll(ratios(m, "decode_cpu_ms_per_token"));
      System.out.println("| " + String.join(" | ", c) + " |");
    }
  }

  /** Prints a table header and its separator line. */
  private static void header(String h) {
    System.out.println(h);
    System.out.println("|" + "---|".repeat(h.split("\\|", -1).length - 2));
  }

  /** The first cells of a row: the model (when the CSV holds several), threads, image. */
  private static List<String> start(boolean models, String[] key) {
    List<String> c = new ArrayList<>();
    if (models) {
      c.add(key[3]);
    }
    c.add(key[0]);
    c.add(key[1]);
    return c;
  }

  /** Short contender names for headers: vlm4j, raw, tjs. */
  private static List<String> shortNames() {
    List<String> out = new ArrayList<>();
    for (String w : who) {
      out.add(switch (w) {
        case "raw-ort" -> "raw";
        case "transformers.js" -> "tjs";
        default -> w;
      });
    }
    return out;
  }

  /** "LABEL vlm4j | raw | tjs": one header cell per contender. */
  private static String each(String label) {
    return label + " " + String.join(" | ", shortNames());
  }

  /** "vlm4j/raw | vlm4j/tjs | raw/tjs": one header cell per pair of contenders. */
  private static String pairs() {
    List<String> n = shortNames();
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n.size(); i++) {
      for (int j = i + 1; j < n.size(); j++) {
        out.add(n.get(i) + "/" + n.get(j));
      }
    }
    return String.join(" | ", out);
  }

  private static String prompt(Map<String, List<Map<String, String>>> m) {
    return m.values().iterator().next().get(0).get("prompt_tokens");
  }

  private static String rounds(Map<String, List<Map<String, String>>> m) {
    List<String> out = new ArrayList<>();
    for (String w : who) {
      out.add(Integer.toString(m.getOrDefault(w, List.of()).size()));
    }
    return String.join("/", out);
  }

  private static List<String> three(Map<String, List<Map<String, String>>> m, String col, int digits) {
    List<String> out = new ArrayList<>();
    for (String w : who) {
      double v = value(m, w, col);
      out.add(Double.isNaN(v) ? (m.containsKey(w) ? "—" : "not measured")
          : String.format(Locale.ROOT, "%,." + digits + "f", v));
    }
    return out;
  }

  private static List<String> ratios(Map<String, List<Map<String, String>>> m, String col) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < who.length; i++) {
      for (int j = i + 1; j < who.length; j++) {
        out.add(ratio(value(m, who[i], col), value(m, who[j], col)));
      }
    }
    return out;
  }

  private static String ratio(double a, double b) {
    return Double.isNaN(a) || Double.isNaN(b) ? "—" : String.format(Locale.ROOT, "**%.2f**", a / b);
  }

  /** Median over the contender's rows (NaN if it has none or the column is not a number). */
  private static double value(Map<String, List<Map<String, String>>> m, String who, String col) {
    var rs = m.get(who);
    if (rs == null) {
      return Double.NaN;
    }
    double[] v = rs.stream().map(r -> r.get(col)).filter(x -> x != null).mapToDouble(Double::parseDouble)
        .filter(x -> !Double.isNaN(x)).sorted().toArray();
    if (best && v.length > 0 && bestable(col)) {
      return col.endsWith("_tok_s") ? v[v.length - 1] : v[0];
    }
    return v.length == 0 ? Double.NaN : v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }

  /** Wall-clock columns of the first table, for which --best takes the best round. */
  private static boolean bestable(String col) {
    return List.of("vision_ms", "prefill_ms", "ttft_minus_preprocess_ms", "decode_tok_s").contains(col);
  }

  private static String load(Map<String, double[]> loads, String[] key) {
    List<String> out = new ArrayList<>();
    for (String w : who) {
      double[] r = loads.get(w + " " + key[0] + " " + key[1]);
      out.add(r == null ? "—" : String.format(Locale.ROOT, "%.1f–%.1f", r[0], r[1]));
    }
    return String.join(" / ", out);
  }

  private static List<Map<String, String>> read(Path csv) throws java.io.IOException {
    List<String> lines = Files.readAllLines(csv);
    String[] header = lines.get(0).split(",");
    List<Map<String, String>> out = new ArrayList<>();
    for (String line : lines.subList(1, lines.size())) {
      if (line.isBlank() || line.startsWith("contender,")) {
        continue;
      }
      String[] f = line.split(",", -1);
      Map<String, String> r = new LinkedHashMap<>();
      for (int i = 0; i < header.length && i < f.length; i++) {
        r.put(header[i], f[i]);
      }
      out.add(r);
    }
    return out;
  }
}
