package io.github.vlm4j.core;

/**
 * Token counts and stage timings of one request.
 *
 * @param promptTokens tokens of the prompt, image tokens included
 * @param imageTokens image tokens in the prompt
 * @param generatedTokens tokens generated (the stopping token included)
 * @param timings per-stage wall-clock times
 */
public record Usage(int promptTokens, int imageTokens, int generatedTokens, StageTimings timings) {}
