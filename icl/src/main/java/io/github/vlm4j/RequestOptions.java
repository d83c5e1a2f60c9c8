package io.github.vlm4j;

import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.vision.PixelBudget;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Per-request choices that are not about text generation itself. Immutable.
 *
 * @param imageSplitting override the model's image splitting (Idefics3 tiling); empty = the model's
 *     {@code preprocessor_config.json}
 * @param adapter name of a registered cross-modal adapter to use instead of the default projector;
 *     empty = the default projector
 * @param maxImageTokens refuse prompts whose images expand to more tokens than this; empty = no cap
 *     beyond the context window
 * @param contextPolicy what a chat that does not fit the context window does ({@link
 *     ContextPolicy#REFUSE} by default)
 * @param pixelBudget for dynamic-resolution models (Qwen-VL): the pixel bounds each image is resized
 *     into instead of the model's {@code min_pixels}/{@code max_pixels}, which bounds its image tokens;
 *     empty = the model's
 */
public record RequestOptions(Optional<Boolean> imageSplitting, Optional<String> adapter, OptionalInt maxImageTokens,
    ContextPolicy contextPolicy, Optional<PixelBudget> pixelBudget) {
  /** The model's defaults. */
  public static final RequestOptions DEFAULT = new RequestOptions(Optional.empty(), Optional.empty(), OptionalInt.empty());

  /**
   * Rejects a null context policy.
   *
   * @param imageSplitting override the model's image splitting; empty = the model's
   * @param adapter name of a registered cross-modal adapter; empty = the default projector
   * @param maxImageTokens cap on the prompt's image tokens; empty = no cap
   * @param contextPolicy what a chat that does not fit the context window does (non-null)
   * @param pixelBudget pixel bounds per image for dynamic-resolution models; empty = the model's
   */
  public RequestOptions {
    java.util.Objects.requireNonNull(contextPolicy, "contextPolicy");
    java.util.Objects.requireNonNull(pixelBudget, "pixelBudget");
  }

  /**
   * Options with the model's pixel bounds.
   *
   * @param imageSplitting override the model's image splitting; empty = the model's
   * @param adapter name of a registered cross-modal adapter; empty = the default projector
   * @param maxImageTokens cap on the prompt's image tokens; empty = no cap
   * @param contextPolicy what a chat that does not fit the context window does (non-null)
   */
  public RequestOptions(Optional<Boolean> imageSplitting, Optional<String> adapter, OptionalInt maxImageTokens,
      ContextPolicy contextPolicy) {
    this(imageSplitting, adapter, maxImageTokens, contextPolicy, Optional.empty());
  }

  /**
   * Options with the default context policy ({@link ContextPolicy#REFUSE}).
   *
   * @param imageSplitting override the model's image splitting; empty = the model's
   * @param adapter name of a registered cross-modal adapter; empty = the default projector
   * @param maxImageTokens cap on the prompt's image tokens; empty = no cap
   */
  public RequestOptions(Optional<Boolean> imageSplitting, Optional<String> adapter, OptionalInt maxImageTokens) {
    this(imageSplitting, adapter, maxImageTokens, ContextPolicy.REFUSE);
  }

  /**
   * Overrides the model's image splitting. Only models that split images (Idefics3/SmolVLM, LFM2-VL, see
   * {@link VisionLanguageModel#supportsImageSplitting()}) accept it; on others a request with it
   * fails with INVALID_OPTION instead of silently ignoring it.
   *
   * @param split split images into tiles or not
   * @return a copy with the override
   */
  public RequestOptions withImageSplitting(boolean split) {
    return new RequestOptions(Optional.of(split), adapter, maxImageTokens, contextPolicy, pixelBudget);
  }

  /**
   * Selects a cross-modal adapter.
   *
   * @param name adapter name (non-null; checked against the model's adapters when a request runs)
   * @return a copy using that adapter
   */
  public RequestOptions withAdapter(String name) {
    return new RequestOptions(imageSplitting, Optional.of(name), maxImageTokens, contextPolicy, pixelBudget);
  }

  /**
   * Caps the image tokens of a prompt.
   *
   * @param cap largest number of image tokens a prompt may have (at least 1)
   * @return a copy with the cap
   * @throws VlmInputException INVALID_OPTION if {@code cap} is less than 1
   */
  public RequestOptions withMaxImageTokens(int cap) {
    if (cap < 1) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "maxImageTokens must be >= 1, got " + cap);
    }
    return new RequestOptions(imageSplitting, adapter, OptionalInt.of(cap), contextPolicy, pixelBudget);
  }

  /**
   * Chooses what a chat that does not fit the context window does (see {@link ContextPolicy}).
   *
   * @param policy the policy (non-null)
   * @return a copy with that policy
   */
  public RequestOptions withContextPolicy(ContextPolicy policy) {
    return new RequestOptions(imageSplitting, adapter, maxImageTokens, policy, pixelBudget);
  }

  /**
   * Resizes each image of the request into {@code [minPixels, maxPixels]} pixels instead of the
   * model's {@code min_pixels}/{@code max_pixels} (dynamic-resolution models such as Qwen2-VL, whose
   * image tokens follow the image size: one token per {@code (patch × merge)²} pixels). The cap is
   * honoured: an image whose aspect ratio cannot fit {@code maxPixels} at the model's patch
   * granularity is refused, never silently enlarged. LFM2-VL takes it too (one token per {@code
   * (encoder_patch_size × downsample_factor)²} pixels): each image becomes one frame within the budget,
   * without tiles, so a budget cannot be combined with {@link #withImageSplitting} {@code true}, and its
   * {@code maxPixels} is at most what the vision graph takes in one frame. Models with fixed-size frames
   * refuse this option.
   *
   * @param minPixels smallest resized area, >= 1
   * @param maxPixels largest resized area, >= minPixels
   * @return options with this budget
   * @throws VlmInputException INVALID_OPTION for bounds out of range
   */
  public RequestOptions withPixelBudget(int minPixels, int maxPixels) {
    PixelBudget b;
    try {
      b = new PixelBudget(minPixels, maxPixels);
    } catch (IllegalArgumentException e) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, e.getMessage());
    }
    return new RequestOptions(imageSplitting, adapter, maxImageTokens, contextPolicy, Optional.of(b));
  }
}
