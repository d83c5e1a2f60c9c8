package io.github.vlm4j.decoder.generation;

import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.text.TextTokenizer;
import io.github.vlm4j.decoder.DecoderState;
import io.github.vlm4j.decoder.TokenEmbedder;
import io.github.vlm4j.decoder.generation.constraint.CompiledConstraint;
import io.github.vlm4j.decoder.generation.constraint.TokenVocabulary;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * The decode loop after the prompt pass: process logits, pick a token, stop on an end-of-sequence
 * id, a stop string, the token limit or cancellation, otherwise feed the token back. Stateless.
 */
public final class Generator {
  private Generator() {}

  /**
   * What the decode loop produced.
   *
   * @param tokenIds generated ids, the stopping token included
   * @param text the generated text
   * @param finishReason why it stopped
   * @param firstTokenNanos {@link System#nanoTime()} when the first token was chosen (0 if none)
   * @param stepMs time between consecutive token choices (feed back, decoder run, processing, sampling)
   * @param constraint whether the output is complete under the config's constraint
   */
  public record Outcome(int[] tokenIds, String text, FinishReason finishReason, long firstTokenNanos, double[] stepMs,
      ConstraintStatus constraint) {}

  /**
   * Generates tokens after the prompt until a stop condition holds.
   *
   * @param state decoder state holding the prompt; extended in place
   * @param embedder the token embedder
   * @param tokenizer for the text
   * @param firstLogits logits after the prompt's last position
   * @param promptIds the prompt's ids (for the repetition penalty)
   * @param config generation settings
   * @param eosIds ids that end generation
   * @param maxNewTokens limit (already capped by the context window)
   * @param lengthReason reason to report when the limit is reached
   * @param streamer receives text and ids as they come
   * @param cancelled polled before every step
   * @return the outcome
   */
  public static Outcome run(DecoderState state, TokenEmbedder embedder, TextTokenizer tokenizer, float[] firstLogits,
      int[] promptIds, GenerationConfig config, Set<Integer> eosIds, int maxNewTokens, FinishReason lengthReason,
      TokenStreamer streamer, BooleanSupplier cancelled) {
    return run(token -> state.appendToken(token, embedder), tokenizer, firstLogits, promptIds, config, eosIds,
        maxNewTokens, lengthReason, streamer, cancelled);
  }

  /**
   * Generates tokens after the prompt until a stop condition holds, feeding each chosen token through
   * {@code feed} (one sequence's own decoder state, or its row in a shared batch).
   *
   * @param feed runs the decoder on a chosen token and returns the logits after it
   * @param tokenizer for the text
   * @param firstLogits logits after the prompt's last position
   * @param promptIds the prompt's ids (for the repetition penalty)
   * @param config generation settings
   * @param eosIds ids that end generation
   * @param maxNewTokens limit (already capped by the context window)
   * @param lengthReason reason to report when the limit is reached
   * @param streamer receives text and ids as they come
   * @param cancelled polled before every step
   * @return the outcome
   */
  public static Outcome run(TokenFeed feed, TextTokenizer tokenizer, float[] firstLogits,
      int[] promptIds, GenerationConfig config, Set<Integer> eosIds, int maxNewTokens, FinishReason lengthReason,
      TokenStreamer streamer, BooleanSupplier cancelled) {
    int[] seq = Arrays.copyOf(promptIds, promptIds.length + maxNewTokens);
    int len = promptIds.length;
    List<LogitsProcessor> processors = config.processors(promptIds.length);
    Sampler sampler = config.newSampler();
    TextAccumulator text = new TextAccumulator(tokenizer, config.stopStrings(), streamer);
    CompiledConstraint constraint = config.constraint()
        .map(c -> CompiledConstraint.compile(c, TokenVocabulary.of(tokenizer))).orElse(null);
    int constraintState = constraint != null ? constraint.start() : 0;
    int[] eos = eosIds.stream().mapToInt(Integer::intValue).toArray();
    float[] eosLogits = new float[eos.length];
    float[] work = new float[firstLogits.length];
    double[] stepMs = new double[maxNewTokens];
    int steps = 0;
    long firstNanos = 0;
    long lastChosen = 0;
    float[] logits = firstLogits;
    FinishReason reason = lengthReason;
    int generated = 0;
    while (true) {
      if (cancelled.getAsBoolean()) {
        reason = FinishReason.CANCELLED;
        break;
      }
      System.arraycopy(logits, 0, work, 0, work.length);
      for (LogitsProcessor p : processors) {
        p.process(seq, len, work);
      }
      if (constraint != null) {
        if (!constraint.accepting(constraintState) && !constraint.canContinue(constraintState)) {
          throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "the output constraint ("
              + config.constraint().get().describe() + ") cannot be completed with this model's tokens after "
              + generated + " generated tokens: the next character it needs is no whole token of the vocabulary");
        }
        restrict(constraint, constraintState, work, eos, eosLogits);
      }
      int token = sampler.sample(work);
      seq[len++] = token;
      generated++;
      long now = System.nanoTime();
      if (firstNanos == 0) {
        firstNanos = now;
      } else {
        stepMs[steps++] = (now - lastChosen) / 1e6;
      }
      lastChosen = now;
      streamer.onToken(token);
      if (eosIds.contains(token)) {
        reason = FinishReason.EOS;
        break;
      }
      if (constraint != null) {
        constraintState = constraint.next(constraintState, token);
        if (constraintState < 0) {   // the mask allows only tokens with a transition
          throw new IllegalStateException("the constraint automaton has no transition for the chosen token " + token);
        }
      }
      if (text.push(token)) {
        reason = FinishReason.STOP_STRING;
        break;
      }
      if (generated >= maxNewTokens) {
        reason = lengthReason;
        break;
      }
      if (cancelled.getAsBoolean()) {
        reason = FinishReason.CANCELLED;
        break;
      }
      try {
        logits = feed.feed(token);
      } catch (InferenceException e) {
        if (cancelled.getAsBoolean()) {
          reason = FinishReason.CANCELLED;
          break;
        }
        throw e;
      }
    }
    String out = text.finish();
    streamer.onEnd(reason);
    ConstraintStatus status = constraint == null ? ConstraintStatus.NONE
        : reason == FinishReason.EOS && constraintState >= 0 && constraint.accepting(constraintState)
            ? ConstraintStatus.COMPLETE : ConstraintStatus.INCOMPLETE;
    return new Outcome(Arrays.copyOfRange(seq, promptIds.length, len), out, reason, firstNanos,
        Arrays.copyOf(stepMs, steps), status);
  }

  /**
   * Leaves only the tokens the constraint allows in this state; end-of-sequence ids keep their
   * logits only where the text so far is a complete match (and are then the only choice if nothing
   * may follow).
   */
  private static void restrict(CompiledConstraint constraint, int state, float[] logits, int[] eos, float[] saved) {
    for (int i = 0; i < eos.length; i++) {
      saved[i] = eos[i] < logits.length ? logits[eos[i]] : Float.NEGATIVE_INFINITY;
    }
    constraint.mask(state, logits);
    if (constraint.accepting(state)) {
      for (int i = 0; i < eos.length; i++) {
        if (eos[i] < logits.length) {
          logits[eos[i]] = saved[i];
        }
      }
    }
  }
}
