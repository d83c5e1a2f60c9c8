package io.github.vlm4j.spark;

import io.github.vlm4j.core.prompt.ImageInput;
import java.util.List;

/**
 * One input row as the library takes it.
 *
 * @param images the row's images, in order (empty for a text-only row)
 * @param prompt the prompt text, or null where the prompt column is optional and absent
 * @param maxNewTokens the row's own token limit, or null for the transformer's
 */
record RowRequest(List<ImageInput> images, String prompt, Integer maxNewTokens) {}
