package io.github.vlm4j.examples.cli;

import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.VlmInputException;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/** Usage errors that name the flag: they print like picocli's own and exit with code 2. */
final class Flags {
  private Flags() {}

  /**
   * @param spec the command whose flag is wrong
   * @param message what was expected and what was found, naming the flag
   * @return the exception to throw from the command (before any work starts)
   */
  static CommandLine.ParameterException usage(CommandSpec spec, String message) {
    return new CommandLine.ParameterException(spec.commandLine(), message);
  }

  /**
   * Refuses {@code --no-image-splitting} on a model that never splits images, naming the flag (the
   * library would refuse the request too, naming its option).
   *
   * @param model the loaded model
   * @param noImageSplitting whether the flag was given
   * @throws VlmInputException INVALID_OPTION (exit code 2)
   */
  static void checkImageSplitting(VisionLanguageModel model, boolean noImageSplitting) {
    if (noImageSplitting && !model.supportsImageSplitting()) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "--no-image-splitting: this "
          + model.modelType() + " model never splits images (it encodes every image as one frame); leave the flag out");
    }
  }

  /** @param v a range bound such as 1e-6 @return it without exponent or trailing zeros ("0.000001") */
  static String num(double v) {
    return java.math.BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
  }

  /**
   * @param spec the command
   * @param flag the flag, e.g. {@code --top-p}
   * @param ok whether the value is acceptable
   * @param expected the accepted range, e.g. {@code "in (0, 1] (1 = off)"}
   * @param value the value given
   */
  static void check(CommandSpec spec, String flag, boolean ok, String expected, Object value) {
    if (!ok) {
      throw usage(spec, flag + " must be " + expected + ", got " + value);
    }
  }
}
