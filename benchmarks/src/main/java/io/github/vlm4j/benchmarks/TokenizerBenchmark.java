package io.github.vlm4j.benchmarks;

import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.text.StreamingDetokenizer;
import io.github.vlm4j.core.text.TextTokenizer;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The HuggingFace tokenizer (DJL, native) as vlm4j uses it, on the kit's tiny model tokenizer:
 * encoding a prompt of about 1,000 tokens, and streaming detokenization (per-token text deltas, as
 * the generator emits them) of 128 ids.
 *
 * <pre>{@code java -jar benchmarks/target/benchmarks.jar TokenizerBenchmark -prof gc}</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class TokenizerBenchmark {
  /** Model folder holding {@code tokenizer.json}. */
  @Param({"src/test/resources/models/vlm4j-tiny-idefics3"})
  public String folder;

  private TextTokenizer tokenizer;
  private String text;
  private int[] ids;

  @Setup
  public void setup() throws Exception {
    tokenizer = TextTokenizer.load(ModelFolder.of(Path.of(folder)));
    text = "The quick brown fox jumps over the lazy dog. ".repeat(100);
    int[] all = tokenizer.encode(text);
    ids = java.util.Arrays.copyOf(all, 128);
  }

  @TearDown
  public void close() {
    tokenizer.close();
  }

  /** @return ids of a ~1,000-token text */
  @Benchmark
  public int[] encodePrompt() {
    return tokenizer.encode(text);
  }

  /** @return total characters streamed for 128 ids */
  @Benchmark
  public int streamDecode128() {
    StreamingDetokenizer d = new StreamingDetokenizer(tokenizer, true);
    int chars = 0;
    for (int id : ids) {
      chars += d.push(id).length();
    }
    return chars + d.flush().length();
  }
}
