package io.github.vlm4j.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The README's LangChain4j section stays real code: its {@code ```Java} blocks (not {@code ```java},
 * which the root README checks compile against vlm4j alone) equal the regions of {@link
 * ReadmeExamples} and {@link ReadmeAiServicesExample}, whose imports they list, and each runs on the
 * tiny model and prints what it should.
 */
@Timeout(60)
class ReadmeExamplesTest {
  private static final Path ROOT = Path.of(System.getProperty("vlm4j.root", "../.."));
  private static final Pattern BLOCK = Pattern.compile("^```Java\\n(.*?)^```$", Pattern.DOTALL | Pattern.MULTILINE);
  private static final Path SOURCES = ROOT.resolve("integrations/langchain4j/src/test/java/io/github/vlm4j/langchain4j");

  static List<String> sectionBlocks() throws IOException {
    String readme = Files.readString(ROOT.resolve("README.md"));
    int start = readme.indexOf("\n## LangChain4j\n");
    assertTrue(start >= 0, "README.md has no LangChain4j section");
    int end = readme.indexOf("\n## ", start + 1);
    Matcher m = BLOCK.matcher(readme.substring(start, end < 0 ? readme.length() : end));
    List<String> out = new ArrayList<>();
    while (m.find()) {
      out.add(m.group(1));
    }
    return out;
  }

  @Test
  void theReadmeBlocksAreTheExampleSources() throws IOException {
    List<String> blocks = sectionBlocks();
    assertEquals(3, blocks.size(), "```Java blocks in the LangChain4j section");
    String[] files = {"ReadmeExamples.java", "ReadmeExamples.java", "ReadmeAiServicesExample.java"};
    for (int k = 1; k <= blocks.size(); k++) {
      List<String> source = Files.readAllLines(SOURCES.resolve(files[k - 1]));
      List<String> body = new ArrayList<>();
      for (String line : blocks.get(k - 1).split("\n", -1)) {
        if (line.startsWith("import ")) {
          assertTrue(source.contains(line), "README LangChain4j block " + k + ": " + files[k - 1] + " lacks " + line);
        } else if (!body.isEmpty() || !line.isBlank()) {
          body.add(line);
        }
      }
      while (!body.isEmpty() && body.get(body.size() - 1).isEmpty()) {
        body.remove(body.size() - 1);
      }
      int at = source.indexOf("    // README LangChain4j block " + k);
      assertTrue(at >= 0, files[k - 1] + " has no region for README LangChain4j block " + k);
      List<String> region = new ArrayList<>();
      for (int i = at + 1; !source.get(i).equals("    // end of README LangChain4j block"); i++) {
        region.add(source.get(i).isEmpty() ? "" : source.get(i).substring(4));
      }
      assertEquals(String.join("\n", body), String.join("\n", region), "README LangChain4j block " + k + " and "
          + files[k - 1] + " differ");
    }
  }

  static String printed(BiConsumer<io.github.vlm4j.VisionLanguageModel, byte[]> block) {
    PrintStream out = System.out;
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
    try {
      block.accept(TestModels.model(), ChatModelTest.PNG);
    } finally {
      System.setOut(out);
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }

  @Test
  void everyBlockRunsOnTheTinyModel() {
    String sync = printed(ReadmeExamples::block1);
    assertTrue(sync.matches("(?s).+ (STOP|LENGTH) TokenUsage \\{.*inputTokenCount = \\d+.*"), sync);
    String streamed = printed(ReadmeExamples::block2);
    assertTrue(streamed.matches("(?s).+\\n(STOP|LENGTH)\\n"), streamed);
    String record = printed(ReadmeAiServicesExample::block3);
    assertTrue(record.matches("Inspection\\[verdict=(OK|DEFECTIVE), scratched=(true|false)\\]\\n"), record);
  }
}
