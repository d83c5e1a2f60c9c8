package io.github.vlm4j.server;

import java.util.Objects;

/**
 * A request that fails with an OpenAI-shaped error body, {@code {"error":{"message","type","param","code"}}},
 * and an HTTP status. Thrown inside the server's handlers and answered at their boundary; never
 * carries a stack trace to the client.
 */
final class ApiError extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** OpenAI's error type for a request the client must change. */
  static final String INVALID_REQUEST = "invalid_request_error";
  /** OpenAI's error type for a missing or wrong key. */
  static final String AUTHENTICATION = "authentication_error";
  /** The error type of a full queue. */
  static final String RATE_LIMIT = "rate_limit_error";
  /** The error type of a failure on the server's side. */
  static final String SERVER = "server_error";
  /** The error type of a request cut by the per-request timeout. */
  static final String TIMEOUT = "timeout_error";
  /** The error type of a server that is shutting down or out of memory. */
  static final String UNAVAILABLE = "service_unavailable_error";

  private final int status;
  private final String type;
  private final String code;
  private final String param;
  private final long retryAfterSeconds;

  private ApiError(int status, String type, String code, String param, String message, long retryAfterSeconds) {
    super(Objects.requireNonNull(message, "message"), null, false, false);
    this.status = status;
    this.type = type;
    this.code = code;
    this.param = param;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  static ApiError of(int status, String type, String code, String param, String message) {
    return new ApiError(status, type, code, param, message, -1);
  }

  static ApiError badRequest(String code, String param, String message) {
    return of(400, INVALID_REQUEST, code, param, message);
  }

  static ApiError retryAfter(int status, String type, String code, String message, long seconds) {
    return new ApiError(status, type, code, null, message, seconds);
  }

  int status() {
    return status;
  }

  String type() {
    return type;
  }

  String code() {
    return code;
  }

  String param() {
    return param;
  }

  /** @return seconds for a {@code Retry-After} header, or -1 for none */
  long retryAfterSeconds() {
    return retryAfterSeconds;
  }
}
