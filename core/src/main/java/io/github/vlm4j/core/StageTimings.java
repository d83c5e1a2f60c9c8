package io.github.vlm4j.core;

import java.util.Arrays;

/**
 * Wall-clock time spent per stage of one request, in milliseconds.
 *
 * @param preprocessMs image decoding, resizing, tiling, normalisation, and prompt building
 * @param visionMs vision encoder plus projector/adapter
 * @param prefillMs token embedding, merge and the decoder's prompt pass
 * @param timeToFirstTokenMs from the start of the request to the first generated token
 * @param decodeStepMs duration of every later decode step (embedding + decoder + sampling)
 * @param totalMs the whole request
 */
public record StageTimings(
    double preprocessMs, double visionMs, double prefillMs, double timeToFirstTokenMs,
    double[] decodeStepMs, double totalMs) {

  /**
   * Copies the array.
   *
   * @param preprocessMs image decoding, resizing, tiling, normalisation, and prompt building
   * @param visionMs vision encoder plus projector/adapter
   * @param prefillMs token embedding, merge and the decoder's prompt pass
   * @param timeToFirstTokenMs from the start of the request to the first generated token
   * @param decodeStepMs duration of every later decode step (copied)
   * @param totalMs the whole request
   */
  public StageTimings {
    decodeStepMs = decodeStepMs.clone();
  }

  /**
   * Returns the time of each decode step.
   *
   * @return a copy of the duration of every decode step after the first token, in milliseconds
   */
  @Override
  public double[] decodeStepMs() {
    return decodeStepMs.clone();
  }

  /**
   * Returns the total decode time in milliseconds.
   *
   * @return the sum of decode steps
   */
  public double decodeMs() {
    return Arrays.stream(decodeStepMs).sum();
  }

  /**
   * Returns the mean decode step time in milliseconds.
   *
   * @return mean decode step, or 0 if none
   */
  public double meanDecodeStepMs() {
    return decodeStepMs.length == 0 ? 0 : decodeMs() / decodeStepMs.length;
  }

  /**
   * Returns the decode throughput.
   *
   * @return decode tokens per second over the decode steps, or 0 if none
   */
  public double decodeTokensPerSecond() {
    return decodeStepMs.length == 0 ? 0 : 1000.0 * decodeStepMs.length / decodeMs();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof StageTimings t && preprocessMs == t.preprocessMs && visionMs == t.visionMs
        && prefillMs == t.prefillMs && timeToFirstTokenMs == t.timeToFirstTokenMs
        && Arrays.equals(decodeStepMs, t.decodeStepMs) && totalMs == t.totalMs;
  }

  @Override
  public int hashCode() {
    return Double.hashCode(totalMs) * 31 + Arrays.hashCode(decodeStepMs);
  }

  @Override
  public String toString() {
    return String.format(java.util.Locale.ROOT,
        "preprocess %.1f ms, vision %.1f ms, prefill %.1f ms, TTFT %.1f ms, decode %d steps %.2f ms/token, total %.1f ms",
        preprocessMs, visionMs, prefillMs, timeToFirstTokenMs, decodeStepMs.length, meanDecodeStepMs(), totalMs);
  }
}
