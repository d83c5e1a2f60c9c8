/**
 * Florence-2 task prompts and the post-processing of a Florence-2 generation into typed results,
 * model-independent and pure Java.
 *
 * <p>{@link io.github.vlm4j.florence.FlorenceTask} names every task token transformers.js 4.3.1's
 * {@code Florence2Processor} knows (through the Florence-2 processor configuration) and builds its
 * prompt; {@link io.github.vlm4j.florence.FlorencePostProcessor} turns the generated text (decoded
 * with its special tokens) into a {@link io.github.vlm4j.florence.FlorenceResult}: text, labeled
 * boxes or labeled quadrilaterals in image pixels. The parity test holds both to transformers.js on a
 * committed corpus; deviations (typed errors where transformers.js would return infinities or
 * silently rewrite user text) are documented on the members concerned. Running Florence-2 models
 * lands with the model family.
 */
package io.github.vlm4j.florence;
