package io.github.vlm4j.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.vlm4j.core.StageTimings;
import io.github.vlm4j.core.Usage;
import io.github.vlm4j.decoder.generation.ConstraintStatus;
import io.github.vlm4j.decoder.generation.FinishReason;
import io.github.vlm4j.decoder.generation.GenerationResult;

/** Builds the JSON of one chat completion (or its chunks): one id and creation time per request. */
final class Responses {
  private final String id;
  private final long created;
  private final String model;

  Responses(String id, long created, String model) {
    this.id = id;
    this.created = created;
    this.model = model;
  }

  /** OpenAI's finish reason: {@code stop} for EOS and stop strings, {@code length} for the token limit. */
  static String finishReason(FinishReason r) {
    return switch (r) {
      case EOS, STOP_STRING -> "stop";
      case LENGTH -> "length";
      case CANCELLED -> "cancelled";
    };
  }

  ObjectNode completion(GenerationResult r) {
    ObjectNode o = Json.WRITER.createObjectNode();
    o.put("id", id).put("object", "chat.completion").put("created", created).put("model", model);
    ObjectNode choice = o.putArray("choices").addObject();
    choice.put("index", 0);
    choice.putObject("message").put("role", "assistant").put("content", r.text()).putNull("refusal");
    choice.putNull("logprobs");
    choice.put("finish_reason", finishReason(r.finishReason()));
    o.set("usage", usage(r.usage()));
    o.set("vlm4j", extension(r.usage(), r.finishReason(), r.constraint()));
    return o;
  }

  ObjectNode chunkBase() {
    ObjectNode o = Json.WRITER.createObjectNode();
    o.put("id", id).put("object", "chat.completion.chunk").put("created", created).put("model", model);
    return o;
  }

  ObjectNode chunk(ObjectNode delta, String finishReason, boolean includeUsage) {
    ObjectNode o = chunkBase();
    ObjectNode choice = o.putArray("choices").addObject();
    choice.put("index", 0);
    choice.set("delta", delta);
    choice.putNull("logprobs");
    if (finishReason == null) {
      choice.putNull("finish_reason");
    } else {
      choice.put("finish_reason", finishReason);
    }
    if (includeUsage) {
      o.putNull("usage");
    }
    return o;
  }

  static ObjectNode usage(Usage u) {
    ObjectNode o = Json.WRITER.createObjectNode();
    o.put("prompt_tokens", u.promptTokens()).put("completion_tokens", u.generatedTokens())
        .put("total_tokens", u.promptTokens() + u.generatedTokens());
    return o;
  }

  /**
   * The {@code vlm4j} extension object: the library's own finish reason, constraint status, image tokens,
   * what the context policy dropped, timings.
   */
  static ObjectNode extension(Usage u, FinishReason reason, ConstraintStatus constraint) {
    ObjectNode o = Json.WRITER.createObjectNode();
    if (reason != null) {
      o.put("finish_reason", reason.name());
    }
    if (constraint != null) {
      o.put("constraint", constraint.name());
    }
    o.put("image_tokens", u.imageTokens());
    o.putObject("dropped").put("tokens", u.dropped().tokens()).put("turns", u.dropped().turns())
        .put("images", u.dropped().images());
    o.set("timings_ms", timings(u.timings()));
    return o;
  }

  static ObjectNode timings(StageTimings t) {
    ObjectNode o = Json.WRITER.createObjectNode();
    o.put("preprocess", t.preprocessMs()).put("vision", t.visionMs()).put("prefill", t.prefillMs())
        .put("time_to_first_token", t.timeToFirstTokenMs()).put("decode", t.decodeMs())
        .put("decode_steps", t.decodeStepMs().length).put("total", t.totalMs());
    return o;
  }

  /** @return the OpenAI-shaped error body of {@code e} */
  static ObjectNode error(ApiError e) {
    ObjectNode o = Json.WRITER.createObjectNode();
    ObjectNode err = o.putObject("error");
    err.put("message", e.getMessage()).put("type", e.type());
    if (e.param() == null) {
      err.putNull("param");
    } else {
      err.put("param", e.param());
    }
    if (e.code() == null) {
      err.putNull("code");
    } else {
      err.put("code", e.code());
    }
    return o;
  }
}
