package io.github.vlm4j;

import io.github.vlm4j.core.Usage;
import java.util.Comparator;
import java.util.List;

/**
 * The result of {@link GenerationSession#classify}: every candidate label's log-probability as the
 * model's answer, in the order the labels were given. Immutable (arrays are copied in and out) and
 * thread-safe.
 *
 * @param scores one entry per candidate label, in input order
 * @param usage prompt token counts and stage timings (generated tokens = scored label tokens)
 * @param cachedPrefixTokens prompt positions taken from the demo-prefix KV cache (0 = computed)
 */
public record LabelScores(List<LabelScore> scores, Usage usage, int cachedPrefixTokens) {
  /**
   * Copies the list.
   *
   * @param scores one entry per candidate label, in input order (copied)
   * @param usage prompt token counts and stage timings (generated tokens = scored label tokens)
   * @param cachedPrefixTokens prompt positions taken from the demo-prefix KV cache (0 = computed)
   */
  public LabelScores {
    scores = List.copyOf(scores);
  }

  /**
   * Returns the best label.
   *
   * @return the most probable label (the first one on exact ties)
   */
  public LabelScore best() {
    return scores.stream().max(Comparator.comparingDouble(LabelScore::logProb)).orElseThrow();
  }

  /**
   * Returns the candidate labels.
   *
   * @return the candidate labels, in input order
   */
  public List<String> labels() {
    return scores.stream().map(LabelScore::label).toList();
  }

  /**
   * One candidate label's score.
   *
   * @param label the candidate label
   * @param tokenIds the scored tokens: the assistant answer as the chat template renders it, up to and
   *     including the end-of-turn token
   * @param tokenLogProbs natural-log probability of each scored token given everything before it
   * @param logProb their sum: log P(answer = label | prompt)
   * @param probability {@code exp(logProb)} normalised over the candidate labels
   */
  public record LabelScore(String label, int[] tokenIds, double[] tokenLogProbs, double logProb,
      double probability) {
    /**
     * Copies the arrays.
     *
     * @param label the candidate label
     * @param tokenIds the scored tokens, up to and including the end-of-turn token (copied)
     * @param tokenLogProbs natural-log probability of each scored token given everything before it (copied)
     * @param logProb their sum: log P(answer = label | prompt)
     * @param probability {@code exp(logProb)} normalised over the candidate labels
     */
    public LabelScore {
      tokenIds = tokenIds.clone();
      tokenLogProbs = tokenLogProbs.clone();
    }

    /**
     * Returns the label's token ids.
     *
     * @return a copy of the scored token ids
     */
    @Override
    public int[] tokenIds() {
      return tokenIds.clone();
    }

    /**
     * Returns the log-probability of each of the label's tokens.
     *
     * @return a copy of the per-token log-probabilities
     */
    @Override
    public double[] tokenLogProbs() {
      return tokenLogProbs.clone();
    }

    /**
     * Returns the length-normalised score.
     *
     * @return the mean per-token log-probability (a length-normalised score)
     */
    public double meanLogProb() {
      return logProb / tokenIds.length;
    }

    @Override
    public String toString() {
      return String.format(java.util.Locale.ROOT, "%s: logp %.4f, p %.4f", label, logProb, probability);
    }
  }
}
