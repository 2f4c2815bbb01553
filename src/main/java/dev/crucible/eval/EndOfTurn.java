package dev.crucible.eval;

import dev.crucible.model.Tokenizer;
import dev.crucible.model.template.ChatRequest;
import dev.crucible.model.template.ChatTemplate;

import java.util.List;
import java.util.Map;

/**
 * The token a chat template writes right after an assistant reply ({@code <|im_end|>} for ChatML, {@code <|eot_id|>}
 * for Llama 3, {@code <end_of_turn>} for Gemma, {@code <|end|>} for Phi-3): what a chat model emits when its turn is
 * over, so generation stops there. Found as Axolotl's turn finder finds turns: render a conversation whose reply is a
 * unique placeholder and read what follows it. Chat models list this token among the eos ids of their
 * {@code generation_config.json}; this covers those whose files do not (fine-tunes of base models, tiny test models).
 */
public final class EndOfTurn {
    private static final String PLACEHOLDER = "CRUCIBLE_END_OF_TURN_PROBE_7f3a";

    private EndOfTurn() {
    }

    /** The text the template writes right after an assistant reply, up to the next turn; null if it cannot be told. */
    public static String suffix(ChatTemplate template) {
        String rendered;
        try {
            rendered = template.render(ChatRequest.of(List.of(Map.of("role", "user", "content", "Hi"),
                    Map.of("role", "assistant", "content", PLACEHOLDER))).withGenerationPrompt(false));
        } catch (RuntimeException e) {
            return null; // a template that insists on other roles or variables: fall back to the eos ids alone
        }
        int at = rendered.lastIndexOf(PLACEHOLDER);
        return at < 0 ? null : rendered.substring(at + PLACEHOLDER.length());
    }

    /**
     * The id of the special token that starts the text after an assistant reply (skipping whitespace the template puts
     * first), or null when that text does not start with a special token.
     */
    public static Integer tokenId(ChatTemplate template, Tokenizer tokenizer) {
        String after = suffix(template);
        if (after == null || after.isBlank()) {
            return null;
        }
        int[] ids = tokenizer.encode(after.stripLeading(), false);
        return ids.length > 0 && tokenizer.specialTokenIds().contains(ids[0]) ? ids[0] : null;
    }
}
