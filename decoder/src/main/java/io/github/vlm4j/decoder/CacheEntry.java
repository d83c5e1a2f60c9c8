package io.github.vlm4j.decoder;

import java.util.Arrays;

/**
 * One cache tensor the decoder graph takes as {@code past} and returns as {@code present}: a
 * layer's keys or values ({@code [batch, kv_heads, sequence, head_dim]}, growing by one position
 * per token) or a convolution layer's state ({@code [batch, channels, length]}, fixed size).
 *
 * @param past the graph input, e.g. {@code past_key_values.3.key} or {@code past_conv.0}
 * @param present the graph output fed back as {@code past} on the next run
 * @param growsWithSequence whether the tensor has a sequence axis (axis 2) that grows with the cache
 * @param startShape the shape of the state before the first position, for one row: {@code [1,
 *     kv_heads, 0, head_dim]} (no elements) or {@code [1, channels, length]} (zeros)
 */
record CacheEntry(String past, String present, boolean growsWithSequence, long[] startShape) {
  @Override
  public String toString() {
    return past + (growsWithSequence ? " (keys/values)" : " (state " + Arrays.toString(startShape) + ")");
  }
}
