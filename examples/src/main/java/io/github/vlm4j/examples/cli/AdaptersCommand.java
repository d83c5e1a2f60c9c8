package io.github.vlm4j.examples.cli;

import io.github.vlm4j.VisionLanguageModel;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code vlm4j adapters}: lists a model's cross-modal adapters. */
@Command(name = "adapters", mixinStandardHelpOptions = true, description = "List the cross-modal adapters of a model.")
public final class AdaptersCommand implements Callable<Integer> {
  @Mixin
  Vlm4jCommand.ModelOptions model = new Vlm4jCommand.ModelOptions();

  @Override
  public Integer call() {
    try (VisionLanguageModel m = model.load()) {
      if (m.adapterNames().isEmpty()) {
        System.out.println("(no adapters: " + m.modelType() + " model)");
      }
      m.adapterNames().forEach(System.out::println);
      return 0;
    } catch (Exception e) {
      return Errors.report(e, model.verbose);
    }
  }
}
