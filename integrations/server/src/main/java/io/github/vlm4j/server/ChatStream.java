package io.github.vlm4j.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.vlm4j.decoder.generation.TokenStreamer;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Writes a streamed chat completion as server-sent events in OpenAI's {@code chat.completion.chunk}
 * format. The response starts (status 200, headers, the role chunk) only when the first token
 * arrives, so errors found before it (bad images, prompts too long) still get their own status. A
 * write that fails means the client went away: the generation is cancelled through {@code onGone}.
 * Not thread-safe: used on the request's thread.
 */
final class ChatStream implements TokenStreamer {
  private final HttpServletResponse res;
  private final Responses responses;
  private final boolean includeUsage;
  private final Runnable onGone;
  private final java.util.function.BooleanSupplier closeConnection;
  private final Hooks hooks;
  private OutputStream out;
  private boolean started;
  private boolean gone;

  ChatStream(HttpServletResponse res, Responses responses, boolean includeUsage,
      java.util.function.BooleanSupplier closeConnection, Runnable onGone, Hooks hooks) {
    this.res = res;
    this.closeConnection = closeConnection;
    this.responses = responses;
    this.includeUsage = includeUsage;
    this.onGone = onGone;
    this.hooks = hooks;
  }

  @Override
  public void onToken(int tokenId) {
    start();
  }

  @Override
  public void onText(String delta) {
    start();
    ObjectNode d = Json.WRITER.createObjectNode().put("content", delta);
    event(responses.chunk(d, null, includeUsage).toString());
  }

  /** @return whether the response has started (headers sent) */
  boolean started() {
    return started;
  }

  /** @return whether a write failed because the client went away */
  boolean gone() {
    return gone;
  }

  /** Sends the status, the headers and the first chunk (the assistant role), once. */
  void start() {
    if (started) {
      return;
    }
    started = true;
    res.setStatus(200);
    res.setContentType("text/event-stream");
    res.setCharacterEncoding("UTF-8");
    res.setHeader("Cache-Control", "no-cache");
    res.setHeader("X-Accel-Buffering", "no");
    if (closeConnection.getAsBoolean()) {
      res.setHeader("Connection", "close");
    }
    try {
      out = res.getOutputStream();
    } catch (IOException e) {
      markGone();
      return;
    }
    ObjectNode d = Json.WRITER.createObjectNode().put("role", "assistant").put("content", "");
    event(responses.chunk(d, null, includeUsage).toString());
  }

  /** Writes the last content chunk (finish reason), the usage chunk if asked, and {@code [DONE]}. */
  void finish(String finishReason, ObjectNode usage, ObjectNode vlm4j) {
    start();
    event(responses.chunk(Json.WRITER.createObjectNode(), finishReason, includeUsage).toString());
    if (includeUsage) {
      ObjectNode last = responses.chunkBase();
      last.putArray("choices");
      last.set("usage", usage);
      last.set("vlm4j", vlm4j);
      event(last.toString());
    }
    event("[DONE]");
  }

  /** Writes an error event and {@code [DONE]} (after the response has started). */
  void fail(ObjectNode errorBody) {
    event(errorBody.toString());
    event("[DONE]");
  }

  private void event(String data) {
    if (gone || out == null) {
      return;
    }
    try {
      out.write(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
    } catch (IOException e) {
      markGone();
      return;
    }
    hooks.chunkWritten();
  }

  private void markGone() {
    if (!gone) {
      gone = true;
      onGone.run();
    }
  }
}
