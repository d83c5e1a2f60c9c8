package io.github.vlm4j.core.text;

/**
 * A token the tokenizer matches as a whole before BPE ({@code added_tokens} in {@code
 * tokenizer.json}), e.g. {@code <image>} or {@code <|im_start|>}.
 *
 * @param id token id
 * @param content the token's text
 * @param special whether decoding with "skip special tokens" drops it
 * @param lstrip whether whitespace before it is absorbed
 * @param rstrip whether whitespace after it is absorbed
 * @param singleWord whether it only matches as a whole word
 */
public record AddedToken(int id, String content, boolean special, boolean lstrip, boolean rstrip, boolean singleWord) {}
