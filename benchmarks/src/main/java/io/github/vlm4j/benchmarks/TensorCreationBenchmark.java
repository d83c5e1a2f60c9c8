package io.github.vlm4j.benchmarks;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import io.github.vlm4j.core.onnx.Tensors;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * Creating (and closing) the decoder's {@code inputs_embeds} tensor {@code [1, n, 576]} (SmolVLM's
 * width) three ways: wrapping a direct native-order buffer (what vlm4j does: no copy), from a heap
 * {@code FloatBuffer} (ONNX Runtime copies it into a new direct buffer), and from a nested Java
 * array (reflective walk + copy); plus the per-step attention mask {@code [1, context]}.
 *
 * <pre>{@code java -jar benchmarks/target/benchmarks.jar TensorCreationBenchmark -prof gc}</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class TensorCreationBenchmark {
  private static final int HIDDEN = 576;

  /** Positions: one decode step, or a prompt chunk. */
  @Param({"1", "256"})
  public int positions;

  private OrtEnvironment env;
  private FloatBuffer direct;
  private FloatBuffer heap;
  private float[][][] nested;
  private LongBuffer mask;

  @Setup
  public void setup() {
    env = OrtEnvironment.getEnvironment();
    int n = positions * HIDDEN;
    direct = Tensors.directFloats(n);
    heap = FloatBuffer.allocate(n);
    nested = new float[1][positions][HIDDEN];
    for (int i = 0; i < n; i++) {
      direct.put(i, i * 1e-3f);
      heap.put(i, i * 1e-3f);
      nested[0][i / HIDDEN][i % HIDDEN] = i * 1e-3f;
    }
    mask = Tensors.directLongs(1024);
    for (int i = 0; i < 1024; i++) {
      mask.put(i, 1);
    }
  }

  /** @return the tensor's element count (the tensor is closed) */
  @Benchmark
  public long directBuffer() throws OrtException {
    try (OnnxTensor t = OnnxTensor.createTensor(env, direct, new long[] {1, positions, HIDDEN})) {
      return t.getInfo().getNumElements();
    }
  }

  /** @return the tensor's element count (the tensor is closed) */
  @Benchmark
  public long heapBuffer() throws OrtException {
    try (OnnxTensor t = OnnxTensor.createTensor(env, heap, new long[] {1, positions, HIDDEN})) {
      return t.getInfo().getNumElements();
    }
  }

  /** @return the tensor's element count (the tensor is closed) */
  @Benchmark
  public long nestedArray() throws OrtException {
    try (OnnxTensor t = OnnxTensor.createTensor(env, nested)) {
      return t.getInfo().getNumElements();
    }
  }

  /** @return the element count of a {@code [1, 1024]} attention mask over a reused direct buffer */
  @Benchmark
  public long attentionMask1024() {
    try (OnnxTensor t = Tensors.longs(mask.duplicate(), 1, 1024)) {
      return t.getInfo().getNumElements();
    }
  }
}
