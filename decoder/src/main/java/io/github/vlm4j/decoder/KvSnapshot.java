package io.github.vlm4j.decoder;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import java.util.Arrays;

/**
 * A read-only KV cache of a prompt prefix (e.g. few-shot demonstrations), shared by any number of
 * {@link DecoderState}s that continue from it, concurrently. Its tensors are fed to ONNX Runtime
 * as {@code past_key_values.*} without copying; the decoder graph only reads past tensors, so the
 * snapshot never changes.
 *
 * <p>Reference-counted: the creator holds one reference and releases it with {@link #close()};
 * every state started from the snapshot holds another until it no longer reads it. The native
 * memory is freed when the last reference is released. Thread-safe.
 */
public final class KvSnapshot implements AutoCloseable {
  private final OrtSession.Result result;
  private final CausalDecoder decoder;
  private final int length;
  private final long positionDelta;
  private final int[] ids;
  private final float[] lastLogits;
  private int refs = 1;
  private boolean closedByOwner;

  KvSnapshot(OrtSession.Result result, CausalDecoder decoder, int length, long positionDelta, int[] ids,
      float[] lastLogits) {
    this.result = result;
    this.decoder = decoder;
    this.length = length;
    this.positionDelta = positionDelta;
    this.ids = ids.clone();
    this.lastLogits = lastLogits.clone();
  }

  /**
   * Returns the length of the prefix.
   *
   * @return positions in the snapshot
   */
  public int length() {
    return length;
  }

  /**
   * Returns how far the next position id is from the cache length.
   *
   * @return {@code next position id - length()}: 0 for 1-D positions, the rope delta for M-RoPE
   *     prompts with images (whose image tokens share position ids)
   */
  public long positionDelta() {
    return positionDelta;
  }

  /**
   * Returns the prefix's token ids.
   *
   * @return the token ids of the prefix (image tokens included)
   */
  public int[] ids() {
    return ids.clone();
  }

  /**
   * Returns the logits after the prefix.
   *
   * @return the logits after the prefix's last position (a copy)
   */
  public float[] lastLogits() {
    return lastLogits.clone();
  }

  /**
   * Returns the decoder that made this snapshot.
   *
   * @return the decoder the snapshot belongs to
   */
  public CausalDecoder decoder() {
    return decoder;
  }

  /**
   * Returns the size of the cached keys and values.
   *
   * @return approximate native bytes of the cached keys and values
   */
  public long kvBytes() {
    return decoder.config().kvBytesPerToken(decoder.kvType() == ai.onnxruntime.OnnxJavaType.FLOAT16 ? 2 : 4) * length;
  }

  synchronized OnnxTensor past(int i) {
    if (refs <= 0) {
      throw new IllegalStateException("the KV snapshot is closed");
    }
    return (OnnxTensor) result.get(decoder.presentName(i)).orElseThrow();
  }

  synchronized void retain() {
    if (refs <= 0) {
      throw new IllegalStateException("the KV snapshot is closed");
    }
    refs++;
  }

  synchronized void release() {
    if (refs > 0 && --refs == 0) {
      result.close();
    }
  }

  /** Releases the creator's reference. Idempotent. */
  @Override
  public synchronized void close() {
    if (!closedByOwner) {
      closedByOwner = true;
      release();
    }
  }

  @Override
  public String toString() {
    return "KvSnapshot[" + length + " positions, ids " + Arrays.toString(Arrays.copyOf(ids, Math.min(8, ids.length)))
        + (ids.length > 8 ? "...]" : "]");
  }
}
