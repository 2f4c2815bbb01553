package dev.crucible.data;

import dev.crucible.CrucibleException;
import dev.crucible.model.template.ChatRequest;
import dev.crucible.model.template.ChatTemplate;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The text-level steps TRL 1.13 takes before tokenising a preference row: extracting an implicit prompt
 * ({@code extract_prompt}) and, for the experimental trainers, rendering conversational rows to strings
 * ({@code maybe_apply_chat_template}).
 */
final class PreferenceTexts {
    private PreferenceTexts() {
    }

    /** A prompt and its two completions; each a String or a message list. */
    record Split(Object prompt, Object chosen, Object rejected) {
    }

    /**
     * The implicit prompt: the longest common prefix of chosen and rejected (characters, or whole messages), as
     * TRL's {@code extract_prompt} finds it, including its step back over a space before the first difference.
     * Refused where TRL would train on nonsense: chosen and rejected that share nothing, and conversations that
     * differ before the assistant's reply (their prompts do not match).
     */
    static Split extractPrompt(PreferenceSample.Paired row) {
        List<?> chosen = asList(row.chosen());
        List<?> rejected = asList(row.rejected());
        int n = Math.min(chosen.size(), rejected.size());
        int idx = n - 1; // Python's loop variable after a loop that never breaks
        for (int i = 0; i < n; i++) {
            if (!chosen.get(i).equals(rejected.get(i))) {
                idx = i > 0 && " ".equals(chosen.get(i - 1)) ? i - 1 : i;
                break;
            }
        }
        if (idx <= 0) {
            throw new CrucibleException(row.row().where() + ": 'chosen' and 'rejected' have no common beginning, so there"
                    + " is no implicit prompt (add a 'prompt' field)");
        }
        if (row.chosen() instanceof String c) {
            String r = (String) row.rejected();
            idx = codePointBoundary(c, idx);
            return new Split(c.substring(0, idx), c.substring(idx), r.substring(idx));
        }
        for (List<?> side : List.of(chosen, rejected)) {
            Object first = side.get(idx);
            if (!(first instanceof Map<?, ?> m) || !"assistant".equals(m.get("role"))) {
                throw new CrucibleException(row.row().where() + ": 'chosen' and 'rejected' differ at message " + idx
                        + ", which is not the assistant's reply: their prompts do not match");
            }
        }
        return new Split(chosen.subList(0, idx), chosen.subList(idx, chosen.size()),
                rejected.subList(idx, rejected.size()));
    }

    private static List<?> asList(Object text) {
        if (text instanceof String s) {
            List<String> chars = new ArrayList<>(s.length());
            for (int i = 0; i < s.length(); i++) {
                chars.add(String.valueOf(s.charAt(i)));
            }
            return chars;
        }
        return (List<?>) text;
    }

    /**
     * A conversational pair as TRL's {@code apply_chat_template} renders it for the experimental trainers: the
     * prompt with the generation prompt (or continuing a final assistant message), each completion as the render
     * of prompt + completion after the prompt, the prompt cut to what all three renders share.
     */
    static Split render(ChatTemplate template, Split s, PreferenceSample row) {
        List<Map<String, Object>> prompt = messages(s.prompt());
        String promptText = renderPrompt(template, prompt, row);
        String promptChosen = render(template, concat(prompt, s.chosen()), false, row);
        promptText = commonPrefix(promptText, promptChosen);
        String promptRejected = s.rejected() == null ? null : render(template, concat(prompt, s.rejected()), false, row);
        if (promptRejected != null) {
            promptText = commonPrefix(promptText, promptRejected);
        }
        return new Split(promptText, promptChosen.substring(promptText.length()),
                promptRejected == null ? null : promptRejected.substring(promptText.length()));
    }

    private static String renderPrompt(ChatTemplate template, List<Map<String, Object>> prompt, PreferenceSample row) {
        Object role = prompt.getLast().get("role");
        if ("user".equals(role) || "tool".equals(role)) {
            return render(template, prompt, true, row);
        }
        if (!"assistant".equals(role)) {
            throw new CrucibleException(row.row().where() + ": the prompt ends with a '" + role + "' message (expected"
                    + " user, tool or assistant)");
        }
        // transformers' continue_final_message: the render cut right after the final message's text
        String text = render(template, prompt, false, row);
        String last = String.valueOf(prompt.getLast().get("content")).strip();
        int at = text.lastIndexOf(last);
        if (at < 0) {
            throw new CrucibleException(row.row().where() + ": the chat template does not show the prompt's final"
                    + " assistant message, so it cannot be continued");
        }
        return text.substring(0, at + last.length());
    }

    static String render(ChatTemplate template, List<Map<String, Object>> messages, boolean generationPrompt,
                         PreferenceSample row) {
        if (template == null) {
            throw new CrucibleException(row.row().where() + ": a conversational row needs a chat template (set"
                    + " chat_template or use a model that has one)");
        }
        try {
            return template.render(ChatRequest.of(messages).withGenerationPrompt(generationPrompt));
        } catch (CrucibleException e) {
            throw new CrucibleException(row.row().where() + ": the chat template failed: " + e.getMessage(), e);
        }
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> messages(Object text) {
        return (List<Map<String, Object>>) text;
    }

    static List<Map<String, Object>> concat(List<Map<String, Object>> prompt, Object completion) {
        List<Map<String, Object>> all = new ArrayList<>(prompt);
        all.addAll(messages(completion));
        return all;
    }

    private static String commonPrefix(String a, String b) {
        int n = Math.min(a.length(), b.length());
        int i = 0;
        while (i < n && a.charAt(i) == b.charAt(i)) {
            i++;
        }
        return a.substring(0, codePointBoundary(a, i));
    }

    /** {@code i}, or one less where it would split a surrogate pair (Python indexes strings by code point). */
    private static int codePointBoundary(String s, int i) {
        return i > 0 && i < s.length() && Character.isLowSurrogate(s.charAt(i)) && Character.isHighSurrogate(s.charAt(i - 1))
                ? i - 1 : i;
    }
}
