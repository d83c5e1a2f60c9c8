package io.github.vlm4j.family;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/** Collects resources while loading; closes them in reverse order if loading fails. Not thread-safe. */
final class Closer implements AutoCloseable {
  private final Deque<AutoCloseable> items = new ArrayDeque<>();
  private boolean released;

  <T extends AutoCloseable> T add(T item) {
    items.push(item);
    return item;
  }

  /** Loading succeeded: hand the resources over; {@link #close()} becomes a no-op. */
  List<AutoCloseable> release() {
    released = true;
    return new ArrayList<>(items);
  }

  @Override
  public void close() {
    if (released) {
      return;
    }
    while (!items.isEmpty()) {
      try {
        items.pop().close();
      } catch (Exception e) {
        // keep closing the rest; the load failure is what the caller sees
      }
    }
  }
}
