package io.github.vlm4j.vision;

import io.github.vlm4j.core.VlmInputException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Vision-encoder outputs by image content: a repeated image (a few-shot demo, the same picture in
 * several questions) skips the vision graph. Keys combine the SHA-256 of the decoded pixels with
 * the preprocessing choice, so different images never collide whatever the text around them.
 * Bounded by bytes, least recently used first out.
 *
 * <p>Thread-safe. Values are shared: callers must not modify the returned arrays.
 */
public final class ImageFeatureCache {
  private final long capacityBytes;
  private final LinkedHashMap<String, ImageFeatures> map = new LinkedHashMap<>(16, 0.75f, true);
  private long bytes;
  private long hits;
  private long misses;

  /**
   * Creates an empty cache.
   *
   * @param capacityBytes largest total size of cached features; 0 disables caching
   */
  public ImageFeatureCache(long capacityBytes) {
    if (capacityBytes < 0) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "capacityBytes must be >= 0, got " + capacityBytes);
    }
    this.capacityBytes = capacityBytes;
  }

  /**
   * Computes the cache key of an image and a preprocessing choice.
   *
   * @param image the decoded image
   * @param variant the preprocessing choice (e.g. "split" / "nosplit")
   * @return the cache key
   */
  public static String key(RgbImage image, String variant) {
    return image.contentHash() + "/" + variant;
  }

  /**
   * Returns the cached features or computes and caches them. Concurrent misses of the same key may
   * both compute (results are identical); the graph run is not done under the cache's lock.
   *
   * @param key from {@link #key}
   * @param compute runs the vision encoder
   * @return the features
   */
  public ImageFeatures get(String key, Supplier<ImageFeatures> compute) {
    Objects.requireNonNull(key, "key");
    if (capacityBytes > 0) {
      synchronized (this) {
        ImageFeatures f = map.get(key);
        if (f != null) {
          hits++;
          return f;
        }
        misses++;
      }
    }
    ImageFeatures f = compute.get();
    long size = 4L * f.values();
    if (capacityBytes > 0 && size <= capacityBytes) {
      synchronized (this) {
        ImageFeatures prev = map.put(key, f);
        if (prev != null) {
          bytes -= 4L * prev.values();
        }
        bytes += size;
        var it = map.entrySet().iterator();
        while (bytes > capacityBytes && it.hasNext()) {
          Map.Entry<String, ImageFeatures> e = it.next();
          bytes -= 4L * e.getValue().values();
          it.remove();
        }
      }
    }
    return f;
  }

  /**
   * Tells whether features for a key are cached.
   *
   * @param key from {@link #key}
   * @return whether features for the key are cached now (no recency update, no counting)
   */
  public synchronized boolean contains(String key) {
    return map.containsKey(key);
  }

  /**
   * Tells whether caching is enabled.
   *
   * @return whether the cache keeps anything (capacity above 0)
   */
  public boolean enabled() {
    return capacityBytes > 0;
  }

  /**
   * Returns the size of the cached features.
   *
   * @return bytes held
   */
  public synchronized long bytes() {
    return bytes;
  }

  /**
   * Returns the number of cached entries.
   *
   * @return entries held
   */
  public synchronized int size() {
    return map.size();
  }

  /**
   * Returns the number of cache hits.
   *
   * @return lookups answered from the cache
   */
  public synchronized long hits() {
    return hits;
  }

  /**
   * Returns the number of cache misses.
   *
   * @return lookups that ran the vision encoder
   */
  public synchronized long misses() {
    return misses;
  }

  /** Drops every entry. */
  public synchronized void clear() {
    map.clear();
    bytes = 0;
  }
}
