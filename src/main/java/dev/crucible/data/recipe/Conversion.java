package dev.crucible.data.recipe;

import dev.crucible.data.DatasetRow;
import dev.crucible.data.DatasetType;
import dev.crucible.data.Sample;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code convert: {to: messages}}: a row in the OpenAI / Hugging Face {@code messages} schema, so that inputs of
 * different formats can be mixed into one output. The row keeps every other field (an {@code id}, a
 * {@code source}) in its order, and the conversation goes to {@code messages}, last:
 * <ul>
 *   <li>alpaca: a user message (the instruction, then a blank line and the input when there is one) and an
 *       assistant message (the output);</li>
 *   <li>sharegpt: each turn's {@code from} becomes a role (human/user, gpt/assistant/model, system, tool) and its
 *       {@code value} the content;</li>
 *   <li>messages: the same messages, moved to a field named {@code messages} when they were under another name.</li>
 * </ul>
 */
final class Conversion {
    private Conversion() {
    }

    static Map<String, Object> toMessages(DatasetType type, String field, DatasetRow row) {
        Map<String, Object> out = new LinkedHashMap<>(row.fields());
        List<Map<String, Object>> messages = new ArrayList<>();
        switch (type) {
            case ALPACA -> {
                String instruction = row.requireString("instruction", type.configName());
                String input = row.optionalString("input", type.configName());
                String output = row.requireString("output", type.configName());
                messages.add(message("user", input == null || input.isEmpty() ? instruction : instruction + "\n\n" + input));
                messages.add(message("assistant", output));
                out.remove("instruction");
                out.remove("input");
                out.remove("output");
            }
            case SHAREGPT, MESSAGES, CHAT_TEMPLATE -> {
                messages.addAll(((Sample.Chat) type.toSample(row, field)).messages());
                out.remove(field == null ? type.defaultField() : field);
            }
            default -> throw new IllegalArgumentException(type + " has no messages form");
        }
        out.remove("messages");
        out.put("messages", messages);
        return out;
    }

    private static Map<String, Object> message(String role, String content) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        return m;
    }
}
