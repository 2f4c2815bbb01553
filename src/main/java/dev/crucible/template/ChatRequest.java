package dev.crucible.template;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What to render: the conversation (each message a map with {@code role}, {@code content} and optionally
 * {@code tool_calls}, {@code reasoning_content}, ...), optional tools and documents, whether to append the
 * generation prompt, and extra template variables (e.g. {@code enable_thinking}).
 */
public record ChatRequest(List<? extends Map<String, ?>> messages, List<?> tools, List<?> documents,
                          boolean addGenerationPrompt, Map<String, ?> extra) {

    public ChatRequest {
        messages = List.copyOf(messages);
        extra = extra == null ? Map.of() : Map.copyOf(extra);
    }

    public static ChatRequest of(List<? extends Map<String, ?>> messages) {
        return new ChatRequest(messages, null, null, false, Map.of());
    }

    public ChatRequest withGenerationPrompt(boolean add) {
        return new ChatRequest(messages, tools, documents, add, extra);
    }

    public ChatRequest withTools(List<?> tools) {
        return new ChatRequest(messages, tools, documents, addGenerationPrompt, extra);
    }

    public ChatRequest withDocuments(List<?> documents) {
        return new ChatRequest(messages, tools, documents, addGenerationPrompt, extra);
    }

    public ChatRequest withExtra(String name, Object value) {
        Map<String, Object> m = new LinkedHashMap<>(extra);
        m.put(name, value);
        return new ChatRequest(messages, tools, documents, addGenerationPrompt, m);
    }

    ChatRequest withMessages(List<? extends Map<String, ?>> messages) {
        return new ChatRequest(messages, tools, documents, addGenerationPrompt, extra);
    }
}
