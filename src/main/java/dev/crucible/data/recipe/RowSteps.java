package dev.crucible.data.recipe;

import dev.crucible.model.Tokenizer;

import java.util.List;
import java.util.Locale;

/**
 * The row-by-row part of a recipe, shared by both engines: filters, decontamination and conversion decide or change
 * one row at a time; dedup steps only compute the row's key here (signature or text hash) and decide later over all
 * rows. Not thread-safe: each worker thread has its own instance (its word buffers and MinHash scratch), over
 * shared immutable inputs (tokenizer, benchmark n-grams, MinHash permutations). Time spent per step is counted for
 * the run's summary.
 */
final class RowSteps {
    private final List<Step> steps;
    private final Tokenizer tokenizer;
    private final Benchmarks[] benchmarks;
    private final MinHash.Signer[] signers;
    private final Words words = new Words();
    private final long[] nanos;
    private String countedText;
    private int countedTokens;

    /** @param benchmarks per step index, the decontamination n-grams (null elsewhere) */
    RowSteps(List<Step> steps, Tokenizer tokenizer, Benchmarks[] benchmarks, MinHash[] minhash) {
        this.steps = steps;
        this.tokenizer = tokenizer;
        this.benchmarks = benchmarks;
        this.signers = new MinHash.Signer[steps.size()];
        for (int i = 0; i < steps.size(); i++) {
            signers[i] = minhash[i] == null ? null : minhash[i].signer();
        }
        this.nanos = new long[steps.size()];
    }

    /**
     * Runs steps {@code [from, to)} on a row that the steps before {@code from} kept. Steps before {@code decideFrom}
     * were already decided for this row (it passed them): only their conversions are redone. Returns the index of
     * the step that removes the row, with its reason in {@code reason[0]}, or -1.
     */
    int apply(RecipeRow row, int from, int decideFrom, int to, String[] reason) {
        return apply(row, from, decideFrom, to, reason, s -> null);
    }

    /** Whether (and why) dedup step {@code s} removed the row being judged: null when it did not. */
    interface DedupDecisions {
        String reason(int step);
    }

    /**
     * As {@link #apply(RecipeRow, int, int, int, String[])}, for an engine that replays the dedups already decided
     * instead of skipping the rows they removed: at each dedup step, {@code dedups} says whether it removed this row.
     */
    int apply(RecipeRow row, int from, int decideFrom, int to, String[] reason, DedupDecisions dedups) {
        for (int s = from; s < to; s++) {
            Step step = steps.get(s);
            if (step instanceof Step.Convert) {
                row.convertToMessages();
                continue;
            }
            if (step.global()) {
                String why = dedups.reason(s);
                if (why != null) {
                    reason[0] = why;
                    return s;
                }
                continue;
            }
            if (s < decideFrom) {
                continue;
            }
            long t0 = System.nanoTime();
            String why = switch (step) {
                case Step.Filter f -> filter(f, row.text());
                case Step.Decontaminate d -> benchmarks[s].match(row.text().text(), words);
                default -> null;
            };
            nanos[s] += System.nanoTime() - t0;
            if (why != null) {
                reason[0] = why;
                return s;
            }
        }
        return -1;
    }

    /** Why a filter drops the row, or null. The cheap conditions are checked before counting tokens. */
    String filter(Step.Filter f, RowText t) {
        if (f.minTurns() > 0 && t.turns() < f.minTurns()) {
            return plural(t.turns(), "turn") + ", fewer than min_turns " + f.minTurns();
        }
        if (f.maxTurns() > 0 && t.turns() > f.maxTurns()) {
            return plural(t.turns(), "turn") + ", more than max_turns " + f.maxTurns();
        }
        if (f.dropRefusals()) {
            String phrase = Refusals.find(t.replies());
            if (phrase != null) {
                return "refusal: the reply says '" + phrase + "'";
            }
        }
        if (f.regex() != null && !f.regex().matcher(t.text()).find()) {
            return "does not match regex '" + f.regex().pattern() + "'";
        }
        if (f.notRegex() != null && f.notRegex().matcher(t.text()).find()) {
            return "matches not_regex '" + f.notRegex().pattern() + "'";
        }
        if (f.needsTokens()) {
            int n = tokens(t.text());
            if (f.minTokens() > 0 && n < f.minTokens()) {
                return plural(n, "token") + ", fewer than min_tokens " + f.minTokens();
            }
            if (f.maxTokens() > 0 && n > f.maxTokens()) {
                return plural(n, "token") + ", more than max_tokens " + f.maxTokens();
            }
        }
        return null;
    }

    /** The MinHash signature of the row for dedup step {@code s}; returns its shingle count (0: no words). */
    int sign(int s, RecipeRow row, int[] out, int off) {
        long t0 = System.nanoTime();
        int n = signers[s].sign(row.text().text(), out, off);
        nanos[s] += System.nanoTime() - t0;
        return n;
    }

    /** The exact-dedup key of the row: two independent 64-bit hashes of its text's UTF-8 bytes. */
    long[] textHash(int s, RecipeRow row) {
        long t0 = System.nanoTime();
        byte[] bytes = row.text().text().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        long[] h = {Xxh3.hash64(bytes, 0, bytes.length, 0), Xxh3.hash64(bytes, 0, bytes.length, 0x5851F42D4C957F2DL)};
        nanos[s] += System.nanoTime() - t0;
        return h;
    }

    /** The reason of a row a dedup removed: the row it duplicates ({@code where}) and, for MinHash, how similar. */
    static String dedupReason(Step step, String where, double similarity) {
        if (step instanceof Step.MinHashDedup m) {
            return NearDuplicates.reason(where, similarity, m.threshold());
        }
        return "exact duplicate of " + where;
    }

    /** Tokens of the text without special tokens; words ({@link Words}) when the recipe has no tokenizer. */
    int tokens(String text) {
        if (text != countedText) {
            countedTokens = tokenizer != null ? tokenizer.encode(text, false).length : words.split(text).count();
            countedText = text;
        }
        return countedTokens;
    }

    Words words() {
        return words;
    }

    long[] nanos() {
        return nanos;
    }

    private static String plural(int n, String unit) {
        return String.format(Locale.ROOT, "%,d %s%s", n, unit, n == 1 ? "" : "s");
    }
}
