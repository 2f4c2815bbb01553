package dev.crucible.data;

import dev.crucible.CrucibleException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One preference row in TRL's formats, before tokenisation. Each text is either a string (TRL's "standard" format)
 * or a list of {@code {role, content}} messages ("conversational", rendered with the chat template).
 *
 * <ul>
 *   <li>{@link Paired} ({@code type: preference}): {@code prompt}, {@code chosen}, {@code rejected}; without
 *       {@code prompt} the prompt is implicit, the longest common prefix of chosen and rejected.</li>
 *   <li>{@link Unpaired} ({@code type: kto}): {@code prompt}, {@code completion}, {@code label} (true = desirable).</li>
 * </ul>
 */
public sealed interface PreferenceSample {
    DatasetRow row();

    /** {@code prompt} is null when implicit; every text is a String or a message list of the same kind. */
    record Paired(DatasetRow row, Object prompt, Object chosen, Object rejected) implements PreferenceSample {
    }

    record Unpaired(DatasetRow row, Object prompt, Object completion, boolean desirable) implements PreferenceSample {
    }

    /** A {@code type: preference} row; missing, empty or mixed fields are errors naming the row. */
    static Paired paired(DatasetRow row) {
        String type = "preference";
        Object chosen = text(row, "chosen", type, true);
        Object rejected = text(row, "rejected", type, true);
        Object prompt = text(row, "prompt", type, false);
        boolean chat = chosen instanceof List<?>;
        if (chat != rejected instanceof List<?>) {
            throw new CrucibleException(row.where() + ": 'chosen' and 'rejected' must both be strings or both be message"
                    + " lists");
        }
        if (prompt != null && chat != prompt instanceof List<?>) {
            throw new CrucibleException(row.where() + ": 'prompt' is a " + (chat ? "string" : "message list") + " but"
                    + " 'chosen' and 'rejected' are " + (chat ? "message lists" : "strings") + "; use the same kind");
        }
        return new Paired(row, prompt, chosen, rejected);
    }

    /** A {@code type: kto} row. */
    static Unpaired unpaired(DatasetRow row) {
        String type = "kto";
        Object completion = text(row, "completion", type, true);
        Object prompt = text(row, "prompt", type, true);
        if (completion instanceof List<?> != prompt instanceof List<?>) {
            throw new CrucibleException(row.where() + ": 'prompt' and 'completion' must both be strings or both be"
                    + " message lists");
        }
        Object label = row.fields().get("label");
        if (!(label instanceof Boolean desirable)) {
            throw new CrucibleException(row.where() + ": 'label' must be true (desirable) or false (undesirable), got "
                    + (label == null ? "nothing" : label));
        }
        return new Unpaired(row, prompt, completion, desirable);
    }

    /**
     * Paired rows as unpaired ones, as TRL's {@code unpair_preference_dataset} does for KTO: in batches of 1,000 rows,
     * the chosen completions (desirable) of the batch, then its rejected ones.
     */
    static List<Unpaired> unpair(List<Paired> rows) {
        List<Unpaired> out = new ArrayList<>(2 * rows.size());
        for (int from = 0; from < rows.size(); from += 1000) {
            List<Paired> batch = rows.subList(from, Math.min(rows.size(), from + 1000));
            for (boolean chosen : new boolean[] {true, false}) {
                for (Paired p : batch) {
                    Object prompt = p.prompt();
                    Object completion = chosen ? p.chosen() : p.rejected();
                    if (prompt == null) {
                        PreferenceTexts.Split s = PreferenceTexts.extractPrompt(p);
                        prompt = s.prompt();
                        completion = chosen ? s.chosen() : s.rejected();
                    }
                    out.add(new Unpaired(p.row(), prompt, completion, chosen));
                }
            }
        }
        return out;
    }

    /** A string or a non-empty list of {role, content} messages; {@code required} fields must be present. */
    private static Object text(DatasetRow row, String field, String type, boolean required) {
        Object v = row.fields().get(field);
        if (v == null) {
            if (required) {
                throw row.missing(field, type);
            }
            return null;
        }
        if (v instanceof List<?> list) {
            return messages(row, field, list);
        }
        String s = row.requireString(field, type);
        if (s.isEmpty() && !field.equals("prompt")) {
            throw new CrucibleException(row.where() + ": '" + field + "' is empty (a completion needs at least one"
                    + " character)");
        }
        return s;
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> messages(DatasetRow row, String field, List<?> list) {
        if (list.isEmpty()) {
            throw new CrucibleException(row.where() + ": '" + field + "' is an empty message list");
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            if (!(list.get(i) instanceof Map<?, ?> m) || !(m.get("role") instanceof String)) {
                throw new CrucibleException(row.where() + ": " + field + "[" + i + "] must be a message {role, content}");
            }
            Object content = m.get("content");
            if (content == null && m.get("tool_calls") == null) {
                throw new CrucibleException(row.where() + ": " + field + "[" + i + "] has no 'content'");
            }
            if (!field.equals("prompt") && content instanceof String s && s.isEmpty() && m.get("tool_calls") == null
                    && i == list.size() - 1) {
                throw new CrucibleException(row.where() + ": " + field + "[" + i + "] has empty content (a completion"
                        + " needs at least one character)");
            }
            out.add(new LinkedHashMap<>((Map<String, Object>) m));
        }
        return out;
    }
}
