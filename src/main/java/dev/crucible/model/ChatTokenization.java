package dev.crucible.model;

import dev.crucible.CrucibleException;
import dev.crucible.model.template.ChatPrompt;

import java.util.List;

/**
 * Token ids of a rendered chat prompt plus a per-token "assistant" mask, so supervised fine-tuning can put the
 * loss on assistant turns only (labels -100 elsewhere).
 *
 * <p>The prompt is encoded without the tokenizer's special tokens, as transformers' {@code apply_chat_template}
 * does: the template already writes BOS and turn markers. A token belongs to the assistant when its character
 * span overlaps an assistant span (transformers' {@code return_assistant_tokens_mask} marks every token that
 * contains a character of the span), so a token straddling a span boundary counts as assistant.
 */
public final class ChatTokenization {
    /** The label transformers' loss ignores. */
    public static final int IGNORE_INDEX = -100;

    private ChatTokenization() {
    }

    /** Tokenizes a prompt from the chat formatting API with its assistant spans. */
    public static Tokens tokenize(Tokenizer tokenizer, ChatPrompt prompt) {
        List<ChatPrompt.Span> spans = prompt.spans();
        int[] starts = new int[spans.size()];
        int[] ends = new int[spans.size()];
        for (int i = 0; i < starts.length; i++) {
            starts[i] = spans.get(i).start();
            ends[i] = spans.get(i).end();
        }
        return tokenize(tokenizer, prompt.text(), starts, ends);
    }

    /**
     * Tokenizes {@code text} and marks the tokens overlapping any assistant span {@code [starts[k], ends[k])}
     * (Java string indices).
     */
    public static Tokens tokenize(Tokenizer tokenizer, String text, int[] starts, int[] ends) {
        if (starts.length != ends.length) {
            throw new IllegalArgumentException("starts and ends differ in length");
        }
        for (int k = 0; k < starts.length; k++) {
            if (starts[k] < 0 || starts[k] > ends[k] || ends[k] > text.length()) {
                throw new CrucibleException("assistant span " + k + " [" + starts[k] + ", " + ends[k]
                        + ") is outside the rendered prompt of " + text.length() + " characters");
            }
        }
        Tokenizer.Encoded enc = tokenizer.encodeWithOffsets(text, false);
        boolean[] assistant = new boolean[enc.length()];
        for (int i = 0; i < assistant.length; i++) {
            int s = enc.starts()[i];
            int e = enc.ends()[i];
            for (int k = 0; k < starts.length && !assistant[i]; k++) {
                assistant[i] = s < ends[k] && starts[k] < e; // non-empty overlap
            }
        }
        return new Tokens(enc.ids(), assistant);
    }

    /** Token ids and which of them belong to assistant turns. */
    public record Tokens(int[] ids, boolean[] assistant) {
        public int length() {
            return ids.length;
        }

        /** The ids where the token is an assistant token, {@link #IGNORE_INDEX} elsewhere (not yet shifted). */
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
