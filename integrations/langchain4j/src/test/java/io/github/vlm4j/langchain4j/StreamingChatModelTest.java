package io.github.vlm4j.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import io.github.vlm4j.core.VlmInputException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link Vlm4jStreamingChatModel}: partial responses concatenate to the complete response's text,
 * which equals the synchronous answer; every failure reaches {@code onError} exactly once; a
 * cancelled stream gets no further callback; close cancels and refuses.
 */
@Timeout(60)
class StreamingChatModelTest {
  static final Vlm4jStreamingChatModel STREAMING = Vlm4jStreamingChatModel.builder().model(TestModels.model())
      .modelId("tiny").maxTokens(24).streamingThreads(2).build();

  @AfterAll
  static void close() {
    STREAMING.close();
  }

  /** Records every callback of one request and the threads they ran on. */
  static class Collector implements StreamingChatResponseHandler {
    final List<String> partials = new ArrayList<>();
    final List<String> threads = new ArrayList<>();
    final CountDownLatch done = new CountDownLatch(1);
    volatile ChatResponse response;
    volatile Throwable error;
    volatile int ends;

    static Collector run(Vlm4jStreamingChatModel model, ChatRequest request) throws InterruptedException {
      Collector c = new Collector();
      model.chat(request, c);
      assertTrue(c.done.await(30, TimeUnit.SECONDS), "no onCompleteResponse or onError within 30 s");
      return c;
    }

    @Override
    public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
      partials.add(partial.text());
      threads.add(Thread.currentThread().getName());
    }

    @Override
    public void onCompleteResponse(ChatResponse r) {
      response = r;
      threads.add(Thread.currentThread().getName());
      ends++;
      done.countDown();
    }

    @Override
    public void onError(Throwable t) {
      error = t;
      ends++;
      done.countDown();
    }

    Throwable error() {
      assertNull(response, "expected onError only");
      assertEquals(1, ends);
      return error;
    }
  }

  static ChatRequest imageRequest(byte[] png) {
    return ChatRequest.builder().messages(ChatModelTest.imageQuestion(ImageContent.from(TestModels.base64(png),
        "image/png"))).build();
  }

  @Test
  void partialsConcatenateToTheCompleteTextWhichEqualsTheSyncAnswer() throws Exception {
    Collector c = Collector.run(STREAMING, imageRequest(ChatModelTest.PNG));
    assertNull(c.error, String.valueOf(c.error));
    assertEquals(1, c.ends);
    ChatResponse sync = ChatModelTest.CHAT.chat(imageRequest(ChatModelTest.PNG));
    assertEquals(sync.aiMessage().text(), c.response.aiMessage().text());
    assertEquals(String.join("", c.partials), c.response.aiMessage().text());
    assertTrue(c.partials.size() >= 3, c.partials.toString());
    assertEquals(sync.tokenUsage(), c.response.tokenUsage());
    assertEquals(sync.finishReason(), c.response.finishReason());
    assertEquals("tiny", c.response.modelName());
    assertTrue(c.threads.stream().allMatch(t -> t.equals(c.threads.get(0))), c.threads.toString());
    assertTrue(c.threads.get(0).startsWith("vlm4j-langchain4j-stream-"), c.threads.get(0));
  }

  @Test
  void libraryErrorsAndHandlerExceptionsReachOnError() throws Exception {
    Throwable t = Collector.run(STREAMING, imageRequest(Arrays.copyOf(ChatModelTest.PNG, 60))).error();
    InvalidRequestException e = assertInstanceOf(InvalidRequestException.class, t);
    assertTrue(((VlmInputException) e.getCause()).reason().name().startsWith("IMAGE_"), e.getMessage());

    IllegalStateException boom = new IllegalStateException("handler failed");
    Collector throwing = new Collector() {
      @Override
      public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
        throw boom;
      }
    };
    STREAMING.chat(imageRequest(ChatModelTest.PNG), throwing);
    assertTrue(throwing.done.await(30, TimeUnit.SECONDS));
    assertSame(boom, throwing.error());

    Collector completeThrows = new Collector() {
      @Override
      public void onCompleteResponse(ChatResponse r) {
        super.onCompleteResponse(r);
        throw boom;
      }
    };
    STREAMING.chat(ChatRequest.builder().messages(UserMessage.from("hi")).maxOutputTokens(2).build(), completeThrows);
    assertTrue(completeThrows.done.await(30, TimeUnit.SECONDS));
    for (int i = 0; i < 100 && completeThrows.ends < 2; i++) {
      Thread.sleep(10);
    }
    assertSame(boom, completeThrows.error, "onError after a throwing onCompleteResponse");

    // the streaming threads survive all of that
    Collector after = Collector.run(STREAMING, imageRequest(ChatModelTest.PNG));
    assertEquals(ChatModelTest.CHAT.chat(imageRequest(ChatModelTest.PNG)).aiMessage().text(),
        after.response.aiMessage().text());
  }

  @Test
  void cancellingThroughTheHandleStopsTheStreamWithoutFurtherCallbacks() throws Exception {
    CountDownLatch cancelled = new CountDownLatch(1);
    Collector c = new Collector() {
      @Override
      public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
        super.onPartialResponse(partial, context);
        context.streamingHandle().cancel();
        assertTrue(context.streamingHandle().isCancelled());
        cancelled.countDown();
      }
    };
    STREAMING.chat(ChatRequest.builder().messages(UserMessage.from("Tell me about red squares."))
        .maxOutputTokens(200).build(), c);
    assertTrue(cancelled.await(30, TimeUnit.SECONDS));
    // a later request on the same threads is served, and the cancelled one never completed nor failed
    Collector next = Collector.run(STREAMING, imageRequest(ChatModelTest.PNG));
    assertFalse(next.response.aiMessage().text().isEmpty());
    Collector more = Collector.run(STREAMING, imageRequest(ChatModelTest.PNG));
    assertFalse(more.response.aiMessage().text().isEmpty());
    for (int i = 0; i < 3000 && STREAMING.pending() > 0; i++) {
      Thread.sleep(5);
    }
    assertEquals(0, STREAMING.pending());
    assertEquals(0, c.ends);
    assertTrue(c.partials.size() <= 2, c.partials.toString());
  }

  @Test
  void closeCancelsRunningRequestsAndRefusesNewOnes() throws Exception {
    Vlm4jStreamingChatModel own = Vlm4jStreamingChatModel.builder().model(TestModels.model()).streamingThreads(1).build();
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Collector running = new Collector() {
      @Override
      public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
        super.onPartialResponse(partial, context);
        started.countDown();
        try {
          release.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    };
    own.chat(ChatRequest.builder().messages(UserMessage.from("Tell me about red squares.")).maxOutputTokens(200)
        .build(), running);
    Collector waiting = new Collector();
    own.chat(ChatRequest.builder().messages(UserMessage.from("hi")).build(), waiting);
    assertTrue(started.await(30, TimeUnit.SECONDS));
    Thread closer = new Thread(own::close);
    closer.start();
    for (int i = 0; i < 3000 && closer.getState() != Thread.State.TIMED_WAITING; i++) {
      Thread.sleep(5); // until close() has cancelled and waits for the streaming thread
    }
    assertEquals(Thread.State.TIMED_WAITING, closer.getState());
    release.countDown();
    closer.join(30_000);
    assertFalse(closer.isAlive());
    assertInstanceOf(CancellationException.class, running.error());
    assertInstanceOf(CancellationException.class, waiting.error());
    Collector refused = new Collector();
    own.chat(ChatRequest.builder().messages(UserMessage.from("hi")).build(), refused);
    assertTrue(refused.error().getMessage().contains("closed"));
    // the model was not owned: it still serves
    assertFalse(ChatModelTest.CHAT.chat(UserMessage.from("hi")).aiMessage().text().isEmpty());
  }
}
