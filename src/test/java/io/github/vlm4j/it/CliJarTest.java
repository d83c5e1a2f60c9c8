package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shaded {@code examples/target/vlm4j.jar} as a user runs it, in child JVMs (JDK 17 and, where
 * installed, Temurin 25): no SLF4J, native-access or GPU-probe warnings, the README's first command
 * answers right, and progress written to a file is plain periodic lines.
 */
class CliJarTest {
  /** A JDK 22+ that this machine has; on 22+ {@code System.console()} is non-null even when redirected. */
  static final Path JDK25 = Path.of("/usr/lib/jvm/temurin-25-jdk-amd64/bin/java");

  record Child(int exit, String out, String err) {}

  /** @return the shaded jar the reactor built before this module's tests (package phase of examples) */
  static Path jar() {
    Path jar = Readme.root().resolve("examples/target/vlm4j.jar");
    assertTrue(Files.isRegularFile(jar), jar + " is missing: build it with mvn -pl examples -am package");
    return jar;
  }

  /** @return the test JVM's java (JDK 17 in CI) and Temurin 25 if installed and not the test JVM itself */
  static List<Path> javas() {
    List<Path> out = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")));
    if (Files.isExecutable(JDK25) && !out.get(0).toAbsolutePath().normalize().equals(JDK25.normalize())) {
      out.add(JDK25);
    }
    return out;
  }

  /**
   * Runs a command line in a child process from the repository root, stderr redirected to a file.
   *
   * @param command the command and its arguments
   * @param stderr where stderr goes
   */
  static Child run(List<String> command, Path stderr) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(command).directory(Readme.root().toFile())
        .redirectError(stderr.toFile()).redirectInput(ProcessBuilder.Redirect.PIPE);
    Map<String, String> env = pb.environment();
    env.put("ORT_DISABLE_TELEMETRY", "1");
    env.put("OPT_OUT_TRACKING", "true");
    env.put("TERM", "xterm-256color"); // a terminal type, but stderr is a file: still no bar
    Process p = pb.start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    assertTrue(p.waitFor(300, TimeUnit.SECONDS), "child did not finish: " + command);
    return new Child(p.exitValue(), new String(out, StandardCharsets.UTF_8), Files.readString(stderr));
  }

  @Test
  void generatePrintsNoWarningsOnJdk17Or25(@TempDir Path tmp) throws Exception {
    Path img = Fixtures.model("vlm4j-tiny-idefics3").resolve("goldens/scene_colours_wide_0.png");
    for (Path java : javas()) {
      Child c = run(List.of(java.toString(), "-jar", jar().toString(), "generate", "--image", img.toString(),
          "--prompt", "What colours are in the image?", "--max-new-tokens", "8"), tmp.resolve("err.txt"));
      assertEquals(0, c.exit(), java + ": " + c.err());
      for (String warning : new String[] {"SLF4J", "WARNING:", "Failed to detect GPU count", "restricted method"}) {
        assertFalse(c.err().contains(warning), java + " printed '" + warning + "':\n" + c.err());
      }
      assertTrue(c.err().isEmpty(), java + ": generate's stderr stays empty without a terminal: " + c.err());
    }
  }

  /** The first ```bash block under "## Two commands", run as written, answers what the picture shows. */
  @Test
  void readmeFirstCommandAnswersRight(@TempDir Path tmp) throws Exception {
    String block = Readme.codeBlocks(Readme.section("Two commands"), "bash").get(0);
    String command = null;
    for (String line : block.replace("\\\n", " ").split("\n")) {
      if (line.startsWith("java -jar examples/target/vlm4j.jar ")) {
        command = line;
      }
    }
    assertNotNull(command, "no java -jar command in:\n" + block);
    Matcher image = Pattern.compile("--image (\\S+)").matcher(command);
    Matcher prompt = Pattern.compile("--prompt \"([^\"]+)\"").matcher(command);
    assertTrue(image.find() && prompt.find(), command);
    Path models = Path.of("src/test/resources/models/vlm4j-tiny-idefics3");
    String picture = models.relativize(Path.of(image.group(1))).toString();
    JsonNode golden = null;
    for (JsonNode c : Fixtures.json(Fixtures.model("vlm4j-tiny-idefics3").resolve("goldens.json")).get("cases")) {
      if (c.get("images").size() == 1 && c.get("images").get(0).asText().equals(picture)
          && prompt.group(1).equals(CliTest.singleTurnPrompt(c))) {
        golden = c;
      }
    }
    assertNotNull(golden, "the README's picture and prompt are a golden case with a known answer: " + command);
    String truth = golden.get("expected_answer").asText();
    Child c = run(List.of("bash", "-c", command), tmp.resolve("err.txt"));
    assertEquals(0, c.exit(), c.err());
    assertEquals(truth, c.out().strip(), "the model's answer to the README's first command vs the picture's truth");
  }

  /**
   * {@code fewshot-eval} with stderr in a file: plain lines (no {@code \r}), a first "loading" line
   * at once (before any graph is loaded), each task's first and last step, and at most one line per
   * 2 s in between.
   */
  @Test
  void progressInAFileIsPlainPeriodicLines(@TempDir Path tmp) throws Exception {
    Path kit = Readme.root().resolve("src/test/resources/fewshot/inspection");
    int queries;
    try (java.util.stream.Stream<Path> s = Files.walk(kit.resolve("queries"))) {
      queries = (int) s.filter(Files::isRegularFile).count();
    }
    for (Path java : javas()) {
      Child c = run(List.of(java.toString(), "-jar", jar().toString(), "fewshot-eval", "--no-image-splitting",
          "--shots", "2", "--pool", kit.resolve("pool").toString(), "--queries", kit.resolve("queries").toString(),
          "--out", tmp.resolve("out").toString()), tmp.resolve("err.txt"));
      assertEquals(0, c.exit(), java + ": " + c.err());
      assertFalse(c.err().contains("\r"), java + ": a carriage return in a file");
      List<Double> stamps = new ArrayList<>();
      List<String> lines = c.err().lines().toList();
      Pattern line = Pattern.compile("^\\[\\s*(\\d+\\.\\d) s\\] (.*)$");
      for (String l : lines) {
        Matcher m = line.matcher(l);
        assertTrue(m.matches(), java + ": not a progress line: " + l);
        stamps.add(Double.parseDouble(m.group(1)));
      }
      assertTrue(lines.get(0).contains("loading ") && stamps.get(0) <= 1.0,
          java + ": the first line comes at once: " + lines.get(0));
      int loaded = indexOf(lines, "loading model: ", " done");
      assertTrue(loaded > 0, java + ": the first line comes before the model is loaded: " + c.err());
      assertTrue(indexOf(lines, "encoding demo pool: 0/", "") > loaded, c.err());
      assertTrue(indexOf(lines, "encoding demo pool: ", " done") > loaded, c.err());
      int first = indexOf(lines, "evaluating queries: 0/" + queries, "");
      int last = indexOf(lines, "evaluating queries: " + queries + "/" + queries + " done", "");
      assertTrue(first > 0 && last > first, c.err());
      for (int i = first + 1; i < last; i++) {
        assertTrue(stamps.get(i) - stamps.get(i - 1) >= 1.9,
            java + ": lines of one task at most every 2 s: " + lines.get(i - 1) + " / " + lines.get(i));
      }
      assertTrue(last - first + 1 < queries, java + ": not one line per query: " + c.err());
    }
  }

  /** @return the index of the first line containing both parts, or -1 */
  static int indexOf(List<String> lines, String part, String andPart) {
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).contains(part) && lines.get(i).contains(andPart)) {
        return i;
      }
    }
    return -1;
  }
}
