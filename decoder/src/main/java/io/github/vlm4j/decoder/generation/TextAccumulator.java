package io.github.vlm4j.decoder.generation;

import io.github.vlm4j.core.text.StreamingDetokenizer;
import io.github.vlm4j.core.text.TextTokenizer;
import java.util.List;

/**
 * Builds the generated text token by token, finds stop strings, and streams only text that is
 * final: complete characters, minus any tail that could still turn out to be the start of a stop
 * string. Not thread-safe; one per generation.
 */
final class TextAccumulator {
  private final StreamingDetokenizer detokenizer;
  private final List<String> stops;
  private final TokenStreamer streamer;
  private final int longestStop;
  private final StringBuilder text = new StringBuilder();
  private int emitted;
  private int stopAt = -1;

  TextAccumulator(TextTokenizer tokenizer, List<String> stops, TokenStreamer streamer) {
    this.detokenizer = new StreamingDetokenizer(tokenizer, true);
    this.stops = stops;
    this.streamer = streamer;
    this.longestStop = stops.stream().mapToInt(String::length).max().orElse(0);
  }

  /** @return true if a stop string now appears in the text */
  boolean push(int tokenId) {
    String delta = detokenizer.push(tokenId);
    if (delta.isEmpty()) {
      return false;
    }
    int searchFrom = Math.max(0, text.length() - longestStop + 1);
    text.append(delta);
    for (String s : stops) {
      int at = text.indexOf(s, searchFrom);
      if (at >= 0 && (stopAt < 0 || at < stopAt)) {
        stopAt = at;
      }
    }
    if (stopAt >= 0) {
      emit(stopAt);
      return true;
    }
    emit(text.length() - heldBack());
    return false;
  }

  /** Longest suffix of the text that is a proper prefix of some stop string. */
  private int heldBack() {
    int best = 0;
    for (String s : stops) {
      for (int k = Math.min(s.length() - 1, text.length()); k > best; k--) {
        if (endsWithPrefix(s, k)) {
          best = k;
          break;
        }
      }
    }
    return best;
  }

  private boolean endsWithPrefix(String s, int k) {
    int off = text.length() - k;
    for (int i = 0; i < k; i++) {
      if (text.charAt(off + i) != s.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  private void emit(int upTo) {
    if (upTo > emitted) {
      streamer.onText(text.substring(emitted, upTo));
      emitted = upTo;
    }
  }

  /** Flushes held-back text (unless a stop string ended generation) and returns the final text. */
  String finish() {
    if (stopAt >= 0) {
      return text.substring(0, stopAt);
    }
    text.append(detokenizer.flush());
    emit(text.length());
    return text.toString();
  }
}
