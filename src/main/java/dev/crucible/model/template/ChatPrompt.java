package dev.crucible.model.template;

import java.util.List;

/**
 * A rendered conversation and where its messages sit in the text (for the loss mask of supervised fine-tuning).
 *
 * @param text  the prompt text exactly as the template renders it
 * @param turns the located messages, in message order (see {@link ChatTemplate#apply(ChatRequest, java.util.Set)})
 */
public record ChatPrompt(String text, List<Turn> turns) {

    public ChatPrompt {
        turns = List.copyOf(turns);
    }

    /** The turn of message {@code message}, or null when it was not located (or not asked for). */
    public Turn turn(int message) {
        for (Turn t : turns) {
            if (t.message() == message) {
                return t;
            }
        }
        return null;
    }

    /**
     * Where one message sits in the text: characters [start, end) are what the template rendered from the message
     * (its content, and its reasoning and tool calls where the template prints them), [end, endOfTurn) the
     * closing the template writes after it ({@code <|im_end|>\n} for ChatML, {@code <|eot_id|>} for Llama 3).
     *
     * @param message index of the message in the request
     */
    public record Turn(int message, String role, int start, int end, int endOfTurn) {
        public Turn {
            if (start < 0 || start > end || end > endOfTurn) {
                throw new IllegalArgumentException("turn " + message + ": bad range " + start + ", " + end + ", " + endOfTurn);
            }
        }

        /** The text the template rendered from the message. */
        public String of(String text) {
            return text.substring(start, end);
        }

        /** The closing the template writes after the message. */
        public String endOfTurnOf(String text) {
            return text.substring(end, endOfTurn);
        }
    }
}
