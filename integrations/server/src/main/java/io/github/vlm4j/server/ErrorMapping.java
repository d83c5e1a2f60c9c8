package io.github.vlm4j.server;

import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.ModelClosedException;
import io.github.vlm4j.core.VlmInputException;
import java.util.Locale;
import java.util.concurrent.CancellationException;

/**
 * Maps what a request can throw to an OpenAI-shaped error: {@link VlmInputException} → 400 with a
 * {@code code} per {@link VlmInputException.Reason} (see {@link #code}), {@link ModelClosedException}
 * → 503, {@link InferenceException} and any other exception → 500, {@link OutOfMemoryError} → 503,
 * any other {@link Error} → 500. Messages of server-side failures name the class only: no stack
 * trace and no internal detail reaches the client.
 */
final class ErrorMapping {
  private ErrorMapping() {}

  /**
   * The {@code code} of a library input error: the reason in lower case, except {@code
   * PROMPT_TOO_LONG}, which is OpenAI's {@code context_length_exceeded}.
   *
   * @param reason the library's reason
   * @return the code
   */
  static String code(VlmInputException.Reason reason) {
    return reason == VlmInputException.Reason.PROMPT_TOO_LONG ? "context_length_exceeded"
        : reason.name().toLowerCase(Locale.ROOT);
  }

  static ApiError map(Throwable t) {
    if (t instanceof ApiError a) {
      return a;
    }
    if (t instanceof VlmInputException v) {
      return ApiError.badRequest(code(v.reason()), null, v.getMessage());
    }
    if (t instanceof ModelClosedException) {
      return ApiError.retryAfter(503, ApiError.UNAVAILABLE, "model_closed", "the model is shutting down", 5);
    }
    if (t instanceof CancellationException) {
      return ApiError.of(500, ApiError.SERVER, "cancelled", null, "the request was cancelled");
    }
    if (t instanceof InferenceException) {
      return ApiError.of(500, ApiError.SERVER, "inference_failed", null, "inference failed while running a graph");
    }
    if (t instanceof OutOfMemoryError) {
      return ApiError.retryAfter(503, ApiError.UNAVAILABLE, "out_of_memory", "the server ran out of memory for this"
          + " request; retry later or with fewer or smaller images", 5);
    }
    if (t instanceof IllegalArgumentException e) {
      return ApiError.badRequest("invalid_request", null, e.getMessage() == null ? "invalid request" : e.getMessage());
    }
    return ApiError.of(500, ApiError.SERVER, "internal_error", null, "internal server error ("
        + t.getClass().getSimpleName() + ")");
  }
}
