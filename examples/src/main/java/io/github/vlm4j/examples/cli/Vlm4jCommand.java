package io.github.vlm4j.examples.cli;

import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.onnx.Dtype;
import io.github.vlm4j.core.onnx.SessionSettings;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The {@code vlm4j} command line: {@code java -jar vlm4j.jar <command> ...}. Errors are one line on
 * stderr and a non-zero exit code (stack traces only with {@code --verbose}); the codes are listed
 * in {@link #EXIT_CODES} and at the end of every command's {@code --help}.
 */
@Command(name = "vlm4j", mixinStandardHelpOptions = true, version = "vlm4j 0.1.0",
    description = "Run vision-language models (ONNX) on the JVM.",
    subcommands = {GenerateCommand.class, FewShotCommand.class, FewShotEvalCommand.class, AdaptersCommand.class,
        ServeCommand.class, FlorenceCommand.class,
        CommandLine.HelpCommand.class})
public final class Vlm4jCommand implements Callable<Integer> {
  /** Creates the command; picocli sets its options and parameters from the command line. */
  public Vlm4jCommand() {}

  /** Where the built-in reference model lives inside the jar. */
  static final String BUILTIN = "io/github/vlm4j/builtin/vlm4j-tiny-idefics3/";

  /** Exit code for success. */
  public static final int EXIT_OK = 0;
  /** Exit code for invalid input: an image, the prompt, a demo, the labels. */
  public static final int EXIT_INPUT = 1;
  /** Exit code for bad usage: unknown or missing flags, bad flag values, options the model cannot honour. */
  public static final int EXIT_USAGE = 2;
  /** Exit code for a model that cannot be loaded. */
  public static final int EXIT_MODEL = 3;
  /** Exit code for a failure while running a graph. */
  public static final int EXIT_RUNTIME = 4;

  /**
   * The exit-code table shown at the end of every command's {@code --help} (and in the README's
   * "Command line" section): code → meaning.
   */
  public static final Map<String, String> EXIT_CODES = exitCodes();

  private static Map<String, String> exitCodes() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put(String.valueOf(EXIT_OK), "success");
    m.put(String.valueOf(EXIT_INPUT), "bad input: an image (missing, unreadable, corrupt, too large), the prompt,"
        + " a demo, the labels, a demo pool folder");
    m.put(String.valueOf(EXIT_USAGE), "bad usage: no arguments, unknown or missing flags, bad flag values (--dtype,"
        + " --threads, ...), sampling flags without --temperature, options the model cannot honour"
        + " (--no-image-splitting, --adapter), a serve --port that cannot be bound or an unreadable --api-key-file");
    m.put(String.valueOf(EXIT_MODEL), "the model cannot be loaded (missing or malformed files, a link leaving the"
        + " folder, a --dtype whose files the folder lacks)");
    m.put(String.valueOf(EXIT_RUNTIME), "inference failed while running a graph");
    return Collections.unmodifiableMap(m);
  }

  @Spec
  CommandSpec spec;

  /** Without a command: the usage on stderr and exit code 2. */
  @Override
  public Integer call() {
    spec.commandLine().usage(System.err);
    return EXIT_USAGE;
  }

  /** Options shared by commands that load a model. */
  static final class ModelOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec mixee;

    @Option(names = "--model", paramLabel = "DIR",
        description = "Model folder (onnx-community or vlm4j modular layout). Default: the built-in tiny reference model.")
    Path model;

    @Option(names = "--dtype", paramLabel = "D", defaultValue = "fp32", converter = DtypeConverter.class,
        description = "Weight precision of every graph: fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4"
            + " (default: ${DEFAULT-VALUE}). A dtype whose files the folder lacks cannot be loaded (exit 3).")
    Dtype dtype;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0",
        description = "ONNX Runtime threads per graph, 0 to max(256, 4 x available cores)"
            + " (default: ${DEFAULT-VALUE} = ONNX Runtime's choice).")
    int threads;

    @Option(names = "--verbose", description = "Print stack traces on errors.")
    boolean verbose;

    /** @throws CommandLine.ParameterException naming the flag, for an out-of-range value */
    void validate() {
      if (threads < 0 || threads > SessionSettings.MAX_THREADS) {
        throw Flags.usage(mixee, "--threads must be in [0, " + SessionSettings.MAX_THREADS
            + "] (0 = ONNX Runtime's choice), got " + threads);
      }
    }

    /** @return a description of the model to load, for progress lines */
    String describe() {
      return model != null ? model.toString() : "built-in vlm4j-tiny-idefics3";
    }

    /**
     * @param progress shows the load (a first line at once, then each graph)
     * @return the model
     */
    VisionLanguageModel load(ProgressReporter progress) throws ModelLoadException {
      progress.say("loading " + describe() + " (dtype " + dtype.label() + ")");
      VisionLanguageModel.Builder b = model != null
          ? VisionLanguageModel.builder(model)
          : VisionLanguageModel.builder(ModelFolder.onClasspath(Vlm4jCommand.class.getClassLoader(), BUILTIN));
      return b.dtype(dtype).threads(threads).progress(progress).build();
    }
  }

  /** {@code --dtype} values: the library's dtype names, case-insensitive; an unknown one is a usage error. */
  static final class DtypeConverter implements CommandLine.ITypeConverter<Dtype> {
    @Override
    public Dtype convert(String value) {
      try {
        return Dtype.parse(value);
      } catch (VlmInputException e) {
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }

  /**
   * Runs the command line and exits with its exit code.
   *
   * @param args command-line arguments
   */
  public static void main(String[] args) {
    System.exit(run(args));
  }

  /**
   * Runs the command line without exiting (for tests and embedding). Not thread-safe: it writes to
   * {@code System.out} and {@code System.err}.
   *
   * @param args arguments
   * @return the exit code (see {@link #EXIT_CODES})
   */
  public static int run(String... args) {
    CommandLine cl = new CommandLine(new Vlm4jCommand());
    cl.setCaseInsensitiveEnumValuesAllowed(true);
    withExitCodes(cl);
    cl.setParameterExceptionHandler((ex, a) -> {
      System.err.println("vlm4j: " + ex.getMessage());
      String name = ex.getCommandLine().getCommandName();
      System.err.println("Try 'vlm4j " + (name.equals("vlm4j") ? "" : name + " ") + "--help'.");
      return EXIT_USAGE;
    });
    return cl.execute(args);
  }

  private static void withExitCodes(CommandLine cl) {
    cl.getCommandSpec().usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(EXIT_CODES);
    cl.getSubcommands().values().forEach(Vlm4jCommand::withExitCodes);
  }
}
