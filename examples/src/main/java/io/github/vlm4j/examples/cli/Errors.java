package io.github.vlm4j.examples.cli;

import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.ModelClosedException;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.VlmInputException;

/** Maps exceptions to one stderr line and an exit code. */
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
}
