package io.github.vlm4j.core.prompt;

import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.text.AddedTokenMatcher;
import io.github.vlm4j.core.text.TextTokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * Builds token ids from a rendered chat without ever parsing caller text for special tokens
 * (the llama.cpp "typed chunks" discipline):
 *
 * <ol>
 *   <li>{@link #pieces}: template text is split at added tokens (each inserted by id); an image
 *       placeholder token from the template becomes an {@link PromptPiece.ImageSlot}; caller text
 *       stays {@link PromptPiece.Text}.
 *   <li>{@link #expand}: each slot is replaced by the model family's expansion of that image.
 *   <li>{@link #tokenize}: adjacent text is tokenized together (exactly what a HuggingFace tokenizer
 *       does between special tokens), tokens go in by id, image tokens are counted per image.
 * </ol>
 *
 * On benign input the ids equal HuggingFace's tokenization of the rendered string; on input
 * containing special-token strings they stay text. Immutable and thread-safe.
 */
public final class PromptAssembler {
  private final TextTokenizer tokenizer;
  private final int placeholderId;
  private final int imageTokenId;

  /**
   * Creates an assembler for a model's tokenizer and image token.
   *
   * @param tokenizer the model's tokenizer
   * @param imagePlaceholder the token the chat template writes per image (e.g. {@code <image>})
   * @param imageTokenId the id of the token whose embeddings are replaced by image features
   * @throws ModelLoadException GRAPH_MISMATCH if the placeholder is not an added token
   */
  public PromptAssembler(TextTokenizer tokenizer, String imagePlaceholder, int imageTokenId)
      throws ModelLoadException {
    this.tokenizer = tokenizer;
    this.placeholderId = tokenizer.addedTokens().stream()
        .filter(t -> t.content().equals(imagePlaceholder)).mapToInt(t -> t.id()).findFirst()
        .orElseThrow(() -> new ModelLoadException(ModelLoadException.Reason.MALFORMED_CONFIG,
            "the image placeholder '" + imagePlaceholder + "' is not an added token of tokenizer.json"));
    this.imageTokenId = imageTokenId;
  }

  /**
   * Returns the image token's id.
   *
   * @return the id of the image token
   */
  public int imageTokenId() {
    return imageTokenId;
  }

  /**
   * Splits a rendered chat into text pieces and image slots.
   *
   * @param rendered a rendered chat
   * @return pieces with one image slot per placeholder written by the template
   * @throws VlmInputException IMAGE_COUNT_MISMATCH if the template wrote a different number of
   *     image placeholders than there are image parts
   */
  public List<PromptPiece> pieces(ChatTemplate.Rendered rendered) {
    List<PromptPiece> out = new ArrayList<>();
    int slots = 0;
    for (ChatTemplate.Segment s : rendered.segments()) {
      if (s.fromCaller()) {
        out.add(new PromptPiece.Text(s.text()));
        continue;
      }
      for (AddedTokenMatcher.Piece p : tokenizer.matcher().split(s.text())) {
        if (!p.isToken()) {
          out.add(new PromptPiece.Text(p.text()));
        } else if (p.token().id() == placeholderId) {
          out.add(new PromptPiece.ImageSlot(slots++));
        } else {
          out.add(new PromptPiece.Token(p.token().id()));
        }
      }
    }
    if (slots != rendered.imageParts()) {
      throw new VlmInputException(VlmInputException.Reason.IMAGE_COUNT_MISMATCH,
          "the chat template wrote " + slots + " image placeholders for " + rendered.imageParts() + " image parts");
    }
    return out;
  }

  /**
   * Parses trusted configuration text (e.g. an image prefix from a manifest) into pieces.
   *
   * @param trusted text that may contain added tokens
   * @return text and token pieces
   */
  public List<PromptPiece> parseTrusted(String trusted) {
    List<PromptPiece> out = new ArrayList<>();
    for (AddedTokenMatcher.Piece p : tokenizer.matcher().split(trusted)) {
      out.add(p.isToken() ? new PromptPiece.Token(p.token().id()) : new PromptPiece.Text(p.text()));
    }
    return out;
  }

  /**
   * Replaces each image slot with the model family's pieces for that image.
   *
   * @param pieces pieces with image slots
   * @param expansion the family's pieces for image k (must not contain slots)
   * @return pieces with every slot replaced
   */
  public static List<PromptPiece> expand(List<PromptPiece> pieces, IntFunction<List<PromptPiece>> expansion) {
    List<PromptPiece> out = new ArrayList<>();
    for (PromptPiece p : pieces) {
      if (p instanceof PromptPiece.ImageSlot slot) {
        out.addAll(expansion.apply(slot.imageIndex()));
      } else {
        out.add(p);
      }
    }
    return out;
  }

  /**
   * Tokenizes expanded pieces.
   *
   * @param pieces expanded pieces (no slots)
   * @param images number of images in the prompt
   * @return ids with the tokenizer's post-processor prefix/suffix, and image tokens per image; the
   *     prefix is not added again when the pieces already start with it (a chat template that writes
   *     {@code <bos>} itself, as Gemma's does: HuggingFace tokenizes rendered chats without the
   *     post-processor's special tokens)
   */
  public TokenizedPrompt tokenize(List<PromptPiece> pieces, int images) {
    IntList ids = new IntList();
    int[] prefix = tokenizer.postProcessorPrefix();
    ids.addAll(prefix);
    int[] perImage = new int[images];
    StringBuilder text = new StringBuilder();
    for (PromptPiece p : pieces) {
      if (p instanceof PromptPiece.Text t) {
        text.append(t.text());
        continue;
      }
      flush(text, ids);
      if (p instanceof PromptPiece.Token t) {
        ids.add(t.id());
      } else if (p instanceof PromptPiece.ImageTokens it) {
        for (int i = 0; i < it.count(); i++) {
          ids.add(imageTokenId);
        }
        perImage[it.imageIndex()] += it.count();
      } else {
        throw new IllegalArgumentException("unexpanded image slot " + p);
      }
    }
    flush(text, ids);
    ids.addAll(tokenizer.postProcessorSuffix());
    int[] all = ids.toArray();
    boolean doubled = prefix.length > 0 && all.length >= 2 * prefix.length
        && java.util.Arrays.equals(all, prefix.length, 2 * prefix.length, prefix, 0, prefix.length);
    return new TokenizedPrompt(doubled ? java.util.Arrays.copyOfRange(all, prefix.length, all.length) : all, perImage);
  }

  private void flush(StringBuilder text, IntList ids) {
    if (text.length() > 0) {
      ids.addAll(tokenizer.encode(text.toString()));
      text.setLength(0);
    }
  }

  /** A growable int array. */
  private static final class IntList {
    private int[] data = new int[64];
    private int size;

    void add(int v) {
      if (size == data.length) {
        data = java.util.Arrays.copyOf(data, size * 2);
      }
      data[size++] = v;
    }

    void addAll(int[] vs) {
      for (int v : vs) {
        add(v);
      }
    }

    int[] toArray() {
      return java.util.Arrays.copyOf(data, size);
    }
  }
}
