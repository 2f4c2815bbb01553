package dev.crucible.io;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/** The "did you mean" of an unknown config key: the known key one or two edits away, or sharing its leading words. */
public final class KeySuggestion {
    private KeySuggestion() {
    }

    /**
     * "; did you mean lora_r?" for keys one or two edits away from a known key (with several unknown keys, each hint
     * names its key: "; did you mean lora_r (for lora_rnak), seed (for sed)?"); "" when nothing is close.
     */
    public static String didYouMean(Collection<String> unknown, Collection<String> known) {
        List<String> hints = new ArrayList<>();
        for (String t : unknown) {
            String best = closest(t, known);
            if (best != null) {
                hints.add(unknown.size() == 1 ? best : best + " (for " + t + ")");
            }
        }
        return hints.isEmpty() ? "" : "; did you mean " + String.join(", ", hints) + "?";
    }

    /** The known key closest to {@code key} within two edits, else one that begins the other (lora_rank, lora_r). */
    static String closest(String key, Collection<String> known) {
        String best = null;
        int bestDistance = 3;
        for (String k : known) {
            int d = distance(key, k);
            if (d < bestDistance) {
                best = k;
                bestDistance = d;
            }
        }
        if (best == null && key.contains("_")) { // lora_rank vs lora_r: a shared prefix word and a close tail
            for (String k : known) {
                if (key.startsWith(k) || k.startsWith(key)) {
                    best = k;
                }
            }
        }
        return best;
    }

    /** Levenshtein distance. */
    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                cur[j] = Math.min(Math.min(cur[j - 1], prev[j]) + 1, prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
