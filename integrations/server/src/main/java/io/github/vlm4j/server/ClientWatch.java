package io.github.vlm4j.server;

import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.io.AbstractEndPoint;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Notices a client closing its connection while the handler works without reading or writing
 * (waiting in the queue, prefilling, generating a non-streamed answer). Jetty reports a closed
 * connection only to a read or a write; once the request body has been read, this watch registers
 * read interest on the connection's endpoint and, when the connection becomes readable, reads at
 * most one byte: end of stream means the client is gone, and the listeners run (once, on a Jetty
 * pool thread).
 *
 * <p>A byte that does arrive belongs to a pipelined next request and cannot be given back to Jetty's
 * parser, so the watch stops and {@link #readAhead()} asks the response to close the connection
 * ({@code Connection: close}); HTTP/1.1 clients retry requests a closing connection did not answer.
 * HTTP clients of OpenAI-style APIs do not pipeline. A client that half-closes its connection after
 * sending the request (rare; {@code curl} and the OpenAI SDKs do not) counts as gone. On a
 * connection that is not Jetty's HTTP/1 endpoint, or whose read interest Jetty holds itself, the
 * watch does nothing.
 *
 * <p>{@link #close()} must be called before the handler returns (Jetty registers its own read
 * interest for the next request once the handler is done). Thread-safe.
 */
final class ClientWatch implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ClientWatch.class);
  /** Does nothing: for requests without a watchable connection. */
  static final ClientWatch NONE = new ClientWatch(null);

  private final AbstractEndPoint endPoint;
  private final AtomicBoolean done = new AtomicBoolean();
  /** Guards {@link #gone}, {@link #listeners} and the probe's registration against {@link #close()}. */
  private final Object lock = new Object();
  private boolean gone;
  private final List<Runnable> listeners = new ArrayList<>();
  private volatile boolean readAhead;
  private final Callback probe = new Callback() {
    @Override
    public void succeeded() {
      readable();
    }

    @Override
    public void failed(Throwable x) {
      if (!done.get()) {
        // idle timeout, or the connection failed: nobody is listening any more
        LOG.debug("client connection failed while its request ran: {}", x.toString());
        markGone();
      }
    }
  };

  private ClientWatch(AbstractEndPoint endPoint) {
    this.endPoint = endPoint;
  }

  /**
   * Starts watching the connection of {@code req}, whose body must have been read to its end.
   *
   * @param req the request
   * @return the watch (inert if the connection cannot be watched)
   */
  static ClientWatch start(HttpServletRequest req) {
    EndPoint ep;
    try {
      Request core = ServletContextRequest.getServletContextRequest(req);
      ep = core.getConnectionMetaData().getConnection().getEndPoint();
    } catch (RuntimeException e) {
      return NONE;
    }
    if (!(ep instanceof AbstractEndPoint aep)) {
      return NONE;
    }
    ClientWatch w = new ClientWatch(aep);
    if (!aep.tryFillInterested(w.probe)) {
      return NONE;
    }
    return w;
  }

  private void readable() {
    int n;
    synchronized (lock) {
      if (done.get()) {
        return;
      }
      try {
        n = endPoint.fill(BufferUtil.allocate(1));
      } catch (IOException e) {
        n = -1;
      }
      if (n == 0 && !endPoint.tryFillInterested(probe)) {
        LOG.debug("read interest taken by the connection itself; no longer watching");
      }
    }
    if (n < 0) {
      markGone();
    } else if (n > 0) {
      readAhead = true;
    }
  }

  private void markGone() {
    List<Runnable> run;
    synchronized (lock) {
      if (gone) {
        return;
      }
      gone = true;
      run = List.copyOf(listeners);
      listeners.clear();
    }
    for (Runnable r : run) {
      r.run();
    }
  }

  /**
   * Runs {@code r} once when the client goes away (at once, on this thread, if it is gone already).
   *
   * @param r the listener; must not block
   */
  void onGone(Runnable r) {
    synchronized (lock) {
      if (!gone) {
        listeners.add(r);
        return;
      }
    }
    r.run();
  }

  /** @return whether the client closed its connection */
  boolean gone() {
    synchronized (lock) {
      return gone;
    }
  }

  /** @return whether bytes of a next request were read here, so the response must close the connection */
  boolean readAhead() {
    return readAhead;
  }

  /** Stops watching and withdraws the read interest. Idempotent. */
  @Override
  public void close() {
    if (endPoint == null) {
      return;
    }
    synchronized (lock) {
      if (done.compareAndSet(false, true)) {
        endPoint.getFillInterest().onFail(new CancellationException("request finished"));
      }
    }
  }
}
