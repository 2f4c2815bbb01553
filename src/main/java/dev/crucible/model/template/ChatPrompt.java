package dev.crucible.model.template;

import java.util.List;

/**
 * A rendered conversation and the character spans of its assistant turns (for assistant-only loss).
 *
 * @param text  the prompt text exactly as the template renders it
 * @param spans one span per assistant message that could be located, in order
 */
public record ChatPrompt(String text, List<Span> spans) {

    /** How a span was found. */
    public enum Method {
        /** the template's own {@code {% generation %}} blocks (transformers' assistant mask) */
        GENERATION_TAG,
        /** renders of the conversation up to the turn are prefixes of the full render */
        PREFIX,
        /** the message content found verbatim in the render (templates that rewrite earlier turns) */
        CONTENT_SEARCH
    }

    /**
     * Characters [start, end) of one assistant turn. With {@link Method#PREFIX} the span runs from after the
     * generation prompt to the end of what the template emits for the turn (end-of-turn tokens included).
     *
     * @param message index of the message in the request, or -1 for generation-tag spans
     */
    public record Span(int start, int end, int message, Method method) {
        public String of(String text) {
            return text.substring(start, end);
        }
    }
}
