package io.github.vlm4j.core.model;

/**
 * The ranges vlm4j accepts for the numbers of a model folder's configs. Each admits every released
 * model we know of with a wide margin and refuses values that can only be mistakes or attacks
 * (values that would wrap, allocate gigabytes, or divide by zero). Values outside a range are
 * {@link io.github.vlm4j.core.ModelLoadException.Reason#MALFORMED_CONFIG} at load time.
 */
public final class ModelLimits {
  /** Token ids and vocabulary sizes: below 2^24 = 16,777,216 (Gemma 3: 262,144). */
  public static final int MAX_VOCAB = 1 << 24;
  /** {@code hidden_size}: at most 65,536 (the largest released decoders use 16,384). */
  public static final int MAX_HIDDEN = 1 << 16;
  /** {@code num_hidden_layers}: at most 1,024 (released models: up to 128). */
  public static final int MAX_LAYERS = 1024;
  /** {@code num_attention_heads}, {@code num_key_value_heads}: at most 1,024 (released: up to 128). */
  public static final int MAX_HEADS = 1024;
  /** {@code head_dim}: at most 4,096 (released: up to 256). */
  public static final int MAX_HEAD_DIM = 4096;
  /** {@code max_position_embeddings}: at most 2^27 = 134,217,728 (released: up to 10M). */
  public static final int MAX_POSITIONS = 1 << 27;
  /**
   * Image edges ({@code size.*}, {@code crop_size}, {@code max_image_size.longest_edge}, vision
   * {@code image_size}): at most 8,192 pixels (SmolVLM resizes to 2,048, LLaVA to 336); one
   * 8,192² float frame is already 805 MB.
   */
  public static final int MAX_IMAGE_EDGE = 8192;
  /** Image tokens per frame ({@code image_seq_len}, {@code tokens_per_image}): at most 16,384 (SmolVLM: 64). */
  public static final int MAX_IMAGE_TOKENS = 1 << 14;
  /** Vision {@code patch_size}: at most 1,024 (released: 14-32). */
  public static final int MAX_PATCH = 1024;

  private ModelLimits() {}
}
