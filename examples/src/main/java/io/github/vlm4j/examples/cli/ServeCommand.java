package io.github.vlm4j.examples.cli;

import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.server.ServerOptions;
import io.github.vlm4j.server.VlmServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code vlm4j serve}: an OpenAI-compatible HTTP server over one model until the process is stopped
 * (SIGINT/SIGTERM drain running requests first). See the README's "OpenAI-compatible server".
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = {"Serve a model over HTTP with an OpenAI-compatible API (POST /v1/chat/completions, GET /v1/models,"
        + " /health, /health/ready, /metrics, POST /v1/vlm4j/classify) until stopped (Ctrl-C or SIGTERM drain"
        + " running requests first).", "Binds 127.0.0.1 unless --host says otherwise."})
public final class ServeCommand implements Callable<Integer> {
  /** Creates the command; picocli sets its options and parameters from the command line. */
  public ServeCommand() {}

  @Spec
  CommandSpec spec;

  @Mixin
  Vlm4jCommand.ModelOptions model = new Vlm4jCommand.ModelOptions();

  @Option(names = "--host", paramLabel = "ADDR", defaultValue = ServerOptions.DEFAULT_HOST,
      description = "Address to bind (default: ${DEFAULT-VALUE}, loopback only; 0.0.0.0 = every interface).")
  String host;

  @Option(names = "--port", paramLabel = "N", defaultValue = "8080",
      description = "TCP port, 0 to 65535; 0 picks a free one (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(names = "--model-id", paramLabel = "ID",
      description = "The model id clients send as \"model\" and GET /v1/models lists (default: the model folder's"
          + " name).")
  String modelId;

  @Option(names = "--api-key-file", paramLabel = "FILE",
      description = "Require Authorization: Bearer <key> on /v1 and /metrics; the key is the file's first line"
          + " (never logged). Default: no key.")
  Path apiKeyFile;

  @Option(names = "--max-concurrent", paramLabel = "N", defaultValue = "4",
      description = "Requests running on the model at once, 1 to 1024 (default: ${DEFAULT-VALUE}).")
  int maxConcurrent;

  @Option(names = "--max-queue", paramLabel = "N", defaultValue = "64",
      description = "Requests waiting for a slot, 0 to 4096; more get 429 with Retry-After (default: ${DEFAULT-VALUE}).")
  int maxQueue;

  @Option(names = "--request-timeout", paramLabel = "D", defaultValue = "120s", converter = DurationConverter.class,
      description = "Longest wait plus run time of a request, e.g. 30s, 500ms, 2m (default: ${DEFAULT-VALUE}); then"
          + " its generation is cancelled (504).")
  Duration requestTimeout;

  @Option(names = "--drain-timeout", paramLabel = "D", defaultValue = "30s", converter = DurationConverter.class,
      description = "On shutdown, how long running requests may finish before they are cancelled"
          + " (default: ${DEFAULT-VALUE}).")
  Duration drainTimeout;

  @Option(names = "--max-body-bytes", paramLabel = "N", defaultValue = "33554432",
      description = "Largest request body, 1024 to 2^30 bytes (default: ${DEFAULT-VALUE}); larger ones get 413.")
  long maxBodyBytes;

  @Option(names = "--max-images", paramLabel = "N", defaultValue = "8",
      description = "Most images per request, 0 to 1024 (default: ${DEFAULT-VALUE}).")
  int maxImages;

  @Option(names = "--max-image-bytes", paramLabel = "N", defaultValue = "16777216",
      description = "Largest encoded image, 1 to 268435456 bytes, checked on the base64 length before decoding"
          + " (default: ${DEFAULT-VALUE}).")
  long maxImageBytes;

  @Option(names = "--max-image-pixels", paramLabel = "N",
      description = "Largest image in pixels, 1 to 2^30, read from the header before decoding (default: the"
          + " library's 89478485).")
  Long maxImagePixels;

  @Option(names = "--max-batch-size", paramLabel = "N",
      description = "Most concurrent requests sharing one decoder step (continuous batching), 1 to 1024; 1 = every"
          + " request steps alone (default: the library's 8).")
  Integer maxBatchSize;

  @Option(names = "--max-batch-tokens", paramLabel = "N",
      description = "Bound of the shared batch's KV cache in padded positions (rows x the longest row), at least the"
          + " model's context window; a request that would exceed it waits until others leave (default: the"
          + " library's larger of 16384 and the context window).")
  Long maxBatchTokens;

  @Option(names = "--default-max-tokens", paramLabel = "N", defaultValue = "256",
      description = "New-token limit of requests that set neither max_tokens nor max_completion_tokens"
          + " (default: ${DEFAULT-VALUE}).")
  int defaultMaxTokens;

  @Option(names = "--allow-image-host", paramLabel = "HOST",
      description = "Fetch http(s) image URLs from this host (repeatable; exact name). Default: none, every remote"
          + " URL is refused.")
  List<String> allowImageHosts = new ArrayList<>();

  @Option(names = "--image-fetch-timeout", paramLabel = "D", defaultValue = "10s", converter = DurationConverter.class,
      description = "Timeout of one remote image fetch, body included (default: ${DEFAULT-VALUE}).")
  Duration imageFetchTimeout;

  @Option(names = "--cors-origin", paramLabel = "ORIGIN",
      description = "Let web pages of this origin call the server (CORS; repeatable; scheme://host[:port], or * for"
          + " any). Default: none, browsers refuse cross-origin calls. The API key is still required.")
  List<String> corsOrigins = new ArrayList<>();

  @Option(names = "--no-response-format",
      description = "Refuse response_format json_object / json_schema (400). Compiling a constraint is bounded"
          + " (200,000 automaton states, 5 s, 2 at once, about 250 MB heap at worst), but a server open to"
          + " untrusted clients may still want them off.")
  boolean noResponseFormat;

  @Override
  public Integer call() {
    model.validate();
    ServerOptions options = options();
    try (ProgressReporter progress = ProgressReporter.forStderr(true)) {
      VisionLanguageModel m;
      try {
        m = load(progress);
      } catch (Exception e) {
        return Errors.report(e, model.verbose);
      }
      VlmServer server;
      try {
        server = VlmServer.start(m, options, true);
      } catch (IllegalStateException e) {
        m.close();
        System.err.println("vlm4j: bad usage: " + e.getMessage());
        return Vlm4jCommand.EXIT_USAGE;
      }
      if (!isLoopback(host) && options.apiKey().isEmpty()) {
        System.err.println("vlm4j serve: warning: listening on " + host + " without --api-key-file: anyone who can"
            + " reach this address can use the model");
      }
      Thread hook = new Thread(server::close, "vlm4j-serve-shutdown");
      Runtime.getRuntime().addShutdownHook(hook);
      try {
        server.awaitShutdown();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        server.close();
      }
      return Vlm4jCommand.EXIT_OK;
    }
  }

  private VisionLanguageModel load(ProgressReporter progress) throws Exception {
    if (maxImagePixels == null && maxBatchSize == null && maxBatchTokens == null) {
      return model.load(progress);
    }
    progress.say("loading " + model.describe() + " (dtype " + model.dtype.label() + ")");
    VisionLanguageModel.Builder b = model.model != null ? VisionLanguageModel.builder(model.model)
        : VisionLanguageModel.builder(ModelFolder.onClasspath(Vlm4jCommand.class.getClassLoader(), Vlm4jCommand.BUILTIN));
    b.dtype(model.dtype).threads(model.threads).progress(progress);
    if (maxImagePixels != null) {
      b.maxImagePixels(maxImagePixels);
    }
    if (maxBatchSize != null) {
      b.maxBatchSize(maxBatchSize);
    }
    if (maxBatchTokens != null) {
      b.maxBatchTokens(maxBatchTokens);
    }
    return b.build();
  }

  /** @return the validated server options; a flag out of range is a usage error (exit 2) naming it */
  private ServerOptions options() {
    String key = apiKeyFile == null ? null : readKey();
    String id = modelId != null ? modelId
        : model.model != null && model.model.toAbsolutePath().normalize().getFileName() != null
            ? model.model.toAbsolutePath().normalize().getFileName().toString() : "vlm4j-tiny-idefics3";
    if (maxBatchSize != null) {
      Flags.check(spec, "--max-batch-size", maxBatchSize >= 1 && maxBatchSize <= 1024, "in [1, 1024]", maxBatchSize);
    }
    if (maxBatchTokens != null) {
      Flags.check(spec, "--max-batch-tokens", maxBatchTokens >= 1, "positive", maxBatchTokens);
    }
    if (maxImagePixels != null) {
      Flags.check(spec, "--max-image-pixels", maxImagePixels >= 1 && maxImagePixels <= VisionLanguageModel.MAX_IMAGE_PIXELS,
          "in [1, " + VisionLanguageModel.MAX_IMAGE_PIXELS + "]", maxImagePixels);
    }
    try {
      return ServerOptions.builder().host(host).port(port).modelId(id).apiKey(key).maxConcurrent(maxConcurrent)
          .maxQueue(maxQueue).requestTimeout(requestTimeout).drainTimeout(drainTimeout).maxBodyBytes(maxBodyBytes)
          .maxImages(maxImages).maxImageBytes(maxImageBytes).defaultMaxTokens(defaultMaxTokens)
          .allowedImageHosts(new LinkedHashSet<>(allowImageHosts)).imageFetchTimeout(imageFetchTimeout)
          .responseFormats(!noResponseFormat).corsOrigins(new LinkedHashSet<>(corsOrigins)).build();
    } catch (IllegalArgumentException e) {
      throw Flags.usage(spec, "--" + flag(e.getMessage()));
    }
  }

  /** @return the option message with its camelCase option name turned into the flag's name */
  static String flag(String message) {
    int space = message.indexOf(' ');
    String option = space < 0 ? message : message.substring(0, space);
    String rest = space < 0 ? "" : message.substring(space);
    String f = switch (option) {
      case "allowedImageHosts" -> "allow-image-host";
      case "corsOrigins" -> "cors-origin";
      case "defaultMaxTokens" -> "default-max-tokens";
      case "modelId" -> "model-id";
      case "apiKey" -> "api-key-file: the key";
      default -> option.replaceAll("([a-z])([A-Z])", "$1-$2").toLowerCase(Locale.ROOT);
    };
    return f + rest;
  }

  private String readKey() {
    try {
      String text = Files.readString(apiKeyFile, StandardCharsets.UTF_8);
      String first = text.lines().findFirst().orElse("").trim();
      if (first.isEmpty()) {
        throw Flags.usage(spec, "--api-key-file " + apiKeyFile + ": expected the key on its first line, found an"
            + " empty line");
      }
      return first;
    } catch (IOException | java.io.UncheckedIOException e) {
      throw Flags.usage(spec, "--api-key-file " + apiKeyFile + ": cannot read it (" + e.getClass().getSimpleName()
          + ")");
    }
  }

  private static boolean isLoopback(String host) {
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }

  /** Durations as {@code 500ms}, {@code 30s}, {@code 2m}, {@code 1h} or ISO-8601 ({@code PT30S}); positive. */
  static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    private static final Pattern SIMPLE = Pattern.compile("(\\d{1,9})(ms|s|m|h)");

    @Override
    public Duration convert(String value) {
      Matcher m = SIMPLE.matcher(value.trim().toLowerCase(Locale.ROOT));
      Duration d;
      if (m.matches()) {
        long n = Long.parseLong(m.group(1));
        d = switch (m.group(2)) {
          case "ms" -> Duration.ofMillis(n);
          case "s" -> Duration.ofSeconds(n);
          case "m" -> Duration.ofMinutes(n);
          default -> Duration.ofHours(n);
        };
      } else {
        try {
          d = Duration.parse(value.trim());
        } catch (DateTimeParseException e) {
          throw new CommandLine.TypeConversionException("expected a duration such as 500ms, 30s, 2m, 1h or PT30S,"
              + " found '" + value + "'");
        }
      }
      if (d.isNegative() || d.isZero()) {
        throw new CommandLine.TypeConversionException("expected a positive duration, found '" + value + "'");
      }
      return d;
    }
  }
}
