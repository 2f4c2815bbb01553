package dev.crucible.data.recipe;

import dev.crucible.data.DatasetRow;
import dev.crucible.data.DatasetType;
import dev.crucible.data.PreferenceSample;
import dev.crucible.data.Sample;

import java.util.List;
import java.util.Map;

/**
 * What the steps and the report read of a row, by its type: the text (the type's fields joined by newlines, no
 * template: alpaca's instruction, input when not empty, output; each message's content for sharegpt and messages;
 * the text field of completion and text; chat_template rows are messages rows; preference and kto rows: prompt and
 * completions), the replies (what refusal detection reads: alpaca's output, the assistant
 * messages, a plain text row's text), the number of turns (assistant replies; plain text has none) and the opening
 * instruction (alpaca's instruction, the first user message, a plain row's text) whose first words the report
 * counts. Conversations are validated as {@link DatasetType#toSample} validates them for training, so a row that
 * passes here also trains.
 */
public record RowText(String text, String replies, int turns, String instruction) {

    public static RowText of(DatasetType type, String field, DatasetRow row) {
        return switch (type) {
            case ALPACA -> {
                String instruction = row.requireString("instruction", type.configName());
                String input = row.optionalString("input", type.configName());
                String output = row.requireString("output", type.configName());
                String text = input == null || input.isEmpty() ? instruction + "\n" + output
                        : instruction + "\n" + input + "\n" + output;
                yield new RowText(text, output, 1, instruction);
            }
            case SHAREGPT, MESSAGES, CHAT_TEMPLATE -> conversation(((Sample.Chat) type.toSample(row, field)).messages());
            case COMPLETION, TEXT -> {
                String text = row.requireString(field == null ? type.defaultField() : field, type.configName());
                yield new RowText(text, text, 0, text);
            }
            case PREFERENCE -> {
                PreferenceSample.Paired pair = PreferenceSample.paired(row);
                yield completions(pair.prompt(), pair.chosen(), pair.rejected());
            }
            case KTO -> {
                PreferenceSample.Unpaired one = PreferenceSample.unpaired(row);
                yield completions(one.prompt(), one.completion(), null);
            }
        };
    }

    /**
     * A preference (prompt, chosen, rejected) or KTO (prompt, completion) row: the text is every part, the replies are
     * the chosen completion only (a refused rejected answer is what a preference pair is for), one turn. Each part is a
     * string or a message list, the prompt possibly implicit (null).
     */
    private static RowText completions(Object prompt, Object chosen, Object rejected) {
        StringBuilder text = new StringBuilder();
        for (Object part : new Object[] {prompt, chosen, rejected}) {
            if (part != null) {
                if (!text.isEmpty()) {
                    text.append('\n');
                }
                text.append(partText(part).text());
            }
        }
        RowText reply = partText(chosen);
        String instruction = prompt == null ? reply.instruction() : partText(prompt).text();
        return new RowText(text.toString(), reply.text(), 1, instruction);
    }

    @SuppressWarnings("unchecked")
    private static RowText partText(Object part) {
        return part instanceof List<?> messages ? conversation((List<Map<String, Object>>) messages)
                : new RowText((String) part, (String) part, 0, (String) part);
    }

    private static RowText conversation(List<Map<String, Object>> messages) {
        StringBuilder text = new StringBuilder();
        StringBuilder replies = new StringBuilder();
        int turns = 0;
        String instruction = null;
        for (Map<String, Object> m : messages) {
            String content = content(m.get("content"));
            if (!text.isEmpty()) {
                text.append('\n');
            }
            text.append(content);
            Object role = m.get("role");
            if ("assistant".equals(role)) {
                turns++;
                if (!replies.isEmpty()) {
                    replies.append('\n');
                }
                replies.append(content);
            } else if ("user".equals(role) && instruction == null) {
                instruction = content;
            }
        }
        return new RowText(text.toString(), replies.toString(), turns, instruction == null ? "" : instruction);
    }

    /** A message's content: a string, or the text parts of a list of content parts ({@code {"type": "text", ...}}). */
    static String content(Object content) {
        if (content == null) {
            return "";
        }
        if (content instanceof List<?> parts) {
            StringBuilder sb = new StringBuilder();
            for (Object p : parts) {
                if (p instanceof Map<?, ?> part && part.get("text") instanceof String s) {
                    if (!sb.isEmpty()) {
                        sb.append('\n');
                    }
                    sb.append(s);
                } else if (p instanceof String s) {
                    sb.append(s);
                }
            }
            return sb.toString();
        }
        return String.valueOf(content);
    }
}
