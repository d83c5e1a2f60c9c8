package io.github.vlm4j.it.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's Java blocks stay real code: {@link ReadmeSnippets} holds them as methods (compiled
 * with the tests), this test checks each method's region still equals the README text, and runs
 * every block in a child JVM whose working directory holds the files the README names.
 */
class ReadmeSnippetsTest {
  private static final Path ROOT = Path.of(System.getProperty("vlm4j.root", "../.."));
  private static final Pattern BLOCK = Pattern.compile("^```java\\n(.*?)^```$", Pattern.DOTALL | Pattern.MULTILINE);

  /** One README block split into its imports and the code after them. */
  record Block(List<String> imports, List<String> body) {}

  static List<Block> readmeBlocks() throws IOException {
    String readme = Files.readString(ROOT.resolve("README.md"));
    List<Block> out = new ArrayList<>();
    Matcher m = BLOCK.matcher(readme);
    while (m.find()) {
      List<String> imports = new ArrayList<>();
      List<String> body = new ArrayList<>();
      for (String line : m.group(1).split("\n", -1)) {
        if (line.startsWith("import ")) {
          imports.add(line);
        } else if (!body.isEmpty() || !line.isBlank()) {
          body.add(line);
        }
      }
      while (!body.isEmpty() && body.get(body.size() - 1).isEmpty()) {
        body.remove(body.size() - 1);
      }
      out.add(new Block(imports, body));
    }
    return out;
  }

  @Test
  void theSnippetMethodsAreTheReadmeText() throws IOException {
    List<Block> blocks = readmeBlocks();
    assertTrue(blocks.size() >= 3, "README java blocks: " + blocks.size());
    List<String> source = Files.readAllLines(
        ROOT.resolve("src/test/java/io/github/vlm4j/it/readme/ReadmeSnippets.java"));
    for (int k = 1; k <= blocks.size(); k++) {
      Block b = blocks.get(k - 1);
      for (String imp : b.imports()) {
        assertTrue(source.contains(imp), "README java block " + k + ": ReadmeSnippets.java lacks " + imp);
      }
      int start = source.indexOf("    // README java block " + k);
      assertTrue(start >= 0, "ReadmeSnippets.java has no region for README java block " + k);
      List<String> region = new ArrayList<>();
      for (int i = start + 1; !source.get(i).equals("    // end of README java block"); i++) {
        String line = source.get(i);
        region.add(line.isEmpty() ? "" : line.substring(4));
      }
      assertEquals(String.join("\n", b.body()), String.join("\n", region),
          "README java block " + k + " and ReadmeSnippets.block" + k + " differ");
    }
    assertFalse(source.contains("    // README java block " + (blocks.size() + 1)),
        "ReadmeSnippets.java has a region for a block the README no longer has");
  }

  @Test
  void everyBlockRunsOnTheReferenceModels(@TempDir Path work) throws Exception {
    for (String line : Files.readAllLines(ROOT.resolve("src/test/resources/readme/workdir.tsv"))) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      String[] f = line.split("\t");
      copy(ROOT.resolve(f[1]), work.resolve(f[0]));
    }
    List<String[]> expected = new ArrayList<>();
    for (String line : Files.readAllLines(ROOT.resolve("src/test/resources/readme/expected.tsv"))) {
      if (!line.isBlank() && !line.startsWith("#")) {
        expected.add(line.split("\t"));
      }
    }
    int blocks = readmeBlocks().size();
    for (int k = 1; k <= blocks; k++) {
      String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
      Path out = work.resolve("out" + k);
      Path err = work.resolve("err" + k);
      Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
          System.getProperty("java.class.path"), ReadmeSnippets.class.getName(), Integer.toString(k))
          .directory(work.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
      assertTrue(p.waitFor(120, TimeUnit.SECONDS), "README java block " + k + " did not finish in 120 s");
      String stderr = Files.readString(err);
      assertEquals(0, p.exitValue(), "README java block " + k + " failed:\n" + stderr);
      assertFalse(stderr.contains("WARNING: "), stderr);
      List<String> stdout = Files.readAllLines(out, StandardCharsets.UTF_8);
      assertFalse(stdout.isEmpty(), "README java block " + k + " printed nothing");
      int checks = 0;
      for (String[] e : expected) {
        if (Integer.parseInt(e[0]) == k) {
          String line = e[1].equals("first") ? stdout.get(0) : stdout.get(stdout.size() - 1);
          assertTrue(Pattern.compile(e[2]).matcher(line).find(),
              "README java block " + k + ": the " + e[1] + " line '" + line + "' does not match " + e[2]);
          checks++;
        }
      }
      assertTrue(checks > 0, "expected.tsv has no check for README java block " + k);
    }
  }

  private static void copy(Path from, Path to) throws IOException {
    try (Stream<Path> s = Files.walk(from)) {
      s.forEach(src -> {
        try {
          Files.copy(src, to.resolve(from.relativize(src).toString()), StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    }
  }
}
