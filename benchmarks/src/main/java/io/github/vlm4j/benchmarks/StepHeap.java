package io.github.vlm4j.benchmarks;

import io.github.vlm4j.decoder.generation.TokenStreamer;

/**
 * A streamer for one request (not thread-safe): the heap allocated by the generating thread between
 * the second and the last new token, per step, and the process's CPU time at the first and the last
 * token. Used by {@link QwenComparison}, {@link FamilyComparison} and {@link FlorenceComparison}.
 */
final class StepHeap implements TokenStreamer {
  int tokens;
  private long atSecond;
  private long atLast;
  long cpuFirst;
  long cpuLast;

  @Override
  public void onText(String delta) {}

  @Override
  public void onToken(int tokenId) {
    long now = Heap.allocatedBytes();
    cpuLast = Heap.processCpuNanos();
    tokens++;
    if (tokens == 1) {
      cpuFirst = cpuLast;
    }
    if (tokens == 2) {
      atSecond = now;
    }
    atLast = now;
  }

  double perStep() {
    return tokens > 2 ? (double) (atLast - atSecond) / (tokens - 2) : Double.NaN;
  }
}
