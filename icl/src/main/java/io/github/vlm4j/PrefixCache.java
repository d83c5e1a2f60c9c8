package io.github.vlm4j;

import io.github.vlm4j.decoder.DecoderState;
import io.github.vlm4j.decoder.KvSnapshot;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * KV snapshots of few-shot demo prefixes, keyed by everything that determines them (token ids, image
 * content, preprocessing, adapter). Bounded by the snapshots' KV bytes, least recently used first out.
 * The cache owns one reference of every snapshot it holds; states reading an evicted snapshot keep it
 * alive until they are done (see {@link KvSnapshot}).
 *
 * <p>Thread-safe.
 */
final class PrefixCache implements AutoCloseable {
  private final long capacityBytes;
  private final LinkedHashMap<String, KvSnapshot> map = new LinkedHashMap<>(16, 0.75f, true);
  private long bytes;
  private long hits;
  private long misses;
  private boolean closed;

  PrefixCache(long capacityBytes) {
    this.capacityBytes = capacityBytes;
  }

  boolean enabled() {
    return capacityBytes > 0;
  }

  /**
   * Starts {@code state} from the cached snapshot of {@code key}, if any. Done under the cache's lock
   * so that an eviction cannot free the snapshot before the state holds its own reference.
   *
   * @return the cached prefix length, or 0 on a miss
   */
  synchronized int startFrom(String key, DecoderState state) {
    KvSnapshot s = closed ? null : map.get(key);
    if (s == null) {
      misses++;
      return 0;
    }
    hits++;
    state.startFrom(s);
    return s.length();
  }

  /** Takes ownership of {@code snapshot}'s creator reference (closing it if it cannot be kept). */
  synchronized void put(String key, KvSnapshot snapshot) {
    long size = snapshot.kvBytes();
    if (closed || size > capacityBytes || map.containsKey(key)) {
      snapshot.close();
      return;
    }
    map.put(key, snapshot);
    bytes += size;
    Iterator<Map.Entry<String, KvSnapshot>> it = map.entrySet().iterator();
    while (bytes > capacityBytes && it.hasNext()) {
      KvSnapshot old = it.next().getValue();
      it.remove();
      bytes -= old.kvBytes();
      old.close();
    }
  }

  synchronized long hits() {
    return hits;
  }

  synchronized long misses() {
    return misses;
  }

  synchronized long bytes() {
    return bytes;
  }

  synchronized int size() {
    return map.size();
  }

  synchronized void clear() {
    map.values().forEach(KvSnapshot::close);
    map.clear();
    bytes = 0;
  }

  @Override
  public synchronized void close() {
    clear();
    closed = true;
  }
}
