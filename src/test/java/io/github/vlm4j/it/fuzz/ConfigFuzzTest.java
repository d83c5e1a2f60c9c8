package io.github.vlm4j.it.fuzz;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.GenerationDefaults;
import io.github.vlm4j.core.model.ModelConfig;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.model.TextConfig;
import io.github.vlm4j.core.prompt.ChatTemplate;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.core.text.TextTokenizer;
import io.github.vlm4j.family.ModelFamilies;
import io.github.vlm4j.it.Fixtures;
import io.github.vlm4j.vision.FixedSizePreprocessor;
import io.github.vlm4j.vision.Idefics3Preprocessor;
import io.github.vlm4j.vision.ImagePreprocessor;
import io.github.vlm4j.vision.PreprocessorConfig;
import io.github.vlm4j.vision.RgbImage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * One JSON file of a committed tiny model replaced by the fuzzer's bytes → the parsers the builder
 * runs before any ONNX session exists ({@link ModelConfig}, {@link ModelFamilies#forType}, {@link
 * TextConfig}, {@link GenerationDefaults}, {@link TextTokenizer#load(ModelFolder)}, {@link
 * ChatTemplate#fromTokenizerConfig}, {@link PreprocessorConfig}) and, if they accept it, the
 * request-time uses of those configs (tokenizing and rendering a short prompt, preprocessing a
 * 16x16 image with the family's preprocessor). Property: loading fails only with {@code
 * ModelLoadException}, and what loads serves requests failing only with {@code VlmInputException}.
 *
 * <p>Input format: byte 0 selects the model (modulo 5: idefics3, llava, modular, lfm2-vl, gemma3),
 * byte 1 the file (modulo {@link #FILES}'s length), the rest is the file's new content. (The
 * committed corpus was re-encoded with its model and file bytes written as indices when the two
 * new models and {@code chat_template.jinja} came.)
 */
class ConfigFuzzTest {
  static final List<String> FILES = List.of("config.json", "generation_config.json", "preprocessor_config.json",
      "processor_config.json", "tokenizer_config.json", "tokenizer.json", "chat_template.jinja");
  static final String[] MODELS = {"vlm4j-tiny-idefics3", "vlm4j-tiny-llava", "vlm4j-tiny-modular", "vlm4j-tiny-lfm2-vl",
      "vlm4j-tiny-gemma3"};
  private static final FuzzRun RUN = new FuzzRun("configs", 20);

  /** The committed folders' JSON files, read lazily inside the first input. */
  private static final class Base {
    static final MemoryFolder[] FOLDERS = Arrays.stream(MODELS)
        .map(m -> MemoryFolder.copyOf(Fixtures.model(m), false)).toArray(MemoryFolder[]::new);
    static final RgbImage IMAGE = new RgbImage(16, 16, new byte[16 * 16 * 3]);
    /** The committed tokenizers, reused when an input leaves tokenizer.json unchanged (kept open). */
    static final TextTokenizer[] TOKENIZERS = Arrays.stream(FOLDERS).map(f -> {
      try {
        return TextTokenizer.load(f.folder());
      } catch (Exception e) {
        throw new IllegalStateException("committed tokenizer must load", e);
      }
    }).toArray(TextTokenizer[]::new);
  }

  static Stream<byte[]> seeds() {
    List<byte[]> out = new ArrayList<>();
    for (int m = 0; m < MODELS.length; m++) {
      for (int f = 0; f < FILES.size(); f++) {
        byte[] content = Base.FOLDERS[m].get(FILES.get(f));
        if (content != null) {
          out.add(input(m, f, content));
        }
      }
    }
    return out.stream();
  }

  static byte[] input(int model, int file, byte[] content) {
    byte[] in = new byte[content.length + 2];
    in[0] = (byte) model;
    in[1] = (byte) file;
    System.arraycopy(content, 0, in, 2, content.length);
    return in;
  }

  @MethodSource("seeds")
  @DictionaryEntries({"1e300", "-1", "0", "4294967296", "9223372036854775808", "1e-300", "NaN", "null", "[]", "{}",
      "\"\"", "true", "\"model_type\"", "\"text_config\"", "\"vocab_size\"", "\"hidden_size\"", "\"num_hidden_layers\"",
      "\"num_attention_heads\"", "\"num_key_value_heads\"", "\"head_dim\"", "\"max_position_embeddings\"",
      "\"eos_token_id\"", "\"bos_token_id\"", "\"temperature\"", "\"top_k\"", "\"top_p\"", "\"max_new_tokens\"",
      "\"repetition_penalty\"", "\"size\"", "\"longest_edge\"", "\"shortest_edge\"", "\"max_image_size\"",
      "\"image_mean\"", "\"image_std\"", "\"rescale_factor\"", "\"resample\"", "\"crop_size\"", "\"do_center_crop\"",
      "\"image_seq_len\"", "\"chat_template\"", "\"layer_types\"", "\"conv\"", "\"conv_L_cache\"",
      "\"tile_size\"", "\"max_tiles\"", "\"min_image_tokens\"", "\"do_pan_and_scan\"", "\"pan_and_scan_min_crop_size\"", "\"added_tokens\"", "\"id\"", "\"content\"", "\"vocab\"", "\"merges\"",
      "\"model\"", "\"type\"", "\"BPE\"", "\"Unigram\"", "\"WordPiece\"", "{{", "{%", "%}", "}}"})
  @FuzzTest(maxDuration = "60s")
  void parseFolder(byte[] bytes) {
    Base.TOKENIZERS.getClass(); // one-time setup outside the per-input watchdog
    RUN.run(() -> {
      if (bytes.length < 2) {
        return;
      }
      int m = Math.floorMod(bytes[0], MODELS.length);
      String file = FILES.get(Math.floorMod(bytes[1], FILES.size()));
      byte[] content = Arrays.copyOfRange(bytes, 2, bytes.length);
      ModelFolder folder = Base.FOLDERS[m].with(file, content).folder();
      boolean sameTokenizer = Arrays.equals(content, Base.FOLDERS[m].get(TextTokenizer.FILE));
      loadAndUse(folder, file.equals(TextTokenizer.FILE) && !sameTokenizer ? null : Base.TOKENIZERS[m]);
    });
  }

  /**
   * The builder's steps before graphs, then the request-time uses of what they produced.
   *
   * @param unchangedTokenizer the committed tokenizer if tokenizer.json is unchanged (loading it
   *     again would only repeat a parse of known-good bytes), else null
   */
  static void loadAndUse(ModelFolder folder, TextTokenizer unchangedTokenizer) throws Exception {
    ModelConfig config = ModelConfig.read(folder);
    String type = config.modelType();
    ModelFamilies.forType(type, folder.describe(ModelConfig.FILE));
    TextConfig text = config.textConfig();
    GenerationDefaults.read(folder, config);
    PreprocessorConfig pre = PreprocessorConfig.read(folder);
    ChatTemplate template = type.equals("gemma3") ? ChatTemplate.fromFolder(folder)
        : ChatTemplate.fromTokenizerConfig(folder);
    TextTokenizer loaded = unchangedTokenizer == null ? TextTokenizer.load(folder) : null;
    TextTokenizer tokenizer = loaded != null ? loaded : unchangedTokenizer;
    try {
      if (tokenizer.vocabSize() > text.vocabSize()) {
        return; // the builder refuses this with GRAPH_MISMATCH
      }
      ImagePreprocessor p;
      try {
        p = switch (type) {
          case "idefics3" -> new Idefics3Preprocessor(pre);
          case "lfm2_vl" -> io.github.vlm4j.vision.Lfm2VlPreprocessor.read(folder);
          case "gemma3" -> io.github.vlm4j.vision.PanAndScanPreprocessor.read(folder);
          default -> new FixedSizePreprocessor(pre);
        };
      } catch (IllegalArgumentException e) {
        // The families refuse these configs before constructing the preprocessor (Idefics3Family:
        // max_image_size check) or wrap the constructor's refusal (LlavaFamily, ModularFamily).
        throw new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG, e.getMessage(), e);
      }
      String prompt = template.renderText(List.of(Message.user("Describe <image> {{ 1 }}")), true);
      tokenizer.encode(prompt);
      p.preprocess(Base.IMAGE, p.splitsImages() ? Boolean.TRUE : null);
    } finally {
      if (loaded != null) {
        loaded.close();
      }
    }
  }

  @AfterAll
  static void summary() {
    RUN.writeSummary();
    System.out.println(RUN.line());
  }
}
