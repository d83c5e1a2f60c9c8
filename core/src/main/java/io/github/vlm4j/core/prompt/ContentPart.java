package io.github.vlm4j.core.prompt;

/** One part of a message's content: text or an image, in the order they appear. */
public sealed interface ContentPart permits TextPart, ImagePart {}
