package io.github.vlm4j.family;

import io.github.vlm4j.decoder.PromptPositions;
import io.github.vlm4j.vision.ImageLayout;
import java.util.List;

/**
 * How a family numbers the positions of a prompt for its decoder's rotary embedding. Most families
 * count tokens ({@link #SEQUENTIAL}: the decoder state numbers them itself); multimodal rotary
 * schemes such as Qwen-VL's M-RoPE give an image's tokens temporal, row and column ids and carry an
 * offset into decoding. Implementations are immutable and thread-safe.
 */
public interface PositionScheme {
  /** Positions {@code 0, 1, 2, ...}: the decoder state counts them (no ids are computed). */
  PositionScheme SEQUENTIAL = new PositionScheme() {
    @Override
    public int axes() {
      return 1;
    }

    @Override
    public PromptPositions positions(int[] ids, int imageTokenId, List<ImageLayout> images) {
      return null;
    }

    @Override
    public String toString() {
      return "sequential positions";
    }
  };

  /**
   * Positions {@code first, first + 1, ...}: 1-D positions that do not start at 0, as
   * transformers.js numbers Gemma 3's (and PaliGemma's) from 1. The offset carries into decoding.
   *
   * @param first the position of the prompt's first token, 0 to 1,024
   * @return the scheme ({@link #SEQUENTIAL} for 0)
   * @throws IllegalArgumentException if {@code first} is out of range
   */
  static PositionScheme startingAt(long first) {
    if (first < 0 || first > 1024) {
      throw new IllegalArgumentException("the first position must be in [0, 1024], got " + first);
    }
    if (first == 0) {
      return SEQUENTIAL;
    }
    return new PositionScheme() {
      @Override
      public int axes() {
        return 1;
      }

      @Override
      public PromptPositions positions(int[] ids, int imageTokenId, List<ImageLayout> images) {
        long[] p = new long[ids.length];
        for (int i = 0; i < p.length; i++) {
          p[i] = first + i;
        }
        return new PromptPositions(1, ids.length, p, first + ids.length);
      }

      @Override
      public String toString() {
        return "sequential positions from " + first;
      }
    };
  }

  /**
   * Returns the number of position axes.
   *
   * @return the position axes the decoder graph must take (1, or 3 for M-RoPE)
   */
  int axes();

  /**
   * Computes the positions of a whole prompt.
   *
   * @param ids the prompt's token ids, image tokens expanded
   * @param imageTokenId the id image tokens carry
   * @param images the prompt's images in order, as preprocessed
   * @return the positions, or null when they are {@code 0, 1, 2, ...}
   * @throws IllegalArgumentException if the image tokens do not match the images
   */
  PromptPositions positions(int[] ids, int imageTokenId, List<ImageLayout> images);
}
