package io.github.vlm4j.family;

import io.github.vlm4j.decoder.PromptPositions;
import io.github.vlm4j.vision.ImageLayout;
import java.util.List;
import java.util.function.Function;

/**
 * Qwen-VL's multimodal rotary positions (M-RoPE, HuggingFace's {@code get_rope_index} for images):
 * three axes (temporal, height, width). A text token advances all three by one. The tokens of an
 * image whose merged grid is {@code t × h × w} take {@code start + (ti, hi, wi)} in row-major order,
 * and the token after the image continues at {@code start + max(t, h, w)}. Decoding continues at the
 * prompt's largest id plus one, so the decoder state's position runs ahead of (or behind) its cache
 * length by a constant, the "rope delta".
 *
 * <p>Immutable and thread-safe.
 */
public final class MultimodalRotaryPositions implements PositionScheme {
  private final Function<ImageLayout, int[]> grid;

  /**
   * Creates the scheme.
   *
   * @param grid an image's merged token grid {@code {t, h, w}} (as the decoder sees it: after the
   *     vision tower's spatial merge), whose product is the image's token count
   */
  public MultimodalRotaryPositions(Function<ImageLayout, int[]> grid) {
    this.grid = grid;
  }

  @Override
  public int axes() {
    return 3;
  }

  @Override
  public PromptPositions positions(int[] ids, int imageTokenId, List<ImageLayout> images) {
    int n = ids.length;
    long[] out = new long[3 * n];
    long cur = 0;
    int image = 0;
    int i = 0;
    while (i < n) {
      if (ids[i] != imageTokenId) {
        out[i] = cur;
        out[n + i] = cur;
        out[2 * n + i] = cur;
        cur++;
        i++;
        continue;
      }
      if (image >= images.size()) {
        throw new IllegalArgumentException("image tokens at position " + i + " but the prompt has only "
            + images.size() + " image(s)");
      }
      int[] g = grid.apply(images.get(image));
      int t = g[0];
      int h = g[1];
      int w = g[2];
      int count = Math.multiplyExact(Math.multiplyExact(t, h), w);
      if (i + count > n) {
        throw new IllegalArgumentException("image " + image + " needs " + count + " image tokens from position " + i
            + " but the prompt ends at " + n);
      }
      for (int ti = 0; ti < t; ti++) {
        for (int hi = 0; hi < h; hi++) {
          for (int wi = 0; wi < w; wi++) {
            int k = i + (ti * h + hi) * w + wi;
            if (ids[k] != imageTokenId) {
              throw new IllegalArgumentException("image " + image + " needs " + count + " consecutive image tokens"
                  + " from position " + i + "; position " + k + " holds token " + ids[k]);
            }
            out[k] = cur + ti;
            out[n + k] = cur + hi;
            out[2 * n + k] = cur + wi;
          }
        }
      }
      cur += Math.max(t, Math.max(h, w));
      i += count;
      image++;
    }
    if (image != images.size()) {
      throw new IllegalArgumentException("the prompt has image tokens for " + image + " image(s) but "
          + images.size() + " were given");
    }
    return new PromptPositions(3, n, out, cur);
  }

  @Override
  public String toString() {
    return "M-RoPE positions";
  }
}
