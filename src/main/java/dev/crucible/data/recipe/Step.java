package dev.crucible.data.recipe;

import java.util.List;
import java.util.regex.Pattern;

/**
 * One entry of a recipe's {@code steps}, applied in order to the rows the earlier steps kept. {@link #name()} is
 * what a removed row's {@code removed_by} says.
 */
public sealed interface Step extends java.io.Serializable {

    String name();

    /** Whether the step must see every row before it can decide about any (a dedup); the others decide row by row. */
    default boolean global() {
        return false;
    }

    /**
     * {@code filter}: drop rows outside the token or turn bounds, refusals, rows (not) matching a regex. Token counts
     * are of the row's text ({@link RowText}) without special tokens; bounds of 0 are unset.
     */
    record Filter(int minTokens, int maxTokens, int minTurns, int maxTurns, boolean dropRefusals, Pattern regex,
                  Pattern notRegex) implements Step {
        @Override
        public String name() {
            return "filter";
        }

        boolean needsTokens() {
            return minTokens > 0 || maxTokens > 0;
        }
    }

    /** {@code dedup: {method: exact}}: rows with identical text; the first occurrence stays. */
    record ExactDedup() implements Step {
        @Override
        public String name() {
            return "dedup:exact";
        }

        @Override
        public boolean global() {
            return true;
        }
    }

    /**
     * {@code dedup: {method: minhash}}: near duplicates by MinHash LSH; candidates of a shared band are confirmed by
     * the estimated Jaccard of their whole signatures, and one row per cluster (the first) stays.
     */
    record MinHashDedup(double threshold, int numPerm, int ngram, long seed, MinHash.ShingleHash hash,
                        LshParams lsh) implements Step {
        @Override
        public String name() {
            return "dedup:minhash";
        }

        @Override
        public boolean global() {
            return true;
        }
    }

    /**
     * {@code decontaminate}: rows sharing a word {@code ngram} with any string field of a benchmark file
     * ({@code against}: local paths, resolved).
     */
    record Decontaminate(List<String> against, int ngram) implements Step {
        public Decontaminate {
            against = List.copyOf(against);
        }

        @Override
        public String name() {
            return "decontaminate";
        }
    }

    /** {@code convert: {to: messages}}: alpaca and sharegpt rows become {@code messages} rows. */
    record Convert() implements Step {
        @Override
        public String name() {
            return "convert";
        }
    }
}
