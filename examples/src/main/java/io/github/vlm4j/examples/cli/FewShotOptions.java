package io.github.vlm4j.examples.cli;

import io.github.vlm4j.FewShotPrompt;
import io.github.vlm4j.RequestOptions;
import picocli.CommandLine.Option;

/** Options shared by {@code fewshot} and {@code fewshot-eval}: how prompts are built and run. */
final class FewShotOptions {
  @Option(names = "--question", paramLabel = "TEXT", defaultValue = FewShotPrompt.DEFAULT_QUESTION,
      description = "The question asked with every image (default: ${DEFAULT-VALUE}).")
  String question;

  @Option(names = "--style", paramLabel = "S", defaultValue = "TURNS",
      description = "Demo layout, case-insensitive: TURNS (one user/assistant exchange per demo) or SINGLE_TURN"
          + " (all demos and the query in one user turn) (default: ${DEFAULT-VALUE}).")
  FewShotPrompt.Style style;

  @Option(names = "--no-image-splitting",
      description = "Do not tile images (one frame per image). Only for models that split images (Idefics3/SmolVLM, LFM2-VL);"
          + " on others it is a usage error.")
  boolean noImageSplitting;

  @Option(names = "--adapter", paramLabel = "NAME", description = "Use this cross-modal adapter (modular models).")
  String adapter;

  /** @return the request options these flags select */
  RequestOptions requestOptions() {
    RequestOptions o = RequestOptions.DEFAULT;
    if (noImageSplitting) {
      o = o.withImageSplitting(false);
    }
    return adapter == null ? o : o.withAdapter(adapter);
  }

  /** @return a prompt builder with the question and style set */
  FewShotPrompt.Builder promptBuilder() {
    return FewShotPrompt.builder().question(question).style(style);
  }
}
