package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line's exit codes (0 ok, 1 bad input, 2 bad usage, 3 model, 4 inference), messages
 * that name the flag, sampling flags that need a temperature, options a model cannot honour, and
 * the exit-code table that README and {@code --help} share.
 */
class CliUsageTest {
  static final Path IDEFICS = Fixtures.model("vlm4j-tiny-idefics3");
  static final Path MODULAR = Fixtures.model("vlm4j-tiny-modular");
  static final Path IMAGE = IDEFICS.resolve("goldens/scene_colours_wide_0.png");
  // The documented exit codes (README "Command line", --help).
  static final int INPUT = 1;
  static final int USAGE = 2;
  static final int MODEL_LOAD = 3;

  /** @return {@code generate} on the tiny idefics3 model plus {@code extra} (4 new tokens unless given) */
  static CliTest.Run generate(String... extra) {
    List<String> args = new ArrayList<>(List.of("generate", "--model", IDEFICS.toString(), "--image", IMAGE.toString(),
        "--prompt", "What colours are in the image?"));
    args.addAll(List.of(extra));
    if (!args.contains("--max-new-tokens")) {
      args.addAll(List.of("--max-new-tokens", "4"));
    }
    return CliTest.cli(args.toArray(String[]::new));
  }

  static void assertUsageError(CliTest.Run r, String... inMessage) {
    assertEquals(USAGE, r.exit(), r.err());
    for (String s : inMessage) {
      assertTrue(r.err().contains(s), "stderr should mention '" + s + "': " + r.err());
    }
    assertFalse(r.err().contains("\tat "), r.err());
  }

  @Test
  void samplingFlagsWithoutTemperatureAreUsageErrors() {
    String[][] samplingOnly = {{"--seed", "7"}, {"--top-k", "5"}, {"--top-p", "0.9"}};
    for (String[] flag : samplingOnly) {
      assertUsageError(generate(flag), flag[0] + " needs --temperature (sampling); without it decoding is greedy");
      assertUsageError(generate(flag[0], flag[1], "--temperature", "0"), flag[0] + " needs --temperature");
      CliTest.Run sampled = generate(flag[0], flag[1], "--temperature", "0.8");
      assertEquals(0, sampled.exit(), sampled.err());
    }
    // The repetition penalty also applies to greedy decoding: allowed without a temperature.
    CliTest.Run penalty = generate("--repetition-penalty", "1.3");
    assertEquals(0, penalty.exit(), penalty.err());
    CliTest.Run openAi = generate("--presence-penalty", "-0.5", "--frequency-penalty", "1.5");
    assertEquals(0, openAi.exit(), openAi.err());
  }

  @Test
  void badFlagValuesAreUsageErrorsNamingTheFlag() {
    assertUsageError(generate("--threads", "-1"), "--threads must be in [0, ", "got -1");
    assertFalse(generate("--threads", "-1").err().matches("(?s).*[^-]threads must.*"), "names the flag, not a field");
    assertUsageError(generate("--threads", "100000"), "--threads must be in [0, ", "got 100000");
    assertUsageError(generate("--dtype", "fp64"), "--dtype", "fp64", "fp32, fp16, q8");
    assertUsageError(generate("--max-new-tokens", "0"), "--max-new-tokens must be in [1, ", "got 0");
    assertUsageError(generate("--temperature", "-1"), "--temperature must be 0 (greedy) or in [");
    assertUsageError(generate("--temperature", "1", "--top-p", "2"), "--top-p must be in (0, 1]", "got 2.0");
    assertUsageError(generate("--temperature", "1", "--top-k", "-3"), "--top-k must be >= 0", "got -3");
    assertUsageError(generate("--repetition-penalty", "0"), "--repetition-penalty must be in [");
    assertUsageError(generate("--stop", ""), "--stop must be 1 to 1024 characters");
    assertUsageError(generate("--presence-penalty", "3"), "--presence-penalty must be in [-2, 2]", "got 3.0");
    assertUsageError(generate("--frequency-penalty", "-2.5"), "--frequency-penalty must be in [-2, 2]");
    assertUsageError(generate("--frobnicate"), "--frobnicate");
    assertUsageError(generate("--adapter", "nope"), "UNKNOWN_ADAPTER", "nope");
    assertUsageError(CliTest.cli("generate", "--image", IMAGE.toString()), "--prompt");
    assertUsageError(CliTest.cli("fewshot-eval", "--model", IDEFICS.toString(), "--pool", "p", "--queries", "q",
        "--shots", "0"), "--shots must be >= 1, got 0");
  }

  @Test
  void noArgumentsPrintTheUsageOnStderrAndExit2() {
    CliTest.Run r = CliTest.cli();
    assertEquals(USAGE, r.exit());
    assertTrue(r.out().isEmpty(), r.out());
    assertTrue(r.err().contains("Usage: vlm4j") && r.err().contains("fewshot-eval"), r.err());
    CliTest.Run help = CliTest.cli("--help");
    assertEquals(0, help.exit(), help.err());
    assertTrue(help.out().contains("Usage: vlm4j"), help.out());
  }

  @Test
  void badInputExits1AndAModelThatCannotLoadExits3(@TempDir Path tmp) throws Exception {
    CliTest.Run missing = CliTest.cli("generate", "--model", IDEFICS.toString(), "--image",
        tmp.resolve("no-such-picture.png").toString(), "--prompt", "hi");
    assertEquals(INPUT, missing.exit(), missing.err());
    assertTrue(missing.err().contains("IMAGE_NOT_FOUND") && missing.err().contains("no-such-picture.png"),
        missing.err());
    assertEquals(1, missing.err().strip().lines().count(), missing.err());
    Path notAnImage = Files.writeString(tmp.resolve("text.png"), "hello, not a picture");
    CliTest.Run corrupt = CliTest.cli("generate", "--model", IDEFICS.toString(), "--image", notAnImage.toString(),
        "--prompt", "hi");
    assertEquals(INPUT, corrupt.exit(), corrupt.err());
    CliTest.Run lacksDtype = generate("--dtype", "q4");
    assertEquals(MODEL_LOAD, lacksDtype.exit(), lacksDtype.err());
    assertTrue(lacksDtype.err().contains("q4"), lacksDtype.err());
  }

  @Test
  void styleIsCaseInsensitive() throws Exception {
    Fixtures.EvalCase ec = Fixtures.evalCases("icl_1shot").get(0);
    JsonNode demoLabels = ec.meta().get("demo_labels");
    List<String> args = new ArrayList<>(List.of("fewshot", "--json", "--model", IDEFICS.toString()));
    for (int i = 0; i < demoLabels.size(); i++) {
      args.addAll(List.of("--demo", ec.images().get(i) + "=" + demoLabels.get(i).asText()));
    }
    args.addAll(List.of("--query", ec.images().get(demoLabels.size()).toString(), "--style"));
    List<JsonNode> scores = new ArrayList<>();
    for (String style : List.of("single_turn", "SINGLE_TURN", "turns")) {
      List<String> a = new ArrayList<>(args);
      a.add(style);
      CliTest.Run r = CliTest.cli(a.toArray(String[]::new));
      assertEquals(0, r.exit(), style + ": " + r.err());
      scores.add(new ObjectMapper().readTree(r.out()).get("queries").get(0).get("scores"));
    }
    assertEquals(scores.get(1), scores.get(0), "single_turn is SINGLE_TURN");
    assertTrue(!scores.get(0).equals(scores.get(2)), "the style changes the prompt, so the scores");
  }

  @Test
  void imageSplittingOffOnAModelThatCannotSplitIsAUsageError() {
    Path img = MODULAR.resolve("goldens/scene_shapes_0.png");
    CliTest.Run r = CliTest.cli("generate", "--model", MODULAR.toString(), "--image", img.toString(),
        "--prompt", "What shapes are in the image?", "--max-new-tokens", "4", "--no-image-splitting");
    assertUsageError(r, "--no-image-splitting");
    assertEquals(1, r.err().strip().lines().count(), r.err());
    CliTest.Run fewshot = CliTest.cli("fewshot", "--model", MODULAR.toString(), "--demo", img + "=a",
        "--demo", MODULAR.resolve("goldens/scene_count_0.png") + "=b", "--query", img.toString(),
        "--no-image-splitting");
    assertUsageError(fewshot, "--no-image-splitting");
    CliTest.Run split = CliTest.cli("generate", "--model", MODULAR.toString(), "--image", img.toString(),
        "--prompt", "What shapes are in the image?", "--max-new-tokens", "4");
    assertEquals(0, split.exit(), split.err());
  }

  /** The README's exit-code table is the one every {@code --help} prints, code for code and word for word. */
  @Test
  void readmeAndHelpShowTheSameExitCodes() {
    Map<String, String> readme = new LinkedHashMap<>();
    Matcher m = Pattern.compile("(?m)^\\| (\\d) \\| (.+?) \\|$").matcher(Readme.section("Command line"));
    while (m.find()) {
      readme.put(m.group(1), m.group(2));
    }
    assertEquals(List.of("0", "1", "2", "3", "4"), List.copyOf(readme.keySet()), "README's exit-code table");
    for (String command : List.of("", "generate", "fewshot", "fewshot-eval", "adapters", "serve")) {
      CliTest.Run help = command.isEmpty() ? CliTest.cli("--help") : CliTest.cli(command, "--help");
      assertEquals(0, help.exit(), help.err());
      assertEquals(readme, exitCodes(help.out()), "'vlm4j " + command + " --help' vs README");
    }
  }

  /** @return the "Exit codes:" list of a picocli help text, code → text with wrapped lines joined */
  static Map<String, String> exitCodes(String help) {
    Map<String, String> out = new LinkedHashMap<>();
    int at = help.indexOf("Exit codes:");
    if (at < 0) {
      return out;
    }
    String code = null;
    for (String line : help.substring(at).lines().skip(1).toList()) {
      Matcher entry = Pattern.compile("^\\s+(\\d+)\\s+(\\S.*)$").matcher(line);
      if (entry.matches()) {
        code = entry.group(1);
        out.put(code, entry.group(2).strip());
      } else if (code != null && !line.isBlank()) {
        out.put(code, out.get(code) + " " + line.strip());
      } else {
        break;
      }
    }
    return out;
  }
}
