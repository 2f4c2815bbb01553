package dev.crucible.data;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What tokenising a preference data set did: rows read and kept, rows dropped (a prompt that fills
 * {@code max_length}, as TRL drops it; a completion left without tokens), sequences cut to {@code max_length},
 * prompts cut to {@code max_prompt_len}, and rows whose prompt tokens are not a prefix of prompt + completion
 * (a token merging across the boundary; the completion then starts at the prompt's length, as in TRL).
 */
public record PreferenceStats(int rows, int kept, int droppedLongPrompt, int droppedEmptyCompletion,
                              int truncatedSequences, long truncatedTokens, int promptsCut, long promptTokensCut,
                              int boundaryMismatches, long tokens, long completionTokens) {

    /** Running counts while tokenising. */
    static final class Counter {
        int rows;
        int kept;
        int droppedLongPrompt;
        int droppedEmptyCompletion;
        int truncatedSequences;
        long truncatedTokens;
        int promptsCut;
        long promptTokensCut;
        int boundaryMismatches;
        long tokens;
        long completionTokens;

        PreferenceStats stats() {
            return new PreferenceStats(rows, kept, droppedLongPrompt, droppedEmptyCompletion, truncatedSequences,
                    truncatedTokens, promptsCut, promptTokensCut, boundaryMismatches, tokens, completionTokens);
        }
    }

    /** The block {@code crucible train} and {@code data preview} print. */
    public String summary(int maxLength) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
                "%,d rows, %,d kept: %,d tokens (%,d in completions)", rows, kept, tokens, completionTokens));
        for (String w : warnings(maxLength)) {
            sb.append("\n  ").append(w);
        }
        return sb.toString();
    }

    /** One line per thing the user should know about; empty when nothing was cut, dropped or merged. */
    public List<String> warnings(int maxLength) {
        List<String> out = new ArrayList<>();
        if (droppedLongPrompt > 0) {
            out.add(String.format(Locale.ROOT, "%,d rows dropped: the prompt alone has %,d tokens or more (max_length ="
                    + " sequence_len), leaving no completion (TRL drops them too)", droppedLongPrompt, maxLength));
        }
        if (droppedEmptyCompletion > 0) {
            out.add(String.format(Locale.ROOT, "%,d rows dropped: a completion has no tokens left after truncation",
                    droppedEmptyCompletion));
        }
        if (truncatedSequences > 0) {
            out.add(String.format(Locale.ROOT, "%,d sequences cut because of max_length %,d (%,d completion tokens cut"
                    + " off their end)", truncatedSequences, maxLength, truncatedTokens));
        }
        if (promptsCut > 0) {
            out.add(String.format(Locale.ROOT, "%,d prompts cut to max_prompt_len (%,d tokens cut off their start)",
                    promptsCut, promptTokensCut));
        }
        if (boundaryMismatches > 0) {
            out.add(String.format(Locale.ROOT, "%,d rows: the prompt's tokens are not a prefix of prompt + completion (a"
                    + " token merges across the boundary); the completion starts at the prompt's length, as in TRL",
                    boundaryMismatches));
        }
        return out;
    }
}
