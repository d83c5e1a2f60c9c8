package io.github.vlm4j;

import io.github.vlm4j.core.DroppedContext;
import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ContentPart;
import io.github.vlm4j.core.prompt.ImagePart;
import io.github.vlm4j.core.prompt.Message;
import io.github.vlm4j.core.prompt.Role;
import io.github.vlm4j.core.prompt.TextPart;
import io.github.vlm4j.core.prompt.TokenizedPrompt;
import io.github.vlm4j.vision.ImageLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.IntPredicate;

/**
 * Applies a request's {@link ContextPolicy} to a chat whose images are already laid out: tokenizes
 * the whole chat and, when it leaves no room for the reply and the policy allows it, finds the fewest
 * oldest turns (or images) to leave out by a galloping search, rendering one candidate chat per step.
 * Stateless; each call owns what it builds.
 */
final class ContextFitter {
  private ContextFitter() {}

  /**
   * The prompt a policy keeps.
   *
   * @param messages the kept chat (dropped turns left out, dropped images replaced by the marker)
   * @param keptImages indices (in the whole chat's image order) of the images the kept chat holds
   * @param prompt the kept chat's tokens
   * @param dropped what was left out
   * @param remains when the policy ran out of parts to drop before the reply had room: what is left,
   *     for the refusal message; null otherwise
   */
  record Fitted(List<Message> messages, int[] keptImages, TokenizedPrompt prompt, DroppedContext dropped,
      String remains) {}

  /**
   * The one rule of the context window: a prompt of {@code promptLength} tokens leaves room for
   * {@code reserved} more.
   */
  static boolean leavesRoom(VisionLanguageModel model, int promptLength, int reserved) {
    return (long) promptLength + reserved <= model.textConfig().maxPositions();
  }

  /**
   * Refuses a policy other than {@link ContextPolicy.Mode#REFUSE} where policies do not apply.
   *
   * @param what the kind of request, for the message
   */
  static void requireRefuse(RequestOptions options, String what) {
    ContextPolicy policy = options.contextPolicy();
    if (policy.mode() != ContextPolicy.Mode.REFUSE) {
      throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "the context policy " + policy.mode()
          + " applies to chats only; " + what + " accepts only REFUSE (leaving out demos or turns would change what"
          + " is scored or learnt from: use fewer demos or a shorter conversation)");
    }
  }

  /**
   * Tokenizes {@code messages} and applies the policy of {@code options}.
   *
   * @param layouts the layout of every image of {@code messages}, in order
   * @param reserve tokens the reply needs (the request's {@code maxNewTokens}; 1 for counting)
   */
  static Fitted fit(VisionLanguageModel model, List<Message> messages, List<ImageLayout> layouts,
      ContextPolicy policy, int reserve, BooleanSupplier stop) {
    TokenizedPrompt whole = GenerationSession.tokenize(model, messages, layouts, true, stop);
    int[] all = new int[layouts.size()];
    for (int i = 0; i < all.length; i++) {
      all[i] = i;
    }
    if (policy.mode() == ContextPolicy.Mode.REFUSE || leavesRoom(model, whole.length(), reserve)) {
      return new Fitted(messages, all, whole, DroppedContext.NONE, null);
    }
    return new Search(model, messages, layouts, policy, reserve, stop, whole.length()).run();
  }

  /** One fitting: the chat's structure and the candidates tokenized so far. */
  private static final class Search {
    private final VisionLanguageModel model;
    private final List<Message> messages;
    private final List<ImageLayout> layouts;
    private final ContextPolicy policy;
    private final int reserve;
    private final BooleanSupplier stop;
    private final int wholeLength;
    /** Turn index of each message; -1 for the kept ones (system messages and the last user turn). */
    private final int[] turnOf;
    private final int turns;
    /** The droppable images' indices in the whole chat's image order, oldest first. */
    private final List<Integer> droppableImages = new ArrayList<>();
    private final Map<Long, Fitted> tried = new HashMap<>();

    Search(VisionLanguageModel model, List<Message> messages, List<ImageLayout> layouts, ContextPolicy policy,
        int reserve, BooleanSupplier stop, int wholeLength) {
      this.model = model;
      this.messages = messages;
      this.layouts = layouts;
      this.policy = policy;
      this.reserve = reserve;
      this.stop = stop;
      this.wholeLength = wholeLength;
      int lastUser = -1;
      for (int i = 0; i < messages.size(); i++) {
        if (messages.get(i).role() == Role.USER) {
          lastUser = i;
        }
      }
      turnOf = new int[messages.size()];
      int turn = -1;
      int image = 0;
      for (int i = 0; i < messages.size(); i++) {
        Message m = messages.get(i);
        boolean droppable = i < lastUser && m.role() != Role.SYSTEM;
        if (droppable && (m.role() == Role.USER || turn < 0)) {
          turn++;
        }
        turnOf[i] = droppable ? turn : -1;
        for (ContentPart p : m.content()) {
          if (p instanceof ImagePart) {
            if (droppable) {
              droppableImages.add(image);
            }
            image++;
          }
        }
      }
      turns = turn + 1;
    }

    Fitted run() {
      int images = 0;
      int dropTurns = 0;
      if (policy.dropsImages()) {
        images = fewest(droppableImages.size(), j -> fits(candidate(j, 0)));
      }
      if (policy.dropsTurns() && !fits(candidate(images, 0))) {
        int replaced = images;   // all droppable images when the policy also replaces them: none was enough
        dropTurns = fewest(turns, k -> fits(candidate(replaced, k)));
      }
      Fitted best = candidate(images, dropTurns);
      if (fits(best)) {
        return best;
      }
      int n = best.prompt().length();
      String remains = policy.dropsTurns()
          ? "the system text and the last user turn alone need " + n + " tokens (" + best.prompt().imageTokenCount()
              + " of them image tokens)"
          : "with all " + droppableImages.size() + " images before the last user turn replaced by \""
              + policy.imageMarker() + "\" the conversation still needs " + n + " tokens ("
              + best.prompt().imageTokenCount() + " of them image tokens; DROP_OLDEST_IMAGES leaves out no turn)";
      return new Fitted(best.messages(), best.keptImages(), best.prompt(), best.dropped(), remains);
    }

    private boolean fits(Fitted f) {
      return leavesRoom(model, f.prompt().length(), reserve);
    }

    /**
     * The smallest {@code n} in [0, max] for which {@code fits} holds, given that it fails for 0 and
     * that leaving out more never adds tokens; {@code max} when none fits. Gallops (1, 2, 4, ...) then
     * bisects: about 2 log2(n) + 2 tests.
     */
    private static int fewest(int max, IntPredicate fits) {
      int lo = 0;
      int hi = -1;
      for (int n = 1; hi < 0 && lo < max; n *= 2) {
        int m = Math.min(n, max);
        if (fits.test(m)) {
          hi = m;
        } else {
          lo = m;
        }
      }
      if (hi < 0) {
        return max;
      }
      while (hi - lo > 1) {
        int mid = (lo + hi) >>> 1;
        if (fits.test(mid)) {
          hi = mid;
        } else {
          lo = mid;
        }
      }
      return hi;
    }

    /** The chat with its {@code images} oldest droppable images replaced and its {@code dropTurns} oldest turns left out. */
    private Fitted candidate(int images, int dropTurns) {
      return tried.computeIfAbsent(((long) images << 32) | dropTurns, k -> build(images, dropTurns));
    }

    private Fitted build(int images, int dropTurns) {
      Set<Integer> replaced = new HashSet<>(droppableImages.subList(0, images));
      List<Message> kept = new ArrayList<>();
      List<Integer> keptImages = new ArrayList<>();
      int image = 0;
      for (int i = 0; i < messages.size(); i++) {
        Message m = messages.get(i);
        boolean dropped = turnOf[i] >= 0 && turnOf[i] < dropTurns;
        List<ContentPart> parts = new ArrayList<>();
        boolean changed = false;
        for (ContentPart p : m.content()) {
          if (!(p instanceof ImagePart)) {
            parts.add(p);
            continue;
          }
          if (!dropped && !replaced.contains(image)) {
            parts.add(p);
            keptImages.add(image);
          } else if (!dropped) {
            changed = true;
            if (!policy.imageMarker().isEmpty()) {
              parts.add(new TextPart(policy.imageMarker()));
            }
          }
          image++;
        }
        if (!dropped) {
          kept.add(changed ? new Message(m.role(), parts) : m);
        }
      }
      int[] keptIdx = keptImages.stream().mapToInt(Integer::intValue).toArray();
      List<ImageLayout> keptLayouts = new ArrayList<>();
      for (int k : keptIdx) {
        keptLayouts.add(layouts.get(k));
      }
      TokenizedPrompt prompt = GenerationSession.tokenize(model, kept, keptLayouts, true, stop);
      DroppedContext d = new DroppedContext(Math.max(0, wholeLength - prompt.length()), dropTurns,
          layouts.size() - keptIdx.length);
      return new Fitted(List.copyOf(kept), keptIdx, prompt, d, null);
    }
  }
}
