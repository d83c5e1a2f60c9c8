package io.github.vlm4j.examples.cli;

import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.projector.AdapterInfo;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code vlm4j adapters}: lists a model's cross-modal adapters with their sizes. */
@Command(name = "adapters", mixinStandardHelpOptions = true,
    description = "List the cross-modal adapters of a model (name, parameters, weight size, description).")
public final class AdaptersCommand implements Callable<Integer> {
  /** Creates the command; picocli sets its options and parameters from the command line. */
  public AdaptersCommand() {}

  @Mixin
  Vlm4jCommand.ModelOptions model = new Vlm4jCommand.ModelOptions();

  @Override
  public Integer call() {
    model.validate();
    try (ProgressReporter progress = ProgressReporter.forStderr(true); VisionLanguageModel m = model.load(progress)) {
      if (m.adapters().isEmpty()) {
        System.out.println("no adapters (" + m.modelType() + " model; its projector is fused into the vision encoder)");
        return 0;
      }
      System.out.printf(Locale.ROOT, "%-16s %12s %10s  %-6s %s%n", "adapter", "parameters", "weights", "gated", "description");
      for (AdapterInfo a : m.adapters()) {
        System.out.printf(Locale.ROOT, "%-16s %12d %10s  %-6s %s%n", a.name(), a.parameters(), size(a.weightBytes()),
            a.usesQuery() ? "yes" : "no", a.description());
      }
      System.out.printf(Locale.ROOT, "shared backbone (vision encoder, projector, embeddings, decoder): %s, loaded once%n",
          size(m.backboneWeightBytes()));
      return 0;
    } catch (Exception e) {
      return Errors.report(e, model.verbose);
    }
  }

  static String size(long bytes) {
    if (bytes < 0) {
      return "?";
    }
    return bytes >= 1 << 20 ? String.format(Locale.ROOT, "%.1f MB", bytes / 1048576.0)
        : String.format(Locale.ROOT, "%.1f KB", bytes / 1024.0);
  }
}
