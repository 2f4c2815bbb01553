package dev.crucible.model;

import dev.crucible.CrucibleException;
import dev.crucible.model.template.ChatPrompt;

import java.util.List;

/**
 * Token ids of a rendered prompt plus a per-token loss mask, so supervised fine-tuning can put the loss on chosen
 * parts only (labels -100 elsewhere).
 *
 * <p>The loss is given as character ranges of the text ({@link LossRange}). A token carries loss when it overlaps
 * a range (transformers' {@code return_assistant_tokens_mask} marks every token that contains a character of the
 * span, so a token straddling the edge of a reply counts), or, for a range of whole tokens only, when it lies
 * wholly inside it: a turn's closing such as Phi-3.5's {@code <|end|>\n<} keeps {@code <|end|>} and {@code \n}
 * but not the {@code <|user|>} that the next turn begins with.
 *
 * <p>Chat prompts are encoded without the tokenizer's special tokens, as transformers' {@code apply_chat_template}
 * does: the template already writes BOS and turn markers.
 */
public final class ChatTokenization {
    /** The label transformers' loss ignores. */
    public static final int IGNORE_INDEX = -100;

    private ChatTokenization() {
    }

    /**
     * Characters [start, end) whose tokens carry loss: tokens overlapping the range, or with {@code wholeTokens}
     * only tokens lying wholly inside it.
     */
    public record LossRange(int start, int end, boolean wholeTokens) {
        /** The content of a turn: every token it touches. */
        public static LossRange of(ChatPrompt.Turn turn) {
            return new LossRange(turn.start(), turn.end(), false);
        }

        /** The closing of a turn: its whole tokens. */
        public static LossRange endOf(ChatPrompt.Turn turn) {
            return new LossRange(turn.end(), turn.endOfTurn(), true);
        }

        boolean covers(int tokenStart, int tokenEnd) {
            if (tokenStart >= tokenEnd) {
                return false; // tokens with no text (added by a post-processor) never carry loss here
            }
            return wholeTokens ? start <= tokenStart && tokenEnd <= end : tokenStart < end && start < tokenEnd;
        }
    }

    /** The tokens of a chat prompt, with loss on the given ranges. */
    public static Tokens tokenize(Tokenizer tokenizer, ChatPrompt prompt, List<LossRange> loss) {
        return tokenize(tokenizer, prompt.text(), loss, false);
    }

    /**
     * Tokenizes {@code text} and marks the tokens the ranges cover (Java string indices), optionally with the
     * tokenizer's own special tokens (plain-text training formats want Llama's BOS); tokens the post-processor
     * adds have empty spans and are therefore never marked.
     */
    public static Tokens tokenize(Tokenizer tokenizer, String text, List<LossRange> loss, boolean addSpecialTokens) {
        for (LossRange r : loss) {
            if (r.start() < 0 || r.start() > r.end() || r.end() > text.length()) {
                throw new CrucibleException("loss range [" + r.start() + ", " + r.end()
                        + ") is outside the rendered prompt of " + text.length() + " characters");
            }
        }
        Tokenizer.Encoded enc = tokenizer.encodeWithOffsets(text, addSpecialTokens);
        boolean[] marked = new boolean[enc.length()];
        for (int i = 0; i < marked.length; i++) {
            for (int k = 0; k < loss.size() && !marked[i]; k++) {
                marked[i] = loss.get(k).covers(enc.starts()[i], enc.ends()[i]);
            }
        }
        return new Tokens(enc.ids(), marked);
    }

    /** Token ids and which of them carry loss. */
    public record Tokens(int[] ids, boolean[] assistant) {
        public int length() {
            return ids.length;
        }

        /** The ids where the token carries loss, {@link #IGNORE_INDEX} elsewhere (not yet shifted). */
        public int[] labels() {
            int[] labels = new int[ids.length];
            for (int i = 0; i < ids.length; i++) {
                labels[i] = assistant[i] ? ids[i] : IGNORE_INDEX;
            }
            return labels;
        }

        public int assistantTokenCount() {
            int n = 0;
            for (boolean a : assistant) {
                n += a ? 1 : 0;
            }
            return n;
        }
    }
}
