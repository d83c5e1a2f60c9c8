package io.github.vlm4j.examples.cli;

import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ModelFolder;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The {@code vlm4j} command line: {@code java -jar vlm4j.jar <command> ...}. Errors are one line on
 * stderr and a non-zero exit code (stack traces only with {@code --verbose}).
 */
@Command(name = "vlm4j", mixinStandardHelpOptions = true, version = "vlm4j 0.1.0",
    description = "Run vision-language models (ONNX) on the JVM.",
    subcommands = {GenerateCommand.class, FewShotCommand.class, FewShotEvalCommand.class, AdaptersCommand.class,
        CommandLine.HelpCommand.class})
public final class Vlm4jCommand implements Callable<Integer> {
  /** Where the built-in reference model lives inside the jar. */
  static final String BUILTIN = "io/github/vlm4j/builtin/vlm4j-tiny-idefics3/";

  /** Exit code for invalid input (image, prompt, option). */
  static final int EXIT_INPUT = 1;
  /** Exit code for a model that cannot be loaded. */
  static final int EXIT_MODEL = 3;
  /** Exit code for a failure while running a graph. */
  static final int EXIT_RUNTIME = 4;

  @Override
  public Integer call() {
    new CommandLine(this).usage(System.out);
    return 0;
  }

  /** Options shared by commands that load a model. */
  static final class ModelOptions {
    @Option(names = "--model", paramLabel = "DIR",
        description = "Model folder (onnx-community or vlm4j modular layout). Default: the built-in tiny reference model.")
    Path model;

    @Option(names = "--dtype", paramLabel = "D", defaultValue = "fp32",
        description = "Weight precision of every graph: fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0",
        description = "ONNX Runtime threads per graph (0 = ONNX Runtime's choice).")
    int threads;

    @Option(names = "--verbose", description = "Print stack traces on errors.")
    boolean verbose;

    VisionLanguageModel load() throws ModelLoadException {
      VisionLanguageModel.Builder b = model != null
          ? VisionLanguageModel.builder(model)
          : VisionLanguageModel.builder(ModelFolder.onClasspath(Vlm4jCommand.class.getClassLoader(), BUILTIN));
      return b.dtype(dtype).threads(threads).build();
    }
  }

  /**
   * @param args command-line arguments
   */
  public static void main(String[] args) {
    System.exit(run(args));
  }

  /**
   * Runs the command line without exiting (for tests and embedding).
   *
   * @param args arguments
   * @return the exit code
   */
  public static int run(String... args) {
    CommandLine cl = new CommandLine(new Vlm4jCommand());
    cl.setParameterExceptionHandler((ex, a) -> {
      System.err.println("vlm4j: " + ex.getMessage());
      System.err.println("Try 'vlm4j " + (ex.getCommandLine().getCommandName().equals("vlm4j") ? "" : ex.getCommandLine().getCommandName() + " ") + "--help'.");
      return 2;
    });
    return cl.execute(args);
  }
}
