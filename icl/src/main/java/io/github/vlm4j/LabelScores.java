package io.github.vlm4j;

import io.github.vlm4j.core.Usage;
import io.github.vlm4j.core.VlmInputException;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The result of {@link GenerationSession#classify} (and {@code FlorenceModel.classify}): every
 * candidate label's log-probability as the model's answer, in the order the labels were given. Immutable (arrays are copied in and out) and
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
   * Checks candidate labels as every {@code classify} does.
   *
   * @param labels the candidate labels
   * @return an immutable copy
   * @throws VlmInputException INVALID_LABELS for null or no labels, a blank label, or a label given
   *     twice
   */
  public static List<String> requireLabels(List<String> labels) {
    if (labels == null || labels.isEmpty()) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_LABELS,
          "classify needs at least one candidate label, got " + (labels == null ? "null" : "an empty list"));
    }
    Set<String> seen = new LinkedHashSet<>();
    for (String l : labels) {
      if (l == null || l.isBlank()) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_LABELS,
            "candidate labels must be non-blank, got " + Demo.quote(l) + " in " + labels);
      }
      if (!seen.add(l)) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_LABELS,
            "candidate labels must be distinct, got \"" + l + "\" twice in " + labels);
      }
    }
    return List.copyOf(labels);
  }

  /**
   * Builds the scores of candidate labels from their tokens' log-probabilities: each label's {@code
   * logProb} is their sum and its {@code probability} the softmax of those sums over the labels.
   *
   * @param labels the candidate labels
   * @param tokenIds each label's scored tokens (same order)
   * @param tokenLogProbs each label's per-token log-probabilities (same order and lengths)
   * @return one score per label, in order
   * @throws IllegalArgumentException if the lists' sizes differ
   */
  public static List<LabelScore> normalised(List<String> labels, List<int[]> tokenIds, List<double[]> tokenLogProbs) {
    if (tokenIds.size() != labels.size() || tokenLogProbs.size() != labels.size()) {
      throw new IllegalArgumentException(labels.size() + " labels but " + tokenIds.size() + " token lists and "
          + tokenLogProbs.size() + " log-probability lists");
    }
    double[] totals = new double[labels.size()];
    double max = Double.NEGATIVE_INFINITY;
    for (int l = 0; l < totals.length; l++) {
      totals[l] = java.util.Arrays.stream(tokenLogProbs.get(l)).sum();
      max = Math.max(max, totals[l]);
    }
    double z = 0;
    for (double t : totals) {
      z += Math.exp(t - max);
    }
    List<LabelScore> out = new java.util.ArrayList<>();
    for (int l = 0; l < totals.length; l++) {
      out.add(new LabelScore(labels.get(l), tokenIds.get(l), tokenLogProbs.get(l), totals[l],
          Math.exp(totals[l] - max) / z));
    }
    return out;
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
