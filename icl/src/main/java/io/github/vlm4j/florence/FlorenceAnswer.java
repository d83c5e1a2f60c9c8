package io.github.vlm4j.florence;

import io.github.vlm4j.decoder.generation.GenerationResult;
import java.util.Optional;

/**
 * What a Florence-2 task gave: the prompt it sent, the generated text with its special tokens (as
 * transformers.js's {@code batch_decode(..., skip_special_tokens=false)} of the decoder's sequence,
 * start token included: what {@code post_process_generation} parses), the parsed result, and the
 * generation (ids after the start token, text without special tokens, usage and per-stage timings).
 * Immutable.
 *
 * @param task the task
 * @param prompt the prompt text sent to the encoder (a region's location tokens not included)
 * @param rawText the generated text with special tokens, e.g. {@code </s><s>cat<loc_1>...</s>}
 * @param result the post-processed answer; empty for tasks whose answers have no post-processing
 *     ({@link FlorenceTask.AnswerKind#supported()} false: the polygon tasks and open-vocabulary
 *     detection, which transformers.js 4.3.1 does not post-process either)
 * @param generation the generation
 */
public record FlorenceAnswer(FlorenceTask task, String prompt, String rawText, Optional<FlorenceResult> result,
    GenerationResult generation) {}
