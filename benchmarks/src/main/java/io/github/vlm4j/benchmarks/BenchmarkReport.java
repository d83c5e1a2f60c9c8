package io.github.vlm4j.benchmarks;

import io.github.vlm4j.core.model.ModelConfig;
import io.github.vlm4j.core.model.ModelFolder;
import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Turns the CSV rows of {@code RawLoopComparison} and {@code bench-transformersjs.mjs} into the
 * tables of BENCHMARKS.md ({@code tables.md}) and a chart of decode speed against prompt length
 * ({@code shaped.png}).
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.github.vlm4j.benchmarks.BenchmarkReport \
 *     benchmarks/results/shaped.csv benchmarks/results/rss.csv MODEL_FOLDER benchmarks/results
 * }</pre>
 */
public final class BenchmarkReport {
  private BenchmarkReport() {}

  /** One CSV row. */
  record Row(Map<String, String> v) {
    String s(String k) {
      return Objects.requireNonNull(v.get(k), k);
    }

    double d(String k) {
      return Double.parseDouble(s(k));
    }

    int i(String k) {
      return Integer.parseInt(s(k));
    }

    String config() {
      return s("dtype") + "|" + s("threads") + "|" + s("split") + "|" + s("prompt_tokens");
    }
  }

  static List<Row> read(Path csv) throws IOException {
    List<String> lines = Files.readAllLines(csv);
    String[] head = lines.get(0).split(",");
    List<Row> rows = new ArrayList<>();
    for (String line : lines.subList(1, lines.size())) {
      if (line.isBlank() || line.startsWith("contender")) {
        continue;
      }
      String[] f = line.split(",");
      Map<String, String> m = new LinkedHashMap<>();
      for (int i = 0; i < head.length; i++) {
        m.put(head[i], f[i]);
      }
      rows.add(new Row(m));
    }
    return rows;
  }

  /**
   * @param args speed CSV, RSS CSV, model folder (for file sizes and KV shape), output folder
   * @throws Exception on failure
   */
  public static void main(String[] args) throws Exception {
    List<Row> rows = read(Path.of(args[0]));
    List<Row> rss = Files.exists(Path.of(args[1])) ? read(Path.of(args[1])) : List.of();
    Path folder = Path.of(args[2]);
    Path out = Path.of(args[3]);
    StringBuilder md = new StringBuilder();
    speedTables(rows, md);
    rssTable(rows, rss, folder, md);
    Files.writeString(out.resolve("tables.md"), md.toString());
    chart(rows, out.resolve("shaped.png"));
    System.out.print(md);
  }

  private static Row find(List<Row> rows, String contender, Row like) {
    // transformers.js pads to the same target but may land a token or two away; match the nearest prompt length
    return rows.stream()
        .filter(r -> r.s("contender").equals(contender) && r.s("dtype").equals(like.s("dtype"))
            && r.s("threads").equals(like.s("threads")) && r.s("split").equals(like.s("split"))
            && Math.abs(r.i("prompt_tokens") - like.i("prompt_tokens")) <= 8)
        .findFirst().orElse(null);
  }

  private static String f(double x, int decimals) {
    return Double.isNaN(x) ? "–" : String.format(Locale.ROOT, "%." + decimals + "f", x);
  }

  private static String ratio(double a, double b) {
    return Double.isNaN(a) || Double.isNaN(b) || b == 0 ? "–" : String.format(Locale.ROOT, "**%.2f**", a / b);
  }

  private static void speedTables(List<Row> rows, StringBuilder md) {
    List<Row> vlm = rows.stream().filter(r -> r.s("contender").equals("vlm4j"))
        .sorted(Comparator.comparing((Row r) -> -r.i("threads")).thenComparing(r -> r.s("dtype"))
            .thenComparing(r -> r.s("split")).thenComparing(r -> r.i("prompt_tokens")))
        .toList();
    md.append("| threads | dtype | images | prompt tokens | vision ms/frame vlm4j | raw | vlm4j/raw"
        + " | prefill ms vlm4j | raw | TTFT−pre ms vlm4j | raw | tjs | vlm4j/raw | vlm4j/tjs"
        + " | decode tok/s vlm4j | raw | tjs | vlm4j/raw | vlm4j/tjs |\n");
    md.append("|---".repeat(20)).append("|\n");
    for (Row v : vlm) {
      Row r = find(rows, "raw-ort", v);
      Row t = find(rows, "transformers.js", v);
      double nan = Double.NaN;
      md.append(String.format(Locale.ROOT, "| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
              + " %s | %s | %s | %s | %s |%n",
          v.s("threads"), v.s("dtype"), v.s("split").equals("split") ? v.s("frames") + " frames" : "1 frame",
          v.i("prompt_tokens"),
          f(v.d("vision_ms_per_frame"), 0), r == null ? "–" : f(r.d("vision_ms_per_frame"), 0),
          r == null ? "–" : ratio(v.d("vision_ms_per_frame"), r.d("vision_ms_per_frame")),
          f(v.d("prefill_ms"), 0), r == null ? "–" : f(r.d("prefill_ms"), 0),
          f(v.d("ttft_minus_preprocess_ms"), 0), r == null ? "–" : f(r.d("ttft_minus_preprocess_ms"), 0),
          t == null ? "–" : f(t.d("ttft_minus_preprocess_ms"), 0),
          r == null ? "–" : ratio(v.d("ttft_minus_preprocess_ms"), r.d("ttft_minus_preprocess_ms")),
          t == null ? "–" : ratio(v.d("ttft_minus_preprocess_ms"), t.d("ttft_minus_preprocess_ms")),
          f(v.d("decode_tok_s"), 1), r == null ? "–" : f(r.d("decode_tok_s"), 1),
          t == null ? "–" : f(t.d("decode_tok_s"), 1),
          r == null ? "–" : ratio(v.d("decode_tok_s"), r.d("decode_tok_s")),
          t == null ? "–" : ratio(v.d("decode_tok_s"), t == null ? nan : t.d("decode_tok_s"))));
    }
    md.append("\nFull time to first token, preprocessing included (image decode, resize, tiling, normalise, "
        + "template, tokenize):\n\n| threads | dtype | images | prompt tokens | vlm4j preprocess ms | tjs | vlm4j TTFT ms"
        + " | tjs | vlm4j/tjs | heap B/step vlm4j | raw |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (Row v : vlm) {
      Row r = find(rows, "raw-ort", v);
      Row t = find(rows, "transformers.js", v);
      md.append(String.format(Locale.ROOT, "| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |%n",
          v.s("threads"), v.s("dtype"), v.s("split").equals("split") ? v.s("frames") + " frames" : "1 frame",
          v.i("prompt_tokens"), f(v.d("preprocess_ms"), 0), t == null ? "–" : f(t.d("preprocess_ms"), 0),
          f(v.d("ttft_ms"), 0), t == null ? "–" : f(t.d("ttft_ms"), 0),
          t == null ? "–" : ratio(v.d("ttft_ms"), t.d("ttft_ms")), f(v.d("heap_bytes_per_step"), 0),
          r == null ? "–" : f(r.d("heap_bytes_per_step"), 0)));
    }
  }

  private static void rssTable(List<Row> rows, List<Row> rss, Path folder, StringBuilder md) throws Exception {
    var text = ModelConfig.read(ModelFolder.of(folder)).textConfig();
    md.append("\nPeak RSS (one contender per process; transformers.js rows from its speed runs):\n\n"
        + "| contender | dtype | threads | images | prompt tokens | peak RSS MiB | model files MiB | KV cache MiB | budget"
        + " (files + KV + 300) | within |\n|---|---|---|---|---|---|---|---|---|---|\n");
    List<Row> all = new ArrayList<>(rss);
    rows.stream().filter(r -> r.s("contender").equals("transformers.js")).forEach(all::add);
    for (Row r : all) {
      String suffix = r.s("dtype").equals("fp32") ? "" : "_quantized";
      long bytes = 0;
      for (String g : new String[] {"vision_encoder", "embed_tokens", "decoder_model_merged"}) {
        bytes += Files.size(folder.resolve("onnx/" + g + suffix + ".onnx"));
      }
      double files = bytes / 1048576.0;
      int positions = r.i("prompt_tokens") + r.i("new_tokens");
      double kv = 2.0 * text.numLayers() * text.numKvHeads() * text.headDim() * positions * 4 / 1048576.0;
      double budget = files + kv + 300;
      double peak = r.d("peak_rss_mib");
      md.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %d | %.0f | %.0f | %.1f | %.0f | %s |%n",
          r.s("contender"), r.s("dtype"), r.s("threads"), r.s("split").equals("split") ? r.s("frames") + " frames" : "1 frame",
          r.i("prompt_tokens"), peak, files, kv, budget,
          peak <= budget ? "yes" : String.format(Locale.ROOT, "no (+%.0f MiB)", peak - budget)));
    }
  }

  private static void chart(List<Row> rows, Path png) throws IOException {
    XYChart chart = new XYChartBuilder().width(1100).height(560)
        .title("Decode speed vs prompt length, SmolVLM-256M shapes, fp32, no image splitting")
        .xAxisTitle("prompt tokens").yAxisTitle("decode tokens/s (median)").build();
    chart.getStyler().setChartBackgroundColor(Color.WHITE);
    chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideE);
    Map<String, Color> colors = Map.of("vlm4j", new Color(0x1f77b4), "raw-ort", new Color(0x7f7f7f),
        "transformers.js", new Color(0xd62728));
    for (String threads : new String[] {"2", "1"}) {
      for (String contender : new String[] {"vlm4j", "raw-ort", "transformers.js"}) {
        List<Row> pts = rows.stream().filter(r -> r.s("contender").equals(contender) && r.s("dtype").equals("fp32")
                && r.s("split").equals("nosplit") && r.s("threads").equals(threads))
            .sorted(Comparator.comparingInt(r -> r.i("prompt_tokens"))).toList();
        if (pts.isEmpty()) {
          continue;
        }
        XYSeries s = chart.addSeries(contender + ", " + threads + " thread" + (threads.equals("1") ? "" : "s"),
            pts.stream().mapToDouble(r -> r.i("prompt_tokens")).toArray(),
            pts.stream().mapToDouble(r -> r.d("decode_tok_s")).toArray());
        s.setLineColor(colors.get(contender));
        s.setMarkerColor(colors.get(contender));
        s.setMarker(threads.equals("2") ? SeriesMarkers.CIRCLE : SeriesMarkers.SQUARE);
        if (threads.equals("1")) {
          s.setLineStyle(new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
        }
      }
    }
    BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
  }
}
