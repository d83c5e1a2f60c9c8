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
 * row per (threads, image), the three contenders side by side with their ratios, and the load
 * average the machine had while each contender ran. A contender without a row prints "not
 * measured". When a configuration was measured more than once, the last row counts.
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.github.vlm4j.benchmarks.QwenReport \
 *     benchmarks/results/qwen.csv benchmarks/results/qwen-load.csv
 * }</pre>
 */
public final class QwenReport {
  private QwenReport() {}

  private static final String[] WHO = {"vlm4j", "raw-ort", "transformers.js"};

  /**
   * @param args the results CSV (QwenComparison's columns) and the load CSV written by qwen.sh
   *     ({@code contender,image,threads,load_start,load_end})
   * @throws Exception if a file cannot be read
   */
  public static void main(String[] args) throws Exception {
    Map<String, Map<String, Map<String, String>>> rows = new TreeMap<>((a, b) -> {
      String[] x = a.split(" ");
      String[] y = b.split(" ");
      int c = Integer.compare(Integer.parseInt(y[0]), Integer.parseInt(x[0]));   // threads descending
      return c != 0 ? c : Integer.compare(Integer.parseInt(x[2]), Integer.parseInt(y[2]));   // tokens ascending
    });
    for (Map<String, String> r : read(Path.of(args[0]))) {
      rows.computeIfAbsent(r.get("threads") + " " + r.get("image") + " " + r.get("image_tokens"),
          k -> new LinkedHashMap<>()).put(r.get("contender"), r);
    }
    Map<String, String> loads = new LinkedHashMap<>();
    if (args.length > 1 && Files.exists(Path.of(args[1]))) {
      for (Map<String, String> r : read(Path.of(args[1]))) {
        loads.put(r.get("contender") + " " + r.get("threads") + " " + r.get("image"),
            r.get("load_start").split(" ")[0] + "→" + r.get("load_end").split(" ")[0]);
      }
    }
    System.out.println("| threads | image | image tokens | prompt tokens | vision ms vlm4j | raw | tjs | prefill ms vlm4j"
        + " | raw | tjs | TTFT−pre ms vlm4j | raw | tjs | vlm4j/raw | vlm4j/tjs | raw/tjs | decode tok/s vlm4j | raw | tjs"
        + " | vlm4j/raw | vlm4j/tjs | raw/tjs | 1-min load vlm4j / raw / tjs |");
    System.out.println("|" + "---|".repeat(23));
    for (var e : rows.entrySet()) {
      String[] key = e.getKey().split(" ");
      var m = e.getValue();
      List<String> c = new ArrayList<>(List.of(key[0], key[1], key[2], prompt(m)));
      c.addAll(three(m, "vision_ms", 0));
      c.addAll(three(m, "prefill_ms", 0));
      c.addAll(three(m, "ttft_minus_preprocess_ms", 0));
      c.addAll(ratios(m, "ttft_minus_preprocess_ms"));
      c.addAll(three(m, "decode_tok_s", 2));
      c.addAll(ratios(m, "decode_tok_s"));
      c.add(load(loads, key));
      System.out.println("| " + String.join(" | ", c) + " |");
    }
    System.out.println();
    System.out.println("| threads | image | preprocess ms vlm4j | raw | tjs | TTFT ms vlm4j | raw | tjs | vlm4j/raw |"
        + " vlm4j/tjs | raw/tjs | peak RSS MiB vlm4j | raw | tjs |");
    System.out.println("|" + "---|".repeat(14));
    for (var e : rows.entrySet()) {
      String[] key = e.getKey().split(" ");
      var m = e.getValue();
      List<String> c = new ArrayList<>(List.of(key[0], key[1]));
      c.addAll(three(m, "preprocess_ms", 0));
      c.addAll(three(m, "ttft_ms", 0));
      c.addAll(ratios(m, "ttft_ms"));
      c.addAll(three(m, "peak_rss_mib", 0));
      System.out.println("| " + String.join(" | ", c) + " |");
    }
  }

  private static String prompt(Map<String, Map<String, String>> m) {
    return m.values().iterator().next().get("prompt_tokens");
  }

  private static List<String> three(Map<String, Map<String, String>> m, String col, int digits) {
    List<String> out = new ArrayList<>();
    for (String w : WHO) {
      double v = value(m, w, col);
      out.add(Double.isNaN(v) ? (m.containsKey(w) ? "—" : "not measured")
          : String.format(Locale.ROOT, "%,." + digits + "f", v));
    }
    return out;
  }

  private static List<String> ratios(Map<String, Map<String, String>> m, String col) {
    double v = value(m, "vlm4j", col);
    double r = value(m, "raw-ort", col);
    double t = value(m, "transformers.js", col);
    return Arrays.asList(ratio(v, r), ratio(v, t), ratio(r, t));
  }

  private static String ratio(double a, double b) {
    return Double.isNaN(a) || Double.isNaN(b) ? "—" : String.format(Locale.ROOT, "**%.2f**", a / b);
  }

  private static double value(Map<String, Map<String, String>> m, String who, String col) {
    var r = m.get(who);
    if (r == null || r.get(col) == null) {
      return Double.NaN;
    }
    return Double.parseDouble(r.get(col));
  }

  private static String load(Map<String, String> loads, String[] key) {
    List<String> out = new ArrayList<>();
    for (String w : WHO) {
      out.add(loads.getOrDefault(w + " " + key[0] + " " + key[1], "—"));
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
