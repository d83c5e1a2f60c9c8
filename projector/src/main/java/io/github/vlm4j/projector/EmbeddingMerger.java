package io.github.vlm4j.projector;

import io.github.vlm4j.core.InferenceException;
import java.nio.FloatBuffer;
import io.github.vlm4j.vision.ImageFeatures;
import java.util.List;

/**
 * Writes image embeddings into the rows of the prompt's token embeddings that hold image tokens, in
 * order (transformers.js {@code default_merge_input_ids_with_image_features}). Refuses any count
 * mismatch, per image, before anything reaches the decoder.
 */
public final class EmbeddingMerger {
  private EmbeddingMerger() {}

  /**
   * Writes the prompt's embeddings, with image embeddings in place of the image tokens.
   *
   * @param tokenEmbeds {@code ids.length * width} token embeddings (from {@code embed_tokens})
   * @param ids the prompt's token ids
   * @param imageTokenId id of the image token
   * @param images embeddings of each image, in prompt order
   * @param tokensPerImage image tokens of each image in the prompt
   * @param width hidden size
   * @param out destination, receives {@code ids.length * width} floats from its position
   * @throws InferenceException if an image's rows differ from its tokens, or the totals differ
   */
  public static void merge(float[] tokenEmbeds, int[] ids, int imageTokenId, List<ImageEmbeddings> images,
      int[] tokensPerImage, int width, FloatBuffer out) {
    if (images.size() != tokensPerImage.length) {
      throw new InferenceException(images.size() + " images were encoded but the prompt has " + tokensPerImage.length);
    }
    for (int i = 0; i < images.size(); i++) {
      ImageEmbeddings e = images.get(i);
      if (e.width() != width) {
        throw new InferenceException("image " + i + " embeddings have width " + e.width() + ", the decoder " + width);
      }
      if (e.rows() != tokensPerImage[i]) {
        throw new InferenceException("image " + i + " has " + tokensPerImage[i] + " image tokens in the prompt but "
            + e.rows() + " feature rows; the image-token count of the processor config and the vision graph disagree");
      }
    }
    int img = 0;
    int row = 0;
    for (int t = 0; t < ids.length; t++) {
      if (ids[t] == imageTokenId) {
        while (img < images.size() && row == images.get(img).rows()) {
          img++;
          row = 0;
        }
        if (img == images.size()) {
          throw new InferenceException("the prompt has more image tokens than feature rows");
        }
        out.put(images.get(img).data(), row * width, width);
        row++;
      } else {
        out.put(tokenEmbeds, t * width, width);
      }
    }
    while (img < images.size() && row == images.get(img).rows()) {
      img++;
      row = 0;
    }
    if (img != images.size()) {
      throw new InferenceException("feature rows of image " + img + " were not all placed: the prompt has fewer image tokens");
    }
  }

  /**
   * Scatters the images' injected features ({@link ImageFeatures#injected()}, e.g. Qwen3-VL's
   * DeepStack) onto the image-token positions of {@code ids}; text positions stay zero.
   *
   * @param ids the token ids fed (a prompt, or the part of it after a cached prefix)
   * @param imageTokenId the id image tokens carry
   * @param images the features of the images whose tokens are in {@code ids}, in order
   * @param layers the injected layers the decoder takes, >= 1
   * @param width the decoder's hidden size
   * @return {@code layers × ids.length × width} values, layer-major
   * @throws InferenceException if an image has no or other injected layers, or the tokens and rows
   *     disagree
   */
  public static float[] scatterInjected(int[] ids, int imageTokenId, List<ImageFeatures> images, int layers,
      int width) {
    float[] out = new float[Math.multiplyExact(Math.multiplyExact(layers, ids.length), width)];
    int img = 0;
    int row = 0;
    for (int t = 0; t < ids.length; t++) {
      if (ids[t] != imageTokenId) {
        continue;
      }
      while (img < images.size() && row == images.get(img).rows()) {
        img++;
        row = 0;
      }
      if (img == images.size()) {
        throw new InferenceException("the prompt has more image tokens than feature rows");
      }
      ImageFeatures f = images.get(img);
      if (f.injectedLayers() != layers || f.width() != width) {
        throw new InferenceException("image " + img + " has " + f.injectedLayers() + " injected layers of width "
            + f.width() + " but the decoder takes " + layers + " of width " + width);
      }
      for (int l = 0; l < layers; l++) {
        System.arraycopy(f.injected(), (l * f.rows() + row) * width, out, (l * ids.length + t) * width, width);
      }
      row++;
    }
    return out;
  }
}
