package io.github.vlm4j.benchmarks;

import io.github.vlm4j.core.model.ModelConfig;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.onnx.SessionSettings;
import io.github.vlm4j.decoder.CausalDecoder;
import io.github.vlm4j.decoder.DecoderState;
import io.github.vlm4j.decoder.TokenEmbedder;
import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.Sampler;
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
 * One greedy decode step of vlm4j's decoder on the kit's tiny model (1 thread): embed the token,
 * run the decoder with the KV cache fed back, read the last row of the pinned logits, argmax. The
 * graphs are tiny, so the op time is mostly vlm4j's and ONNX Runtime's per-call overhead, and
 * {@code -prof gc}'s {@code gc.alloc.rate.norm} is the Java heap a step allocates. The state is
 * restarted from a 32-token prompt when its context reaches 512 (amortised into the ops).
 *
 * <pre>{@code java -jar benchmarks/target/benchmarks.jar DecodeStepBenchmark -prof gc}</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class DecodeStepBenchmark {
  /** Model folder (onnx-community layout). */
  @Param({"src/test/resources/models/vlm4j-tiny-idefics3"})
  public String folder;

  private CausalDecoder decoder;
  private TokenEmbedder embedder;
  private DecoderState state;
  private final Sampler greedy = GenerationConfig.greedy(1).newSampler();
  private float[] promptEmbeds;
  private int token;

  @Setup
  public void setup() throws Exception {
    ModelFolder f = ModelFolder.of(Path.of(folder));
    var text = ModelConfig.read(f).textConfig();
    SessionSettings s = SessionSettings.builder().intraOpThreads(1).allowSpinning(false).build();
    decoder = CausalDecoder.open(f, "onnx/decoder_model_merged.onnx", s, text);
    embedder = TokenEmbedder.open(f, "onnx/embed_tokens.onnx", s, text.hiddenSize());
    int[] prompt = new int[32];
    for (int i = 0; i < prompt.length; i++) {
      prompt[i] = 10 + i;
    }
    promptEmbeds = embedder.embed(prompt, null);
    restart();
  }

  private void restart() {
    if (state != null) {
      state.close();
    }
    state = decoder.newState();
    token = greedy.sample(state.append(promptEmbeds, 32));
  }

  /** @return the next token */
  @Benchmark
  public int step() {
    if (state.pastLength() >= 512) {
      restart();
    }
    token = greedy.sample(state.appendToken(token, embedder));
    return token;
  }

  @TearDown
  public void close() {
    state.close();
    embedder.close();
    decoder.close();
  }
}
