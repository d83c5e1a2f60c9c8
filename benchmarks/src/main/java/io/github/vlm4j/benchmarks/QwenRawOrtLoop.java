package io.github.vlm4j.benchmarks;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.imageio.ImageIO;

/**
 * The ceiling for a Java wrapper on an onnx-community Qwen2-VL / Qwen2.5-VL folder: a minimal,
 * hand-written ONNX Runtime loop over its three graphs ({@code vision_encoder}, {@code
 * embed_tokens}, {@code decoder_model_merged}, fp32), written from the graphs' contract and sharing
 * no code with vlm4j — its own patchify, its own M-RoPE {@code get_rope_index}, the prompt in the
 * Qwen2-VL chat format tokenized by HuggingFace tokenizers (DJL) directly, plain {@link
 * OrtSession#run} calls, {@code present.*} fed back as {@code past_key_values.*} without copies, the
 * logits written into pinned buffers. It does not resize: images must already have sides that are
 * multiples of {@code patch_size × merge_size} inside {@code [min_pixels, max_pixels]} (then every
 * runtime sees the same pixels).
 *
 * <p>Not thread-safe; owns its sessions and tokenizer ({@link #close()}).
 */
public final class QwenRawOrtLoop implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final OrtEnvironment env = OrtEnvironment.getEnvironment();
  private final Shapes shapes;
  private final HuggingFaceTokenizer tokenizer;
  private final OrtSession vision;
  private final OrtSession embed;
  private final OrtSession decoder;
  private final String gridInput;
  private final Set<String> presents = new LinkedHashSet<>();
  private FloatBuffer prefillLogits = floats(0);

  /**
   * The folder's dimensions and preprocessing constants (config.json, preprocessor_config.json).
   *
   * @param layers decoder layers
   * @param kvHeads KV heads
   * @param headDim head size
   * @param hidden decoder width
   * @param vocab logits width
   * @param imageTokenId id of {@code <|image_pad|>}
   * @param patch patch side in pixels
   * @param merge spatial merge size
   * @param temporal temporal patch size (frames per patch; a still image is repeated)
   * @param rescale pixel rescale factor
   * @param mean per-channel mean
   * @param std per-channel standard deviation
   * @param minPixels smallest image area the processor keeps unchanged
   * @param maxPixels largest image area the processor keeps unchanged
   */
  public record Shapes(int layers, int kvHeads, int headDim, int hidden, int vocab, int imageTokenId, int patch,
      int merge, int temporal, float rescale, float[] mean, float[] std, long minPixels, long maxPixels) {

    /**
     * @param folder the model folder
     * @return its shapes
     * @throws IOException if a config cannot be read
     */
    public static Shapes read(Path folder) throws IOException {
      JsonNode c = JSON.readTree(folder.resolve("config.json").toFile());
      JsonNode t = c.has("text_config") ? c.get("text_config") : c;
      JsonNode v = c.get("vision_config");
      JsonNode p = JSON.readTree(folder.resolve("preprocessor_config.json").toFile());
      int heads = t.get("num_attention_heads").asInt();
      int hidden = t.get("hidden_size").asInt();
      return new Shapes(t.get("num_hidden_layers").asInt(), t.get("num_key_value_heads").asInt(), hidden / heads,
          hidden, t.get("vocab_size").asInt(), c.get("image_token_id").asInt(), p.get("patch_size").asInt(),
          p.get("merge_size").asInt(), p.get("temporal_patch_size").asInt(),
          (float) p.get("rescale_factor").asDouble(), floats(p.get("image_mean")), floats(p.get("image_std")),
          p.get("min_pixels").asLong(), p.get("max_pixels").asLong());
    }

    private static float[] floats(JsonNode a) {
      float[] f = new float[a.size()];
      for (int i = 0; i < f.length; i++) {
        f[i] = (float) a.get(i).asDouble();
      }
      return f;
    }

    /** @return floats per patch row of {@code pixel_values}: 3 × temporal × patch² */
    public int patchWidth() {
      return 3 * temporal * patch * patch;
    }
  }

  /**
   * A preprocessed request: what the graphs need.
   *
   * @param ids prompt token ids, {@code <|image_pad|>} repeated once per merged patch
   * @param pixels {@code pixel_values} [gridH × gridW, patchWidth] in the processor's patch order
   * @param grid {@code (t, h, w)} in patches
   * @param preprocessMs image decoding, patchify, prompt and tokenization
   * @param preprocessCpuMs the process's CPU time during preprocessing
   */
  public record Prepared(int[] ids, float[] pixels, long[] grid, double preprocessMs, double preprocessCpuMs) {
    /**
     * @param merge spatial merge size
     * @return image tokens (merged patches)
     */
    public int imageTokens(int merge) {
      return (int) (grid[0] * grid[1] * grid[2] / ((long) merge * merge));
    }
  }

  /**
   * Timings and ids of one request.
   *
   * @param ids generated ids (the first comes from the prefill)
   * @param preprocessMs see {@link Prepared#preprocessMs()}
   * @param visionMs vision encoder run, features read
   * @param prefillMs embedding, merge, decoder prompt pass, first argmax
   * @param stepMs every later decode step (embedding + decoder + argmax)
   * @param heapBytesPerStep Java heap allocated by the calling thread per decode step after the second
   * @param ttftCpuMs the process's CPU time from the start of preprocessing to the first token
   * @param decodeCpuMsPerStep the process's CPU time per decode step (first to last token)
   */
  public record Run(int[] ids, double preprocessMs, double visionMs, double prefillMs, double[] stepMs,
      double heapBytesPerStep, double ttftCpuMs, double decodeCpuMsPerStep) {
    /** @return time to first token without preprocessing */
    public double ttftMinusPreprocessMs() {
      return visionMs + prefillMs;
    }

    /** @return time to first token from the image file and the question */
    public double ttftMs() {
      return preprocessMs + visionMs + prefillMs;
    }
  }

  private QwenRawOrtLoop(Path folder, Shapes shapes, HuggingFaceTokenizer tokenizer, int threads, boolean spin)
      throws OrtException {
    this.shapes = shapes;
    this.tokenizer = tokenizer;
    try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
      o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      if (threads > 0) {
        o.setIntraOpNumThreads(threads);
      }
      o.addConfigEntry("session.intra_op.allow_spinning", spin ? "1" : "0");
      vision = env.createSession(folder.resolve("onnx/vision_encoder.onnx").toString(), o);
      embed = env.createSession(folder.resolve("onnx/embed_tokens.onnx").toString(), o);
      decoder = env.createSession(folder.resolve("onnx/decoder_model_merged.onnx").toString(), o);
    }
    gridInput = vision.getInputNames().stream().filter(n -> !n.equals("pixel_values")).findFirst().orElseThrow();
    for (int l = 0; l < shapes.layers(); l++) {
      presents.add("present." + l + ".key");
      presents.add("present." + l + ".value");
    }
  }

  /**
   * Opens the three graphs and the tokenizer.
   *
   * @param folder onnx-community Qwen2-VL / Qwen2.5-VL folder
   * @param threads intra-op threads (0 = ORT default)
   * @param spin whether ORT's intra-op threads spin while waiting for work (ORT's default: yes)
   * @return the loop; the caller closes it
   * @throws IOException if a config or the tokenizer cannot be read
   * @throws OrtException if a graph cannot be opened
   */
  public static QwenRawOrtLoop open(Path folder, int threads, boolean spin) throws IOException, OrtException {
    return new QwenRawOrtLoop(folder, Shapes.read(folder), openTokenizer(folder), threads, spin);
  }

  /**
   * The folder's tokenizer with special-token matching (HuggingFace semantics, as transformers.js's
   * processor tokenizes the expanded prompt), nothing added around the sequence, offline.
   *
   * @param folder the model folder
   * @return the tokenizer; the caller closes it
   * @throws IOException if tokenizer.json cannot be read
   */
  static HuggingFaceTokenizer openTokenizer(Path folder) throws IOException {
    System.setProperty("offline", "true");
    return HuggingFaceTokenizer.newInstance(folder.resolve("tokenizer.json"),
        Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false", "modelMaxLength", "1000000000"));
  }

  /** @return the folder's shapes */
  public Shapes shapes() {
    return shapes;
  }

  /**
   * Decodes, checks and patchifies the image and builds and tokenizes the prompt.
   *
   * @param image a PNG/JPEG whose size needs no resize
   * @param question the user's text after the image
   * @return the request's inputs
   * @throws IOException if the image cannot be read
   */
  public Prepared prepare(Path image, String question) throws IOException {
    return prepare(image, question, shapes, tokenizer);
  }

  static Prepared prepare(Path image, String question, Shapes shapes, HuggingFaceTokenizer tokenizer)
      throws IOException {
    long t0 = System.nanoTime();
    long c0 = Heap.processCpuNanos();
    BufferedImage img = ImageIO.read(image.toFile());
    if (img == null) {
      throw new IOException("not an image ImageIO reads: " + image);
    }
    float[] pixels = patchify(img, shapes);
    int unit = shapes.patch() * shapes.merge();
    long[] grid = {1, img.getHeight() / shapes.patch(), img.getWidth() / shapes.patch()};
    int tokens = (img.getHeight() / unit) * (img.getWidth() / unit);
    String prompt = prompt(question, tokens);
    long[] ids64 = tokenizer.encode(prompt, false, false).getIds();
    int[] ids = new int[ids64.length];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = Math.toIntExact(ids64[i]);
    }
    return new Prepared(ids, pixels, grid, (System.nanoTime() - t0) / 1e6, (Heap.processCpuNanos() - c0) / 1e6);
  }

  /**
   * The Qwen2-VL chat format for one user turn (default system turn, one image, then text) with
   * the generation prompt, {@code <|image_pad|>} already expanded as Qwen2VLProcessor does.
   *
   * @param question user text
   * @param imageTokens merged patches of the image
   * @return the prompt text
   */
  static String prompt(String question, int imageTokens) {
    return "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|>"
        + "<|image_pad|>".repeat(imageTokens) + "<|vision_end|>" + question + "<|im_end|>\n<|im_start|>assistant\n";
  }

  /**
   * {@code pixel_values} of one still image without resizing: RGB, rescale, normalise, the frame
   * repeated {@code temporal} times, rows ordered by merge block (row-major blocks, row-major
   * patches inside a block), columns ordered (channel, frame, y, x) inside the patch.
   *
   * @param img the image; its sides must be multiples of patch × merge, its area within the limits
   * @param s the folder's shapes
   * @return [gridH × gridW × patchWidth] floats
   */
  static float[] patchify(BufferedImage img, Shapes s) {
    int w = img.getWidth();
    int h = img.getHeight();
    int unit = s.patch() * s.merge();
    if (w % unit != 0 || h % unit != 0 || (long) w * h < s.minPixels() || (long) w * h > s.maxPixels()) {
      throw new IllegalArgumentException("the raw loop does not resize: " + w + "x" + h + " must have sides that are"
          + " multiples of " + unit + " and an area in [" + s.minPixels() + ", " + s.maxPixels() + "]");
    }
    int[] argb = rgb(img);
    int p = s.patch();
    int m = s.merge();
    int tp = s.temporal();
    int gw = w / p;
    int width = s.patchWidth();
    float[] out = new float[(h / p) * gw * width];
    float[][] plane = new float[3][w * h];
    for (int i = 0; i < argb.length; i++) {
      for (int c = 0; c < 3; c++) {
        int v = (argb[i] >> (16 - 8 * c)) & 0xff;
        plane[c][i] = (v * s.rescale() - s.mean()[c]) / s.std()[c];
      }
    }
    int row = 0;
    for (int bh = 0; bh < h / unit; bh++) {
      for (int bw = 0; bw < w / unit; bw++) {
        for (int i = 0; i < m; i++) {
          for (int j = 0; j < m; j++, row++) {
            int y0 = (bh * m + i) * p;
            int x0 = (bw * m + j) * p;
            int col = row * width;
            for (int c = 0; c < 3; c++) {
              for (int t = 0; t < tp; t++) {
                for (int py = 0; py < p; py++) {
                  System.arraycopy(plane[c], (y0 + py) * w + x0, out, col, p);
                  col += p;
                }
              }
            }
          }
        }
      }
    }
    return out;
  }

  /**
   * Packed RGB of every pixel. Grey images are read from the raster: {@code getRGB} would convert
   * Java's linear grey colour space to sRGB, while Pillow's {@code convert("RGB")} replicates the value.
   */
  private static int[] rgb(BufferedImage img) {
    int w = img.getWidth();
    int h = img.getHeight();
    var cm = img.getColorModel();
    if (!(cm instanceof java.awt.image.ComponentColorModel)
        || cm.getColorSpace().getType() != java.awt.color.ColorSpace.TYPE_GRAY || cm.getComponentSize(0) != 8) {
      return img.getRGB(0, 0, w, h, null, 0, w);
    }
    int[] out = new int[w * h];
    var raster = img.getRaster();
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        out[y * w + x] = raster.getSample(x, y, 0) * 0x010101;
      }
    }
    return out;
  }

  /**
   * M-RoPE position ids of a prompt (HF get_rope_index for images): a text token advances all three
   * ids by one; an image block of llm grid (t, h/merge, w/merge) gets {@code start + (t, row, col)},
   * and the text after it starts at the block's largest id + 1.
   *
   * @param ids prompt ids
   * @param imageTokenId id of {@code <|image_pad|>}
   * @param grids {@code (t, h, w)} in patches, one per image, in prompt order
   * @param merge spatial merge size
   * @return {@code [3][ids.length + 1]}: the positions, then (last column) the first decode position
   */
  static long[][] ropeIndex(int[] ids, int imageTokenId, List<long[]> grids, int merge) {
    long[][] pos = new long[3][ids.length + 1];
    long next = 0;
    int image = 0;
    int i = 0;
    while (i < ids.length) {
      if (ids[i] != imageTokenId) {
        for (int a = 0; a < 3; a++) {
          pos[a][i] = next;
        }
        next++;
        i++;
        continue;
      }
      long[] g = grids.get(image++);
      long gh = g[1] / merge;
      long gw = g[2] / merge;
      for (long t = 0; t < g[0]; t++) {
        for (long r = 0; r < gh; r++) {
          for (long c = 0; c < gw; c++, i++) {
            if (i >= ids.length || ids[i] != imageTokenId) {
              throw new IllegalArgumentException("image block " + image + " is shorter than its grid " + g[0] + "x"
                  + g[1] + "x" + g[2]);
            }
            pos[0][i] = next + t;
            pos[1][i] = next + r;
            pos[2][i] = next + c;
          }
        }
      }
      next += Math.max(g[0], Math.max(gh, gw));
    }
    if (image != grids.size()) {
      throw new IllegalArgumentException(image + " image blocks in the prompt but " + grids.size() + " images");
    }
    for (int a = 0; a < 3; a++) {
      pos[a][ids.length] = next;
    }
    return pos;
  }

  private static FloatBuffer floats(long n) {
    return ByteBuffer.allocateDirect(Math.toIntExact(4 * n)).order(ByteOrder.nativeOrder()).asFloatBuffer();
  }

  private static LongBuffer longs(int n) {
    return ByteBuffer.allocateDirect(8 * n).order(ByteOrder.nativeOrder()).asLongBuffer();
  }

  /**
   * Greedy generation of exactly {@code maxNew} tokens (no EOS).
   *
   * @param p the request
   * @param maxNew tokens to generate
   * @return ids and timings
   * @throws OrtException on failure
   */
  public Run generate(Prepared p, int maxNew) throws OrtException {
    Shapes sh = shapes;
    int hidden = sh.hidden();
    int vocab = sh.vocab();
    long t0 = System.nanoTime();
    long c0 = Heap.processCpuNanos();
    float[] feats;
    int rows = p.pixels().length / sh.patchWidth();
    FloatBuffer px = floats(p.pixels().length);
    px.put(p.pixels()).flip();
    LongBuffer grid = longs(3);
    grid.put(p.grid()).flip();
    try (OnnxTensor pv = OnnxTensor.createTensor(env, px, new long[] {rows, sh.patchWidth()});
        OnnxTensor gt = OnnxTensor.createTensor(env, grid, new long[] {1, 3});
        OrtSession.Result r = vision.run(Map.of("pixel_values", pv, gridInput, gt))) {
      FloatBuffer fb = ((OnnxTensor) r.get(0)).getFloatBuffer();
      feats = new float[fb.remaining()];
      fb.get(feats);
    }
    long tVision = System.nanoTime();

    int[] ids = p.ids();
    int s = ids.length;
    long[][] rope = ropeIndex(ids, sh.imageTokenId(), List.of(p.grid()), sh.merge());
    LongBuffer idBuf = longs(s);
    for (int id : ids) {
      idBuf.put(id);
    }
    idBuf.flip();
    FloatBuffer embeds = floats((long) s * hidden);
    try (OnnxTensor idT = OnnxTensor.createTensor(env, idBuf, new long[] {1, s});
        OrtSession.Result r = embed.run(Map.of("input_ids", idT))) {
      embeds.put(((OnnxTensor) r.get(0)).getFloatBuffer());
    }
    int offset = 0;
    for (int i = 0; i < s; i++) {
      if (ids[i] == sh.imageTokenId()) {
        if (offset + hidden > feats.length) {
          throw new IllegalStateException("more image tokens than feature rows (" + feats.length / hidden + ")");
        }
        embeds.put(i * hidden, feats, offset, hidden);
        offset += hidden;
      }
    }
    if (offset != feats.length) {
      throw new IllegalStateException(offset / hidden + " image tokens but " + feats.length / hidden + " feature rows");
    }
    embeds.rewind();
    LongBuffer ones = longs(s + maxNew);
    for (int i = 0; i < ones.capacity(); i++) {
      ones.put(i, 1);
    }
    LongBuffer pos = longs(3 * s);
    for (int a = 0; a < 3; a++) {
      for (int i = 0; i < s; i++) {
        pos.put(a * s + i, rope[a][i]);
      }
    }
    long nextPos = rope[0][s];
    if (prefillLogits.capacity() < (long) s * vocab) {
      prefillLogits = floats((long) s * vocab);
    }
    FloatBuffer logits = prefillLogits.duplicate().position(0).limit(s * vocab);
    Map<String, OnnxTensor> feeds = new HashMap<>();
    List<OnnxTensor> owned = new ArrayList<>();
    FloatBuffer empty = floats(0);
    for (int l = 0; l < sh.layers(); l++) {
      for (String kv : new String[] {"key", "value"}) {
        OnnxTensor t = OnnxTensor.createTensor(env, empty, new long[] {1, sh.kvHeads(), 0, sh.headDim()});
        owned.add(t);
        feeds.put("past_key_values." + l + "." + kv, t);
      }
    }
    OnnxTensor e = OnnxTensor.createTensor(env, embeds, new long[] {1, s, hidden});
    OnnxTensor am = OnnxTensor.createTensor(env, ones.duplicate().limit(s), new long[] {1, s});
    OnnxTensor pt = OnnxTensor.createTensor(env, pos, new long[] {3, 1, s});
    OnnxTensor pl = OnnxTensor.createTensor(env, logits, new long[] {1, s, vocab});
    owned.addAll(List.of(e, am, pt, pl));
    feeds.put("inputs_embeds", e);
    feeds.put("attention_mask", am);
    feeds.put("position_ids", pt);
    OrtSession.Result kv = decoder.run(feeds, presents, Map.of("logits", pl));
    owned.forEach(OnnxTensor::close);
    int next = argmax(logits, (s - 1) * vocab, vocab);
    long tFirst = System.nanoTime();
    long cFirst = Heap.processCpuNanos();

    List<Integer> out = new ArrayList<>();
    out.add(next);
    FloatBuffer stepLogits = floats(vocab);
    LongBuffer tok = longs(1);
    LongBuffer stepPos = longs(3);
    double[] stepMs = new double[maxNew];
    int steps = 0;
    long heapAtSecondStep = 0;
    for (int step = 1; step < maxNew; step++) {
      long ts = System.nanoTime();
      if (step == 2) {
        heapAtSecondStep = Heap.allocatedBytes();
      }
      int total = s + step;
      tok.put(0, next);
      for (int a = 0; a < 3; a++) {
        stepPos.put(a, nextPos + step - 1);
      }
      try (OnnxTensor idT = OnnxTensor.createTensor(env, tok, new long[] {1, 1});
          OrtSession.Result er = embed.run(Map.of("input_ids", idT));
          OnnxTensor m = OnnxTensor.createTensor(env, ones.duplicate().limit(total), new long[] {1, total});
          OnnxTensor ps = OnnxTensor.createTensor(env, stepPos, new long[] {3, 1, 1});
          OnnxTensor lg = OnnxTensor.createTensor(env, stepLogits, new long[] {1, 1, vocab})) {
        Map<String, OnnxValue> f = new HashMap<>();
        f.put("inputs_embeds", er.get(0));
        f.put("attention_mask", m);
        f.put("position_ids", ps);
        for (int l = 0; l < sh.layers(); l++) {
          f.put("past_key_values." + l + ".key", kv.get("present." + l + ".key").orElseThrow());
          f.put("past_key_values." + l + ".value", kv.get("present." + l + ".value").orElseThrow());
        }
        @SuppressWarnings("unchecked")
        Map<String, OnnxTensor> feedsT = (Map<String, OnnxTensor>) (Map<String, ?>) f;
        OrtSession.Result r = decoder.run(feedsT, presents, Map.of("logits", lg));
        kv.close();
        kv = r;
      }
      next = argmax(stepLogits, 0, vocab);
      out.add(next);
      stepMs[steps++] = (System.nanoTime() - ts) / 1e6;
    }
    double heapPerStep = steps > 1 ? (double) (Heap.allocatedBytes() - heapAtSecondStep) / (steps - 1) : Double.NaN;
    long cLast = Heap.processCpuNanos();
    kv.close();
    return new Run(out.stream().mapToInt(Integer::intValue).toArray(), p.preprocessMs(), (tVision - t0) / 1e6,
        (tFirst - tVision) / 1e6, java.util.Arrays.copyOf(stepMs, steps), heapPerStep,
        p.preprocessCpuMs() + (cFirst - c0) / 1e6, steps > 0 ? (cLast - cFirst) / 1e6 / steps : Double.NaN);
  }

  private static int argmax(FloatBuffer b, int from, int n) {
    int best = 0;
    float v = Float.NEGATIVE_INFINITY;
    for (int i = 0; i < n; i++) {
      float x = b.get(from + i);
      if (x > v) {
        v = x;
        best = i;
      }
    }
    return best;
  }

  /**
   * Self-check on a kit folder with PyTorch goldens (e.g. vlm4j-tiny-qwen2_5-vl): for every golden case
   * with one user turn and one image that needs no resize, the raw loop's prompt ids, M-RoPE position
   * ids and greedy ids must equal the goldens'. Exit code 1 otherwise.
   *
   * <pre>{@code java -cp benchmarks/target/benchmarks.jar io.github.vlm4j.benchmarks.QwenRawOrtLoop FOLDER}</pre>
   *
   * @param args the folder
   * @throws Exception on failure to run
   */
  public static void main(String[] args) throws Exception {
    List<String> lines = checkGoldens(Path.of(args[0]));
    lines.forEach(System.out::println);
    long failed = lines.stream().filter(l -> l.startsWith("FAIL")).count();
    System.out.printf("%d of %d cases agree with the goldens%n", lines.size() - failed, lines.size());
    System.exit(failed == 0 && !lines.isEmpty() ? 0 : 1);
  }

  /**
   * Runs every golden case of {@code folder} with one user turn and one image that needs no resize.
   *
   * @param folder a kit folder with goldens.json
   * @return one line per case, starting with "ok" or "FAIL"
   * @throws Exception if the folder cannot be read or a graph cannot run
   */
  static List<String> checkGoldens(Path folder) throws Exception {
    JsonNode goldens = JSON.readTree(folder.resolve("goldens.json").toFile());
    List<String> out = new ArrayList<>();
    try (QwenRawOrtLoop loop = open(folder, 1, false)) {
      for (JsonNode c : goldens.get("cases")) {
        JsonNode messages = c.get("messages");
        if (c.get("images").size() != 1 || messages.size() != 1 || c.get("needs_resize").get(0).asBoolean()) {
          continue;
        }
        String question = null;
        for (JsonNode part : messages.get(0).get("content")) {
          if (part.path("type").asText().equals("text")) {
            question = part.get("text").asText();
          }
        }
        Prepared p = loop.prepare(folder.resolve(c.get("images").get(0).asText()), question);
        long[][] rope = ropeIndex(p.ids(), loop.shapes.imageTokenId(), List.of(p.grid()), loop.shapes.merge());
        boolean ropeOk = true;
        for (int a = 0; a < 3; a++) {
          ropeOk &= java.util.Arrays.equals(java.util.Arrays.copyOf(rope[a], p.ids().length),
              JSON.treeToValue(c.get("position_ids").get(a), long[].class));
        }
        boolean idsOk = java.util.Arrays.equals(p.ids(), JSON.treeToValue(c.get("prompt_ids"), int[].class));
        int[] want = JSON.treeToValue(c.get("generated_ids"), int[].class);
        int[] got = loop.generate(p, want.length).ids();
        boolean genOk = java.util.Arrays.equals(got, want);
        out.add(String.format("%s %s: prompt ids %s (%d), position ids %s, greedy ids %s",
            idsOk && ropeOk && genOk ? "ok  " : "FAIL", c.get("name").asText(), idsOk ? "equal" : "differ",
            p.ids().length, ropeOk ? "equal" : "differ", genOk ? "equal (" + got.length + ")"
                : "differ: " + java.util.Arrays.toString(got) + " vs " + java.util.Arrays.toString(want)));
      }
    }
    return out;
  }

  @Override
  public void close() throws OrtException {
    vision.close();
    embed.close();
    decoder.close();
    tokenizer.close();
  }
}
