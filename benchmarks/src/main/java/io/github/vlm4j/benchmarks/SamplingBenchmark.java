package io.github.vlm4j.benchmarks;

import io.github.vlm4j.decoder.generation.GenerationConfig;
import io.github.vlm4j.decoder.generation.LogitsProcessor;
import io.github.vlm4j.decoder.generation.Sampler;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Logits processing and sampling over SmolVLM's 49,280-token vocabulary, per decode step: greedy
 * (the default), the repetition penalty over a 1,024-token sequence, and temperature + top-k 50 +
 * top-p 0.9 multinomial sampling. Each op copies the logits first (as the generator does).
 *
 * <pre>{@code java -jar benchmarks/target/benchmarks.jar SamplingBenchmark -prof gc}</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SamplingBenchmark {
  private static final int VOCAB = 49280;

  private float[] logits;
  private float[] work;
  private int[] sequence;
  private Sampler greedy;
  private List<LogitsProcessor> penalty;
  private List<LogitsProcessor> sampling;
  private Sampler multinomial;

  @Setup
  public void setup() {
    SplittableRandom r = new SplittableRandom(3);
    logits = new float[VOCAB];
    for (int i = 0; i < VOCAB; i++) {
      logits[i] = (float) (r.nextGaussian() * 3);
    }
    work = new float[VOCAB];
    sequence = new int[1024];
    for (int i = 0; i < sequence.length; i++) {
      sequence[i] = r.nextInt(VOCAB);
    }
    greedy = GenerationConfig.greedy(1).newSampler();
    penalty = GenerationConfig.builder().repetitionPenalty(1.2).build().processors(0);
    GenerationConfig s = GenerationConfig.builder().doSample(true).temperature(0.7).topK(50).topP(0.9).seed(1)
        .build();
    sampling = s.processors(0);
    multinomial = s.newSampler();
  }

  private int run(List<LogitsProcessor> processors, Sampler sampler) {
    System.arraycopy(logits, 0, work, 0, VOCAB);
    for (LogitsProcessor p : processors) {
      p.process(sequence, sequence.length, work);
    }
    return sampler.sample(work);
  }

  /** @return the argmax */
  @Benchmark
  public int greedy() {
    return run(List.of(), greedy);
  }

  /** @return the argmax after the repetition penalty */
  @Benchmark
  public int repetitionPenaltyThenGreedy() {
    return run(penalty, greedy);
  }

  /** @return a sampled token */
  @Benchmark
  public int temperatureTopKTopPSample() {
    return run(sampling, multinomial);
  }
}
