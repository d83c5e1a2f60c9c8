package io.github.vlm4j.examples;

import io.github.vlm4j.RequestOptions;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.prompt.ImageInput;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.GenerationResult;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import io.github.vlm4j.projector.AdapterInfo;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * One modular model, two tasks: counting shapes and inspecting parts, each answered with its own
 * gated cross-modal adapter on the same frozen vision encoder and decoder, then with the default
 * projector (rollback), and with an adapter registered at run time.
 *
 * <pre>{@code
 * java -cp examples/target/vlm4j.jar io.github.vlm4j.examples.AdapterSwapExample \
 *     src/test/resources/models/vlm4j-tiny-modular
 * }</pre>
 */
public final class AdapterSwapExample {
  private AdapterSwapExample() {}

  /**
   * Runs the example.
   *
   * @param args the modular model folder (default: the kit's vlm4j-tiny-modular)
   * @throws Exception on failure
   */
  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args.length > 0 ? args[0] : "src/test/resources/models/vlm4j-tiny-modular");
    try (VisionLanguageModel model = VisionLanguageModel.load(dir)) {
      System.out.println("adapters on one shared backbone (" + model.backboneWeightBytes() / 1024 + " KB of weights):");
      for (AdapterInfo a : model.adapters()) {
        System.out.printf(Locale.ROOT, "  %-10s %,8d parameters  %s%n", a.name(), a.parameters(), a.description());
      }
      var counting = List.of(Message.user(ImageInput.of(dir.resolve("goldens/adapter_counting_0.png")),
          "How many shapes are there?"));
      var inspection = List.of(Message.user(ImageInput.of(dir.resolve("goldens/adapter_inspection_0.png")),
          "Is this part ok or defective?"));
      ask(model, "counting   + counting adapter  ", counting, RequestOptions.DEFAULT.withAdapter("counting"));
      ask(model, "inspection + inspection adapter", inspection, RequestOptions.DEFAULT.withAdapter("inspection"));
      ask(model, "counting   + default projector ", counting, RequestOptions.DEFAULT);
      ask(model, "inspection + default projector ", inspection, RequestOptions.DEFAULT);

      AdapterInfo added = model.registerAdapter("inspection-v2", dir.resolve("onnx/adapters/inspection.onnx"),
          "registered while the model is live");
      System.out.println("registered " + added.name() + " without reloading the backbone");
      ask(model, "inspection + inspection-v2     ", inspection, RequestOptions.DEFAULT.withAdapter("inspection-v2"));
      model.unregisterAdapter("inspection-v2");
      System.out.println("unregistered inspection-v2; adapters now " + model.adapterNames());
    }
  }

  private static void ask(VisionLanguageModel model, String label, List<Message> chat, RequestOptions options) {
    GenerationResult r = model.generate(chat, GenerationConfig.greedy(16), options, TokenStreamer.none());
    System.out.printf(Locale.ROOT, "%s -> %-12s (%.1f ms)%n", label, r.text().strip(), r.usage().timings().totalMs());
  }
}
