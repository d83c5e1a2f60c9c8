package io.github.vlm4j.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The repository's README.md, read by the tests that check it against the command line. */
final class Readme {
  private Readme() {}

  /** @return the repository root ({@code -Dvlm4j.root}, default two folders up from src/test) */
  static Path root() {
    return Path.of(System.getProperty("vlm4j.root", "../..")).toAbsolutePath().normalize();
  }

  /** @return README.md's text */
  static String text() {
    try {
      return Files.readString(root().resolve("README.md"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * @param heading a level-2 heading's text, e.g. {@code Two commands}
   * @return the section's text, from after its heading to the next level-2 heading
   */
  static String section(String heading) {
    String t = text();
    String start = "\n## " + heading + "\n";
    int a = t.indexOf(start);
    if (a < 0) {
      throw new AssertionError("README.md has no section '## " + heading + "'");
    }
    int b = t.indexOf("\n## ", a + start.length());
    return t.substring(a + start.length(), b < 0 ? t.length() : b);
  }

  /**
   * @param text markdown
   * @param language the fence's language, e.g. {@code bash}
   * @return the fenced code blocks of that language, in order
   */
  static List<String> codeBlocks(String text, String language) {
    List<String> out = new ArrayList<>();
    Matcher m = Pattern.compile("(?ms)^```" + Pattern.quote(language) + "\\n(.*?)^```$").matcher(text);
    while (m.find()) {
      out.add(m.group(1));
    }
    return out;
  }
}
