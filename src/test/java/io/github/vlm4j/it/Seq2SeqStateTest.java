package io.github.vlm4j.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.model.ModelConfig;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.model.TextConfig;
import io.github.vlm4j.core.onnx.SessionSettings;
import io.github.vlm4j.core.onnx.Tensors;
import io.github.vlm4j.decoder.Seq2SeqDecoder;
import io.github.vlm4j.decoder.Seq2SeqState;
import io.github.vlm4j.decoder.TokenEmbedder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@link Seq2SeqState}'s reused step buffers and its lifecycle, on the tiny Florence-2's encoder
 * and merged decoder: two states stepped in lockstep give each other's logits only where their
 * tokens agree; {@code terminate()} stops the next run, the state then still closes (twice); misuse
 * is an {@link IllegalStateException}. (The values themselves are FlorenceGoldenTest's.)
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class Seq2SeqStateTest {
  private static final int START = 2;
  private static final int POSITIONS = 7;
  private Seq2SeqDecoder model;
  private TokenEmbedder embedder;
  private TextConfig text;

  @BeforeAll
  void load() throws Exception {
    ModelFolder folder = ModelFolder.of(Fixtures.model(FlorenceGoldenTest.NAME));
    text = ModelConfig.read(folder).textConfig();
    embedder = TokenEmbedder.open(folder, "onnx/embed_tokens.onnx", SessionSettings.DEFAULT, text.hiddenSize());
    model = Seq2SeqDecoder.open(folder, "onnx/encoder_model.onnx", "onnx/decoder_model_merged.onnx",
        SessionSettings.DEFAULT, text);
  }

  @AfterAll
  void close() {
    embedder.close();
    model.close();
  }

  private FloatBuffer input(long seed) {
    Random r = new Random(seed);
    FloatBuffer b = Tensors.directFloats(POSITIONS * text.hiddenSize());
    while (b.hasRemaining()) {
      b.put((float) r.nextGaussian());
    }
    return b.flip();
  }

  @Test
  void lockstepStatesKeepTheirOwnLogits() {
    int[] tokens = {5, 9, 9, 17};
    int[] other = {5, 9, 11, 17};   // differs at step 3 only
    try (Seq2SeqState a = model.newState(); Seq2SeqState b = model.newState()) {
      float[] a0 = a.start(input(1), POSITIONS, START, embedder).clone();
      float[] b0 = b.start(input(1), POSITIONS, START, embedder).clone();
      assertArrayEquals(a0, b0);
      float[] previous = a0;
      for (int i = 0; i < tokens.length; i++) {
        float[] la = a.appendToken(tokens[i], embedder).clone();
        float[] lb = b.appendToken(other[i], embedder).clone();
        assertEquals(text.vocabSize(), la.length);
        assertFalse(Arrays.equals(previous, la), "step " + i + " returned the previous step's logits");
        if (i < 2) {
          assertArrayEquals(la, lb, "step " + i);
        } else {
          assertFalse(Arrays.equals(la, lb), "step " + i + ": different tokens, same logits");
        }
        previous = la;
      }
      assertEquals(1 + tokens.length, a.decodedLength());
    }
  }

  @Test
  void anotherEncoderInputGivesOtherLogits() {
    try (Seq2SeqState a = model.newState(); Seq2SeqState b = model.newState()) {
      float[] la = a.start(input(1), POSITIONS, START, embedder);
      float[] lb = b.start(input(2), POSITIONS, START, embedder);
      assertFalse(Arrays.equals(la, lb));
      assertFalse(Arrays.equals(a.appendToken(5, embedder), b.appendToken(5, embedder)));
    }
  }

  @Test
  void terminateStopsTheNextRunAndTheStateStillCloses() {
    Seq2SeqState st = model.newState();
    st.start(input(1), POSITIONS, START, embedder);
    st.appendToken(5, embedder);
    st.terminate();
    var e = assertThrows(InferenceException.class, () -> st.appendToken(9, embedder));
    assertTrue(String.valueOf(e.getCause()).contains("terminate"), String.valueOf(e.getCause()));
    assertEquals(2, st.decodedLength());
    st.close();
    st.close();
    assertThrows(IllegalStateException.class, () -> st.appendToken(9, embedder));
  }

  @Test
  void misuseIsAnIllegalState() {
    try (Seq2SeqState st = model.newState()) {
      assertThrows(IllegalStateException.class, () -> st.appendToken(5, embedder));
      assertThrows(IllegalArgumentException.class, () -> st.start(input(1), POSITIONS + 1, START, embedder));
      st.start(input(1), POSITIONS, START, embedder);
      assertThrows(IllegalStateException.class, () -> st.start(input(1), POSITIONS, START, embedder));
    }
  }
}
