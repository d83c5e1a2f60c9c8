package io.github.vlm4j.server;

import io.github.vlm4j.VisionLanguageModel;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;

/**
 * The server's Prometheus metrics (Micrometer): requests by endpoint and status, prompt and
 * completion tokens, running requests and queue depth, time-to-first-token and decode-time
 * histograms, cancelled generations by cause, the model's cache counters and its continuous-batching
 * counters. Thread-safe.
 */
final class ServerMetrics {
  /** Why a generation was cancelled. */
  enum Cancel {
    CLIENT_DISCONNECTED, TIMEOUT, SHUTDOWN;

    String tag() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Counter promptTokens;
  private final Counter completionTokens;
  private final Timer ttft;
  private final Timer decode;

  ServerMetrics(VisionLanguageModel model, Admission admission) {
    promptTokens = Counter.builder("vlm4j.prompt.tokens").description("Prompt tokens of answered requests, image"
        + " tokens included").register(registry);
    completionTokens = Counter.builder("vlm4j.completion.tokens").description("Generated tokens, the stopping"
        + " token included").register(registry);
    ttft = Timer.builder("vlm4j.time.to.first.token").description("From the start of a generation to its first"
        + " token").publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
        .maximumExpectedValue(Duration.ofSeconds(120)).register(registry);
    decode = Timer.builder("vlm4j.decode.time").description("Decode time of a generation after its first token")
        .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
        .maximumExpectedValue(Duration.ofSeconds(600)).register(registry);
    Gauge.builder("vlm4j.queue.depth", admission, Admission::waiting).description("Requests waiting for a slot")
        .register(registry);
    Gauge.builder("vlm4j.requests.running", admission, Admission::running).description("Requests running on the"
        + " model").register(registry);
    FunctionCounter.builder("vlm4j.image.cache.hits", model, m -> m.cacheStats().imageHits())
        .description("Images whose vision features came from the cache").register(registry);
    FunctionCounter.builder("vlm4j.image.cache.misses", model, m -> m.cacheStats().imageMisses())
        .description("Images that ran the vision encoder").register(registry);
    FunctionCounter.builder("vlm4j.prefix.cache.hits", model, m -> m.cacheStats().prefixHits())
        .description("Few-shot requests that started from a cached demo prefix").register(registry);
    FunctionCounter.builder("vlm4j.prefix.cache.misses", model, m -> m.cacheStats().prefixMisses())
        .description("Few-shot requests that computed their demo prefix").register(registry);
    FunctionCounter.builder("vlm4j.batch.steps", model, m -> m.batchStats().steps())
        .description("Decoder steps of the continuous batch (concurrent requests share them)").register(registry);
    FunctionCounter.builder("vlm4j.batch.row.steps", model, m -> m.batchStats().rowSteps())
        .description("Rows summed over the batch's decoder steps; divided by vlm4j_batch_steps_total, rows per step")
        .register(registry);
    FunctionCounter.builder("vlm4j.batch.joins", model, m -> m.batchStats().joins())
        .description("Requests that joined the continuous batch").register(registry);
    FunctionCounter.builder("vlm4j.batch.cache.copies", model, m -> m.batchStats().cacheCopies())
        .description("Copies of the batch's KV cache (when rows join a non-empty batch or leave it)")
        .register(registry);
    for (Cancel c : Cancel.values()) {
      cancelled(c);
    }
  }

  private Counter cancelled(Cancel cause) {
    return Counter.builder("vlm4j.generations.cancelled").description("Generations cancelled, by cause")
        .tag("cause", cause.tag()).register(registry);
  }

  void request(String endpoint, int status) {
    Counter.builder("vlm4j.http.requests").description("HTTP requests by endpoint and status")
        .tag("endpoint", endpoint).tag("status", Integer.toString(status)).register(registry).increment();
  }

  void tokens(int prompt, int completion) {
    promptTokens.increment(prompt);
    completionTokens.increment(completion);
  }

  void timings(double ttftMs, double decodeMs) {
    ttft.record(Duration.ofNanos((long) (ttftMs * 1e6)));
    decode.record(Duration.ofNanos((long) (decodeMs * 1e6)));
  }

  void cancel(Cancel cause) {
    cancelled(cause).increment();
  }

  /** @return how many generations were cancelled for {@code cause} */
  double cancelledCount(Cancel cause) {
    return cancelled(cause).count();
  }

  /** @return the Prometheus text exposition of every metric */
  String scrape() {
    return registry.scrape();
  }

  void close() {
    registry.close();
  }
}
