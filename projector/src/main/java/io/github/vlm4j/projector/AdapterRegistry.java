package io.github.vlm4j.projector;

import io.github.vlm4j.core.VlmInputException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The cross-modal adapters a model offers, changeable while the model serves requests. A request
 * {@link #acquire acquires} its adapter for its whole duration; {@link #unregister} removes an
 * adapter at once for new requests and closes it when the last request using it releases it, so
 * nothing is closed under a running graph and no other request waits.
 *
 * <p>Thread-safe. Owns the registered adapters.
 */
public final class AdapterRegistry implements AutoCloseable {
  private final Map<String, Entry> entries = new ConcurrentHashMap<>();

  /** A registered adapter with its users count. */
  private static final class Entry {
    final ImageProjector projector;
    final AdapterInfo info;
    int users;
    boolean removed;

    Entry(ImageProjector projector, AdapterInfo info) {
      this.projector = projector;
      this.info = info;
    }
  }

  /** A use of an adapter by one request; close it when the request ends. */
  public final class Lease implements AutoCloseable {
    private final Entry entry;
    private boolean released;

    private Lease(Entry entry) {
      this.entry = entry;
    }

    /**
     * Returns the leased adapter.
     *
     * @return the adapter
     */
    public ImageProjector projector() {
      return entry.projector;
    }

    /**
     * Returns the leased adapter's description.
     *
     * @return its description
     */
    public AdapterInfo info() {
      return entry.info;
    }

    @Override
    public void close() {
      boolean closeNow;
      synchronized (entry) {
        if (released) {
          return;
        }
        released = true;
        entry.users--;
        closeNow = entry.removed && entry.users == 0;
      }
      if (closeNow) {
        closeQuietly(entry.projector);
      }
    }
  }

  /** Creates an empty registry. */
  public AdapterRegistry() {}

  /**
   * Adds an adapter.
   *
   * @param projector the loaded adapter (ownership passes to the registry)
   * @param info its description
   * @throws IllegalArgumentException if the name is taken (the projector is then closed)
   */
  public void register(ImageProjector projector, AdapterInfo info) {
    Entry e = new Entry(projector, info);
    if (entries.putIfAbsent(info.name(), e) != null) {
      closeQuietly(projector);
      throw new IllegalArgumentException("an adapter named '" + info.name() + "' is already registered; unregister it first");
    }
  }

  /**
   * Removes an adapter for new requests; requests already using it finish with it, then it is closed.
   *
   * @param name the adapter
   * @return whether it was registered
   */
  public boolean unregister(String name) {
    Entry e = entries.remove(name);
    if (e == null) {
      return false;
    }
    boolean closeNow;
    synchronized (e) {
      e.removed = true;
      closeNow = e.users == 0;
    }
    if (closeNow) {
      closeQuietly(e.projector);
    }
    return true;
  }

  /**
   * Leases an adapter for one request.
   *
   * @param name the adapter a request wants
   * @return a lease the request closes when done
   * @throws VlmInputException UNKNOWN_ADAPTER listing the registered names
   */
  public Lease acquire(String name) {
    Entry e = entries.get(name);
    if (e != null) {
      synchronized (e) {
        if (!e.removed) {
          e.users++;
          return new Lease(e);
        }
      }
    }
    throw new VlmInputException(VlmInputException.Reason.UNKNOWN_ADAPTER,
        "no adapter '" + name + "'; this model has " + (entries.isEmpty() ? "none" : names()));
  }

  /**
   * Returns the names of the registered adapters.
   *
   * @return registered adapter names, sorted
   */
  public List<String> names() {
    return entries.keySet().stream().sorted().toList();
  }

  /**
   * Describes the registered adapters.
   *
   * @return descriptions of the registered adapters, sorted by name
   */
  public List<AdapterInfo> infos() {
    List<AdapterInfo> out = new ArrayList<>();
    entries.values().forEach(e -> out.add(e.info));
    out.sort(Comparator.comparing(AdapterInfo::name));
    return out;
  }

  private static void closeQuietly(ImageProjector p) {
    if (p instanceof AutoCloseable c) {
      try {
        c.close();
      } catch (Exception ignored) {
        // nothing to do: the graph is gone either way
      }
    }
  }

  /** Closes every adapter (call only when no request runs). */
  @Override
  public void close() {
    for (String name : new ArrayList<>(entries.keySet())) {
      unregister(name);
    }
  }
}
