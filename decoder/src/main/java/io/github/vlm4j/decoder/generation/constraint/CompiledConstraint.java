package io.github.vlm4j.decoder.generation.constraint;

/**
 * A constraint compiled against a vocabulary: a token-level automaton whose states are ints.
 * Immutable and thread-safe; one instance serves every request with the same constraint and
 * vocabulary (see {@link #compile}).
 */
public final class CompiledConstraint {
  private CompiledConstraint() {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /**
   * Compiles (or returns the cached compilation of) a constraint for a vocabulary.
   *
   * @param constraint the constraint
   * @param vocabulary the model's vocabulary
   * @return the compiled constraint
   */
  public static CompiledConstraint compile(OutputConstraint constraint, TokenVocabulary vocabulary) {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /**
   * Returns the state before any token.
   *
   * @return the start state
   */
  public int start() {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /**
   * Tells whether the text so far is a complete match.
   *
   * @param state a state
   * @return whether generation may end here
   */
  public boolean accepting(int state) {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /**
   * Tells whether any token may follow in this state.
   *
   * @param state a state
   * @return whether some token keeps the text a prefix of a match
   */
  public boolean canContinue(int state) {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /**
   * Returns the state after a token.
   *
   * @param state the current state
   * @param token a token id
   * @return the next state, or -1 if the token is not allowed here
   */
  public int next(int state, int token) {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /**
   * Sets the logits of every token not allowed in this state to negative infinity (end-of-sequence
   * ids are the caller's business).
   *
   * @param state the current state
   * @param logits next-token logits, modified in place
   */
  public void mask(int state, float[] logits) {
    throw new UnsupportedOperationException("not implemented yet");
  }
}
