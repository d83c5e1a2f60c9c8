package io.github.vlm4j.decoder;

import java.util.Arrays;

/**
 * Rotary position ids of a stretch of prompt tokens, as a model family computes them from the
 * prompt's layout: one row per position axis ({@code axes} = 1 for 1-D RoPE, 3 for M-RoPE's temporal,
 * height and width ids), and the position the token after the stretch takes. A decoder state fed
 * these positions continues after them at {@code next}, {@code next + 1}, ... in every axis.
 *
 * <p>Immutable and thread-safe.
 *
 * @param axes position axes, >= 1
 * @param length number of tokens
 * @param ids {@code axes × length} ids, axis-major (copied)
 * @param next the position of the token that follows, in every axis
 */
public record PromptPositions(int axes, int length, long[] ids, long next) {
  /**
   * Copies the ids and checks the sizes.
   *
   * @param axes position axes, >= 1
   * @param length number of tokens, >= 0
   * @param ids {@code axes × length} ids, axis-major (copied)
   * @param next the position of the token that follows, in every axis
   * @throws IllegalArgumentException if the sizes disagree
   */
  public PromptPositions {
    if (axes < 1 || length < 0 || ids.length != (long) axes * length) {
      throw new IllegalArgumentException(ids.length + " position ids for " + axes + " axes of " + length + " tokens");
    }
    ids = ids.clone();
  }

  /**
   * Returns the position ids.
   *
   * @return a copy of the ids, axis-major
   */
  @Override
  public long[] ids() {
    return ids.clone();
  }

  /**
   * Returns one position id.
   *
   * @param axis the axis, {@code 0 <= axis < axes}
   * @param token the token index, {@code 0 <= token < length}
   * @return its position id in that axis
   */
  public long at(int axis, int token) {
    return ids[axis * length + token];
  }

  /**
   * Returns the positions of tokens {@code [from, to)}. The slice's {@link #next} is this one's for a
   * slice that ends where this ends, else one past the largest id of the slice (which is where the
   * token after a text token continues).
   *
   * @param from first token, inclusive
   * @param to last token, exclusive
   * @return the slice
   */
  public PromptPositions slice(int from, int to) {
    if (from < 0 || to > length || from > to) {
      throw new IndexOutOfBoundsException("slice [" + from + ", " + to + ") of " + length + " positions");
    }
    if (from == 0 && to == length) {
      return this;
    }
    long[] out = new long[axes * (to - from)];
    long max = Long.MIN_VALUE;
    for (int a = 0; a < axes; a++) {
      for (int i = from; i < to; i++) {
        long v = ids[a * length + i];
        out[a * (to - from) + i - from] = v;
        max = Math.max(max, v);
      }
    }
    return new PromptPositions(axes, to - from, out, to == length ? next : to == from ? next : max + 1);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PromptPositions p && p.axes == axes && p.length == length && p.next == next
        && Arrays.equals(p.ids, ids);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(ids) * 31 + Long.hashCode(next);
  }

  @Override
  public String toString() {
    return "PromptPositions[" + axes + " axes x " + length + ", next " + next + "]";
  }
}
