package dev.crucible.data.recipe;

import java.util.List;
import java.util.Locale;

/**
 * Stock refusal and disclaimer phrases of assistant replies, as the community's "unfiltered" cleanings of ShareGPT
 * and WizardLM data remove them. Matched case-insensitively, with typographic apostrophes read as {@code '}, in
 * a row's replies ({@link RowText#replies()}); the list is the README's, phrase for phrase.
 */
final class Refusals {
    static final List<String> PHRASES = List.of(
            "as an ai language model",
            "as a language model",
            "as an ai model",
            "as an ai assistant, i cannot",
            "i'm sorry, but i cannot",
            "i'm sorry, but i can't",
            "i am sorry, but i cannot",
            "i apologize, but i cannot",
            "i cannot fulfill",
            "i can't fulfill",
            "i cannot comply",
            "i can't comply",
            "i cannot assist with",
            "i can't assist with",
            "i'm unable to assist",
            "i am unable to assist",
            "i'm not able to provide",
            "i am not able to provide",
            "i cannot provide assistance",
            "against my programming",
            "my programming prohibits",
            "openai's content policy",
            "violates openai's",
            "it is not appropriate for me to");

    private Refusals() {
    }

    /** The first phrase found in {@code replies}, or null. */
    static String find(String replies) {
        String text = replies.toLowerCase(Locale.ROOT).replace('\u2019', '\'');
        for (String p : PHRASES) {
            if (text.contains(p)) {
                return p;
            }
        }
        return null;
    }
}
