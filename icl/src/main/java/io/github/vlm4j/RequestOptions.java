package io.github.vlm4j;

import java.util.Optional;

/**
 * Per-request choices that are not about text generation itself.
 *
 * @param imageSplitting override the model's image splitting (Idefics3 tiling); empty = the model's
 *     {@code preprocessor_config.json}
 * @param adapter name of a registered cross-modal adapter to use instead of the default projector;
 *     empty = the default projector
 */
public record RequestOptions(Optional<Boolean> imageSplitting, Optional<String> adapter) {
  /** The model's defaults. */
  public static final RequestOptions DEFAULT = new RequestOptions(Optional.empty(), Optional.empty());

  /** @param split split images into tiles or not @return a copy with the override */
  public RequestOptions withImageSplitting(boolean split) {
    return new RequestOptions(Optional.of(split), adapter);
  }

  /** @param name adapter name @return a copy using that adapter */
  public RequestOptions withAdapter(String name) {
    return new RequestOptions(imageSplitting, Optional.of(name));
  }
}
