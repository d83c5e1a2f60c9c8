package io.github.vlm4j.decoder.generation.constraint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The kept token moves of all compiled constraints stay within their JVM-wide bound. */
class CachedMovesBoundTest {
  private final TokenVocabulary synthetic = TokenVocabulary.of(ConstraintTestSupport.syntheticTexts());

  @Test
  void beyondTheBoundMovesAreRecomputedWithTheSameResults() {
    OutputConstraint any = OutputConstraint.regex(".{0,50}");
    CompiledConstraint reference = CompiledConstraint.compileUncached(any, synthetic);
    long old = CompiledConstraint.cachedMovesLimit;
    try {
      CompiledConstraint.cachedMovesLimit = CompiledConstraint.cachedMoves() + 10;
      CompiledConstraint bounded = CompiledConstraint.compileUncached(any, synthetic);
      int s = bounded.start();
      int r = reference.start();
      for (int step = 0; step < 20; step++) {
        int[] allowed = bounded.allowedTokens(s);
        assertArrayEquals(reference.allowedTokens(r), allowed, "step " + step);
        assertTrue(allowed.length > 10, "a dense state: more pairs than the bound leaves");
        assertTrue(CompiledConstraint.cachedMoves() <= CompiledConstraint.cachedMovesLimit);
        s = bounded.next(s, allowed[step % allowed.length]);
        r = reference.next(r, allowed[step % allowed.length]);
        assertEquals(r, s);
      }
    } finally {
      CompiledConstraint.cachedMovesLimit = old;
    }
  }

  @Test
  void aCompilationLeavingTheCacheReturnsItsMoves() {
    CompiledConstraint first = CompiledConstraint.compile(OutputConstraint.regex("[a-z]{1,40}q"), synthetic);
    int share = first.allowedCount(first.start());
    assertTrue(share > 0);
    long before = CompiledConstraint.cachedMoves();
    for (int i = 0; i < CompiledConstraint.CACHE_SIZE; i++) {
      CompiledConstraint.compile(OutputConstraint.regex("evict" + i), synthetic);
    }
    assertTrue(CompiledConstraint.cachedMoves() <= before - share,
        CompiledConstraint.cachedMoves() + " pairs kept, expected at most " + (before - share));
  }
}
