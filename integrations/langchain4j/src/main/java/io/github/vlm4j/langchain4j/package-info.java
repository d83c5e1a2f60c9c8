/**
 * LangChain4j chat models over an in-process {@link io.github.vlm4j.VisionLanguageModel}: {@link
 * io.github.vlm4j.langchain4j.Vlm4jChatModel} and {@link
 * io.github.vlm4j.langchain4j.Vlm4jStreamingChatModel}. Images come as LangChain4j {@code
 * ImageContent}; JSON response formats and schemas become the library's constrained decoding; token
 * usage and finish reasons map to LangChain4j's; what vlm4j cannot do (tools, audio, video, PDF,
 * remote images) is refused with LangChain4j's {@code UnsupportedFeatureException}.
 */
package io.github.vlm4j.langchain4j;
