package io.github.vlm4j.examples.cli;

import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.ModelClosedException;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.VlmInputException;

/** Maps exceptions to one stderr line and an exit code (the table of {@link Vlm4jCommand#EXIT_CODES}). */
final class Errors {
  private Errors() {}

  static int report(Exception e, boolean verbose) {
    if (verbose) {
      e.printStackTrace(System.err);
    }
    if (e instanceof ModelLoadException m) {
      System.err.println("vlm4j: cannot load the model (" + m.reason() + "): " + m.getMessage());
      return Vlm4jCommand.EXIT_MODEL;
    }
    if (e instanceof VlmInputException v) {
      if (isUsage(v.reason())) {
        System.err.println("vlm4j: bad usage (" + v.reason() + "): " + v.getMessage());
        return Vlm4jCommand.EXIT_USAGE;
      }
      System.err.println("vlm4j: invalid input (" + v.reason() + "): " + v.getMessage());
      return Vlm4jCommand.EXIT_INPUT;
    }
    if (e instanceof IllegalArgumentException) {
      System.err.println("vlm4j: invalid input: " + e.getMessage());
      return Vlm4jCommand.EXIT_INPUT;
    }
    if (e instanceof InferenceException || e instanceof ModelClosedException) {
      System.err.println("vlm4j: inference failed: " + e.getMessage());
      return Vlm4jCommand.EXIT_RUNTIME;
    }
    System.err.println("vlm4j: unexpected error: " + e);
    return Vlm4jCommand.EXIT_RUNTIME;
  }

  /**
   * @param reason a library input error's reason
   * @return whether it is about an option the user chose on the command line (an option the model
   *     cannot honour, an adapter it does not have) rather than about the data
   */
  static boolean isUsage(VlmInputException.Reason reason) {
    return reason == VlmInputException.Reason.INVALID_OPTION || reason == VlmInputException.Reason.UNKNOWN_ADAPTER;
  }
}
