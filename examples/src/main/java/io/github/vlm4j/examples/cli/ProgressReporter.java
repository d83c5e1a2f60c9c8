package io.github.vlm4j.examples.cli;

import io.github.vlm4j.Progress;
import io.github.vlm4j.ProgressListener;
import java.io.Console;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.LongSupplier;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Shows the library's {@link Progress} events on stderr: a progress bar (me.tongfei:progressbar) when
 * stderr is a terminal, otherwise plain lines without {@code \r} — the first event of each task at
 * once, then at most one line every {@link #PLAIN_INTERVAL_MS} ms, and always the task's last
 * event. Every plain line starts with the seconds since the command started.
 *
 * <p>One per command run, used by the command's thread only (not thread-safe). {@link #close()}
 * ends a bar still drawing.
 */
final class ProgressReporter implements ProgressListener, AutoCloseable {
  /** Shortest time between two plain lines of one task, in milliseconds. */
  static final long PLAIN_INTERVAL_MS = 2000;

  /** How progress is shown. */
  enum Mode {
    /** A progress bar redrawn in place. */
    BAR,
    /** Plain lines, throttled. */
    LINES,
    /** Nothing. */
    OFF
  }

  private final Mode mode;
  private final PrintStream err;
  private final LongSupplier clockMs;
  private final long startMs;
  private Progress.Task task;
  private long lastLineMs;
  private ProgressBar bar;

  ProgressReporter(Mode mode, PrintStream err, LongSupplier clockMs) {
    this.mode = mode;
    this.err = err;
    this.clockMs = clockMs;
    this.startMs = clockMs.getAsLong();
  }

  /**
   * @param onlyOnTerminal show nothing unless stderr is a terminal (commands whose stderr should stay
   *     empty in scripts)
   * @return a reporter on the current {@code System.err}
   */
  static ProgressReporter forStderr(boolean onlyOnTerminal) {
    boolean terminal = stderrIsTerminal();
    Mode mode = terminal ? Mode.BAR : onlyOnTerminal ? Mode.OFF : Mode.LINES;
    return new ProgressReporter(mode, System.err, System::currentTimeMillis);
  }

  /** @return the mode chosen */
  Mode mode() {
    return mode;
  }

  /**
   * Whether stderr is an interactive terminal. On Linux {@code /proc/self/fd/2} tells it exactly; elsewhere
   * the JDK's console is asked: on JDK 22+ {@code System.console()} is non-null even when the streams
   * are redirected, so {@code Console.isTerminal()} (called reflectively: it does not exist before 22)
   * decides; before 22 a console exists only when the streams are a terminal. {@code TERM=dumb} means
   * no terminal.
   *
   * @return true to draw a bar
   */
  static boolean stderrIsTerminal() {
    if ("dumb".equals(System.getenv("TERM"))) {
      return false;
    }
    Console console = System.console();
    if (console == null) {
      return false;
    }
    boolean terminal = true;
    try {
      Method isTerminal = Console.class.getMethod("isTerminal");
      terminal = (Boolean) isTerminal.invoke(console);
    } catch (NoSuchMethodException e) {
      // JDK < 22: a non-null console already means a terminal.
    } catch (ReflectiveOperationException | RuntimeException e) {
      terminal = false;
    }
    Path fd2 = Path.of("/proc/self/fd/2");
    if (terminal && Files.isSymbolicLink(fd2)) {
      try {
        String target = Files.readSymbolicLink(fd2).toString();
        terminal = target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
      } catch (java.io.IOException | RuntimeException e) {
        terminal = false;
      }
    }
    return terminal;
  }

  /**
   * Prints one line now (plain mode) or above the bar (bar mode), e.g. "loading model ...".
   *
   * @param message the line
   */
  void say(String message) {
    if (mode == Mode.OFF) {
      return;
    }
    endBar();
    err.println(mode == Mode.LINES ? stamp() + message : message);
    err.flush();
  }

  @Override
  public void onProgress(Progress p) {
    if (mode == Mode.OFF) {
      return;
    }
    boolean first = p.task() != task;
    if (first) {
      endBar();
      task = p.task();
    }
    if (mode == Mode.BAR) {
      drawBar(p, first);
      return;
    }
    long now = clockMs.getAsLong();
    if (first || p.finished() || now - lastLineMs >= PLAIN_INTERVAL_MS) {
      lastLineMs = now;
      err.println(stamp() + line(p));
      err.flush();
    }
    if (p.finished()) {
      task = null;
    }
  }

  private void drawBar(Progress p, boolean first) {
    if (first) {
      bar = new ProgressBarBuilder().setTaskName(name(p.task())).setInitialMax(p.total() > 0 ? p.total() : -1)
          .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(200).hideEta()
          .setConsumer(new ConsoleProgressBarConsumer(err)).build();
    }
    if (p.total() > 0 && bar.getMax() != p.total()) {
      bar.maxHint(p.total());
    }
    bar.stepTo(p.done());
    bar.setExtraMessage(p.item());
    if (p.finished()) {
      endBar();
      task = null;
    }
  }

  private void endBar() {
    if (bar != null) {
      bar.close();
      bar = null;
    }
  }

  /**
   * @param p an event
   * @return its plain line, e.g. "encoding demo pool: 3/10 ok/a.png", "loading model:
   *     onnx/vision_encoder.onnx (step 2)" while the total is unknown, "evaluating queries: 31/31 done"
   */
  static String line(Progress p) {
    String head = name(p.task()) + ": ";
    String item = p.item();
    if (p.finished()) {
      return head + p.done() + "/" + p.total() + " done" + (item.isEmpty() ? "" : ", " + item);
    }
    if (p.total() > 0) {
      return head + p.done() + "/" + p.total() + (item.isEmpty() ? "" : " " + item);
    }
    return head + (item.isEmpty() ? "" : item + " ") + "(step " + (p.done() + 1) + ")";
  }

  /** @param t a task @return how it is called on screen */
  static String name(Progress.Task t) {
    return switch (t) {
      case LOAD_MODEL -> "loading model";
      case ENCODE_POOL -> "encoding demo pool";
      case EVALUATE -> "evaluating queries";
    };
  }

  private String stamp() {
    return String.format(Locale.ROOT, "[%6.1f s] ", (clockMs.getAsLong() - startMs) / 1000.0);
  }

  @Override
  public void close() {
    endBar();
  }
}
