package io.github.vlm4j.server;

import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Settings of a {@link VlmServer}. Immutable and thread-safe; build with {@link #builder()}. Every
 * value is range-checked when built ({@link IllegalArgumentException} naming the option, the range
 * and the value).
 *
 * @param host address to bind; default {@value #DEFAULT_HOST} (loopback only)
 * @param port TCP port; 0 picks a free one (see {@link VlmServer#port()})
 * @param modelId the id clients name in {@code model} and that {@code GET /v1/models} lists
 * @param apiKey the bearer key every {@code /v1} request must send; empty = no key required
 * @param maxConcurrent requests running on the model at once, in [1, 1024]
 * @param maxQueue requests waiting for a free slot, in [0, 4096]; beyond it the server answers 429
 * @param requestTimeout longest time a request may wait plus run; then its generation is cancelled
 * @param drainTimeout how long {@link VlmServer#close()} lets running requests finish before cancelling them
 * @param maxBodyBytes largest request body, in [1 KiB, 1 GiB]; larger bodies get 413 before they are parsed
 * @param maxImages most images in one request, in [0, 1024]
 * @param maxImageBytes largest encoded image (after base64 decoding), in [1, 256 MiB]; base64 text
 *     that would decode to more is refused before decoding
 * @param defaultMaxTokens new-token limit of a request that sets neither {@code max_tokens} nor
 *     {@code max_completion_tokens}
 * @param allowedImageHosts host names from which {@code http(s)} image URLs may be fetched
 *     (lower case, exact match); empty = every remote URL is refused
 * @param imageFetchTimeout connect plus read timeout of one remote image fetch
 * @param responseFormats whether requests may constrain their output with {@code response_format}
 *     ({@code json_object}, {@code json_schema}); compiling one is bounded (200,000 automaton states,
 *     5 s, 2 at once: about 250 MB of heap at worst), but a server open to untrusted clients may
 *     still turn this off
 * @param corsOrigins browser origins ({@code scheme://host[:port]}, or {@code *} for any) allowed to
 *     call the server from a web page (CORS); empty = no CORS headers, browsers refuse cross-origin calls
 */
public record ServerOptions(String host, int port, String modelId, Optional<String> apiKey, int maxConcurrent,
    int maxQueue, Duration requestTimeout, Duration drainTimeout, long maxBodyBytes, int maxImages,
    long maxImageBytes, int defaultMaxTokens, Set<String> allowedImageHosts, Duration imageFetchTimeout,
    boolean responseFormats, Set<String> corsOrigins) {

  /** The default bind address: loopback. */
  public static final String DEFAULT_HOST = "127.0.0.1";
  /** The default port. */
  public static final int DEFAULT_PORT = 8080;
  /** The default body limit: 32 MiB. */
  public static final long DEFAULT_MAX_BODY_BYTES = 32L << 20;
  /** The default encoded-image limit: 16 MiB. */
  public static final long DEFAULT_MAX_IMAGE_BYTES = 16L << 20;
  /** The largest encoded image the library reads (256 MiB), hence the largest {@code maxImageBytes}. */
  public static final long MAX_IMAGE_BYTES = 256L << 20;

  /**
   * Validates and copies.
   *
   * @param host address to bind
   * @param port TCP port, 0 = any free one
   * @param modelId the served model id (non-blank)
   * @param apiKey the bearer key, if any (non-blank, no whitespace)
   * @param maxConcurrent requests running at once
   * @param maxQueue requests waiting
   * @param requestTimeout per-request timeout (positive)
   * @param drainTimeout shutdown drain bound (zero or positive)
   * @param maxBodyBytes body limit
   * @param maxImages images per request
   * @param maxImageBytes encoded bytes per image
   * @param defaultMaxTokens default new-token limit
   * @param allowedImageHosts remote image hosts (copied, lower-cased)
   * @param imageFetchTimeout remote image fetch timeout (positive)
   * @param responseFormats whether {@code response_format} constraints are accepted
   * @param corsOrigins origins allowed by CORS (copied; each {@code *} or {@code http(s)://host[:port]})
   * @throws IllegalArgumentException naming the option, its range and the value
   */
  public ServerOptions {
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(modelId, "modelId");
    Objects.requireNonNull(apiKey, "apiKey");
    Objects.requireNonNull(requestTimeout, "requestTimeout");
    Objects.requireNonNull(drainTimeout, "drainTimeout");
    Objects.requireNonNull(allowedImageHosts, "allowedImageHosts");
    Objects.requireNonNull(imageFetchTimeout, "imageFetchTimeout");
    check(!host.isBlank(), "host", "non-blank", "\"" + host + "\"");
    check(port >= 0 && port <= 65535, "port", "in [0, 65535]", port);
    check(!modelId.isBlank() && modelId.length() <= 256, "modelId", "non-blank, at most 256 characters", modelId);
    apiKey.ifPresent(k -> check(!k.isEmpty() && k.length() <= 4096 && k.chars().noneMatch(Character::isWhitespace),
        "apiKey", "1 to 4096 characters without whitespace", k.length() + " characters"));
    check(maxConcurrent >= 1 && maxConcurrent <= 1024, "maxConcurrent", "in [1, 1024]", maxConcurrent);
    check(maxQueue >= 0 && maxQueue <= 4096, "maxQueue", "in [0, 4096]", maxQueue);
    check(!requestTimeout.isNegative() && !requestTimeout.isZero(), "requestTimeout", "positive", requestTimeout);
    check(!drainTimeout.isNegative(), "drainTimeout", "zero or positive", drainTimeout);
    check(maxBodyBytes >= 1024 && maxBodyBytes <= (1L << 30), "maxBodyBytes", "in [1024, 2^30]", maxBodyBytes);
    check(maxImages >= 0 && maxImages <= 1024, "maxImages", "in [0, 1024]", maxImages);
    check(maxImageBytes >= 1 && maxImageBytes <= MAX_IMAGE_BYTES, "maxImageBytes", "in [1, " + MAX_IMAGE_BYTES + "]",
        maxImageBytes);
    check(defaultMaxTokens >= 1 && defaultMaxTokens <= (1 << 20), "defaultMaxTokens", "in [1, 2^20]",
        defaultMaxTokens);
    check(!imageFetchTimeout.isNegative() && !imageFetchTimeout.isZero(), "imageFetchTimeout", "positive",
        imageFetchTimeout);
    Set<String> hosts = new LinkedHashSet<>();
    for (String h : allowedImageHosts) {
      check(h != null && !h.isBlank() && h.chars().noneMatch(Character::isWhitespace), "allowedImageHosts",
          "host names without whitespace", h);
      hosts.add(h.toLowerCase(Locale.ROOT));
    }
    allowedImageHosts = Set.copyOf(hosts);
    Objects.requireNonNull(corsOrigins, "corsOrigins");
    Set<String> origins = new LinkedHashSet<>();
    for (String o : corsOrigins) {
      check(o != null && (o.equals("*") || o.matches("https?://[^/\\s?#]+")), "corsOrigins",
          "* or origins scheme://host[:port] (http or https, no path)", o);
      origins.add(o.toLowerCase(Locale.ROOT));
    }
    corsOrigins = Set.copyOf(origins);
  }

  /**
   * Describes the options without the key (only whether one is set), so they can be logged.
   *
   * @return the options, the key redacted
   */
  @Override
  public String toString() {
    return "ServerOptions[host=" + host + ", port=" + port + ", modelId=" + modelId + ", apiKey="
        + (apiKey.isPresent() ? "(set)" : "(none)") + ", maxConcurrent=" + maxConcurrent + ", maxQueue=" + maxQueue
        + ", requestTimeout=" + requestTimeout + ", drainTimeout=" + drainTimeout + ", maxBodyBytes=" + maxBodyBytes
        + ", maxImages=" + maxImages + ", maxImageBytes=" + maxImageBytes + ", defaultMaxTokens=" + defaultMaxTokens
        + ", allowedImageHosts=" + allowedImageHosts + ", imageFetchTimeout=" + imageFetchTimeout
        + ", responseFormats=" + responseFormats + ", corsOrigins=" + corsOrigins + "]";
  }

  private static void check(boolean ok, String option, String expected, Object value) {
    if (!ok) {
      throw new IllegalArgumentException(option + " must be " + expected + ", got " + value);
    }
  }

  /**
   * Starts a builder with the defaults: loopback, port {@value #DEFAULT_PORT}, model id
   * {@code "vlm4j"}, no key, 4 concurrent requests, a queue of 64, a 120 s request timeout, a 30 s
   * drain, a {@value #DEFAULT_MAX_BODY_BYTES}-byte body, 8 images of at most
   * {@value #DEFAULT_MAX_IMAGE_BYTES} bytes, 256 default new tokens, no remote image hosts, a 10 s
   * image fetch timeout, {@code response_format} accepted.
   *
   * @return a builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /** Builder of {@link ServerOptions}. Not thread-safe. */
  public static final class Builder {
    private String host = DEFAULT_HOST;
    private int port = DEFAULT_PORT;
    private String modelId = "vlm4j";
    private String apiKey;
    private int maxConcurrent = 4;
    private int maxQueue = 64;
    private Duration requestTimeout = Duration.ofSeconds(120);
    private Duration drainTimeout = Duration.ofSeconds(30);
    private long maxBodyBytes = DEFAULT_MAX_BODY_BYTES;
    private int maxImages = 8;
    private long maxImageBytes = DEFAULT_MAX_IMAGE_BYTES;
    private int defaultMaxTokens = 256;
    private Set<String> allowedImageHosts = Set.of();
    private Duration imageFetchTimeout = Duration.ofSeconds(10);
    private boolean responseFormats = true;
    private Set<String> corsOrigins = Set.of();

    private Builder() {}

    /**
     * Sets the bind address.
     *
     * @param h address or host name to bind (default loopback)
     * @return this builder
     */
    public Builder host(String h) {
      this.host = h;
      return this;
    }

    /**
     * Sets the port.
     *
     * @param p TCP port, 0 = any free one
     * @return this builder
     */
    public Builder port(int p) {
      this.port = p;
      return this;
    }

    /**
     * Sets the served model id.
     *
     * @param id the id clients send as {@code model}
     * @return this builder
     */
    public Builder modelId(String id) {
      this.modelId = id;
      return this;
    }

    /**
     * Requires a bearer key.
     *
     * @param key the key clients send as {@code Authorization: Bearer <key>}; null = none
     * @return this builder
     */
    public Builder apiKey(String key) {
      this.apiKey = key;
      return this;
    }

    /**
     * Sets how many requests run at once.
     *
     * @param n requests running on the model at once
     * @return this builder
     */
    public Builder maxConcurrent(int n) {
      this.maxConcurrent = n;
      return this;
    }

    /**
     * Sets how many requests may wait.
     *
     * @param n requests waiting for a slot; more get 429
     * @return this builder
     */
    public Builder maxQueue(int n) {
      this.maxQueue = n;
      return this;
    }

    /**
     * Sets the per-request timeout.
     *
     * @param d longest wait plus run time of one request
     * @return this builder
     */
    public Builder requestTimeout(Duration d) {
      this.requestTimeout = d;
      return this;
    }

    /**
     * Sets the shutdown drain bound.
     *
     * @param d how long {@code close()} waits for running requests before cancelling them
     * @return this builder
     */
    public Builder drainTimeout(Duration d) {
      this.drainTimeout = d;
      return this;
    }

    /**
     * Sets the body limit.
     *
     * @param bytes largest request body
     * @return this builder
     */
    public Builder maxBodyBytes(long bytes) {
      this.maxBodyBytes = bytes;
      return this;
    }

    /**
     * Sets the image count limit.
     *
     * @param n most images per request
     * @return this builder
     */
    public Builder maxImages(int n) {
      this.maxImages = n;
      return this;
    }

    /**
     * Sets the encoded image size limit.
     *
     * @param bytes largest encoded image
     * @return this builder
     */
    public Builder maxImageBytes(long bytes) {
      this.maxImageBytes = bytes;
      return this;
    }

    /**
     * Sets the default new-token limit.
     *
     * @param n new tokens when the request sets no limit
     * @return this builder
     */
    public Builder defaultMaxTokens(int n) {
      this.defaultMaxTokens = n;
      return this;
    }

    /**
     * Allows remote images from these hosts.
     *
     * @param hosts host names (exact, case-insensitive) whose {@code http(s)} URLs are fetched
     * @return this builder
     */
    public Builder allowedImageHosts(Set<String> hosts) {
      this.allowedImageHosts = hosts;
      return this;
    }

    /**
     * Sets the remote image fetch timeout.
     *
     * @param d connect plus read timeout of one fetch
     * @return this builder
     */
    public Builder imageFetchTimeout(Duration d) {
      this.imageFetchTimeout = d;
      return this;
    }

    /**
     * Accepts or refuses {@code response_format} constraints.
     *
     * @param accept whether requests may send {@code json_object} / {@code json_schema} (default true)
     * @return this builder
     */
    public Builder responseFormats(boolean accept) {
      this.responseFormats = accept;
      return this;
    }

    /**
     * Sets the browser origins allowed to call the server (CORS: preflight answered, {@code
     * Access-Control-Allow-Origin} sent to them). The API key is still required; a web page that
     * holds it shows it to its users, so prefer a proxy for public pages.
     *
     * @param origins {@code scheme://host[:port]} each, or {@code *} for any origin (default none)
     * @return this builder
     */
    public Builder corsOrigins(Set<String> origins) {
      this.corsOrigins = origins;
      return this;
    }

    /**
     * Builds the options.
     *
     * @return the validated options
     * @throws IllegalArgumentException naming an option out of range
     */
    public ServerOptions build() {
      return new ServerOptions(host, port, modelId, Optional.ofNullable(apiKey), maxConcurrent, maxQueue,
          requestTimeout, drainTimeout, maxBodyBytes, maxImages, maxImageBytes, defaultMaxTokens, allowedImageHosts,
          imageFetchTimeout, responseFormats, corsOrigins);
    }
  }
}
