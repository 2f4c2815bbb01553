package dev.crucible.data.recipe;

import dev.crucible.CrucibleException;
import dev.crucible.model.Tokenizer;

import java.io.Serializable;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What Spark's executors need to judge a row, broadcast once per pass: the steps, the inputs, the benchmark
 * n-grams, the draws of {@code sample} and {@code weight}, and the dedup decisions made so far. Rows are judged from
 * scratch in every pass (parse, then each step in order, replaying the dedups' decisions), with the same code as
 * the embedded engine ({@link RowSteps}, {@link RecipeRow}), so both engines reach the same verdicts.
 */
record SparkJudge(List<Step> steps, List<RecipeInput> inputs, String tokenizer, Benchmarks[] benchmarks, long seed,
                  boolean skipErrors, boolean stats, long[] sampleCount, long[] sampleOf, long[] sampleThreshold,
                  boolean[] weightDraw, long[] weightThreshold, Map<Long, SparkJudge.Removal> dedups)
        implements Serializable {
    /** A dedup's decision about one row: which step removed it, in favour of which row, how similar. */
    record Removal(int step, String partnerWhere, float similarity) implements Serializable {
    }

    /** Tokenizers are loaded once per executor JVM (the directory must exist on every executor). */
    private static final Map<String, Tokenizer> TOKENIZERS = new ConcurrentHashMap<>();

    /**
     * The judge of a recipe before any draw or dedup; {@code sampleCount} -1 (or null) means no sample, the arrays
     * are per input.
     */
    static SparkJudge of(Recipe recipe, Benchmarks[] benchmarks) {
        int inputs = recipe.inputs().size();
        return new SparkJudge(recipe.steps(), recipe.inputs(), recipe.tokenizer() == null ? null : recipe.tokenizer().toString(),
                benchmarks, recipe.seed(), recipe.skipErrors(), recipe.report() != null, null, null, null,
                new boolean[inputs], new long[inputs], Map.of());
    }

    /** With the samples drawn: per input the drawn count (-1: no sample), out of how many rows, the largest key. */
    SparkJudge withSamples(long[] count, long[] of, long[] threshold) {
        return new SparkJudge(steps, inputs, tokenizer, benchmarks, seed, skipErrors, stats, count, of, threshold,
                weightDraw, weightThreshold, dedups);
    }

    /** With the weight draws: per input whether any kept row gets an extra copy, and below which key. */
    SparkJudge withWeights(boolean[] draw, long[] threshold) {
        return new SparkJudge(steps, inputs, tokenizer, benchmarks, seed, skipErrors, stats, sampleCount, sampleOf,
                sampleThreshold, draw, threshold, dedups);
    }

    /** With the dedup decisions so far (ordinal to removal). */
    SparkJudge withDedups(Map<Long, Removal> decided) {
        return new SparkJudge(steps, inputs, tokenizer, benchmarks, seed, skipErrors, stats, sampleCount, sampleOf,
                sampleThreshold, weightDraw, weightThreshold, decided);
    }

    /** A step runner for one task (not thread-safe, and tasks of an executor share this broadcast judge). */
    RowSteps rowSteps() {
        MinHash[] minhash = new MinHash[steps.size()];
        for (int s = 0; s < steps.size(); s++) {
            if (steps.get(s) instanceof Step.MinHashDedup m) {
                minhash[s] = new MinHash(m.numPerm(), m.ngram(), m.seed(), m.hash());
            }
        }
        Tokenizer t = tokenizer == null ? null
                : TOKENIZERS.computeIfAbsent(tokenizer, d -> Tokenizer.load(java.nio.file.Path.of(d)));
        return new RowSteps(steps, t, benchmarks, minhash);
    }

    /** A row's parse: the row, or null with the reason in {@code reason[0]} (or an error when errors stop the run). */
    RecipeRow read(RawRow raw, String[] reason) {
        try {
            return RecipeRow.parse(raw, inputs.get(raw.input()));
        } catch (CrucibleException e) {
            if (!skipErrors) {
                throw RecipeRow.unreadable(e);
            }
            reason[0] = e.getMessage();
            return null;
        }
    }

    /** Whether a readable row is in its input's sample. */
    boolean sampled(RawRow raw) {
        int in = raw.input();
        if (sampleCount == null || sampleCount[in] < 0 || sampleCount[in] >= sampleOf[in]) {
            return true;
        }
        return sampleCount[in] > 0 && RowKeys.drawn(RowKeys.key(seed, RowKeys.SAMPLE, in, raw.file(), raw.number()),
                sampleThreshold[in]);
    }

    /**
     * Judges a readable, sampled row through steps {@code [0, to)} with the task's runner {@code rs}: returns -1 when it survives (converted as the
     * steps say), else the code of the step that removed it with the reason in {@code reason[0]}.
     */
    int judge(RowSteps rs, RecipeRow row, RawRow raw, int to, String[] reason) {
        Removal removal = dedups.get((long) raw.ordinal());
        int at = rs.apply(row, 0, 0, to, reason, s -> removal != null && removal.step() == s
                ? RowSteps.dedupReason(steps.get(s), removal.partnerWhere(), removal.similarity()) : null);
        return at < 0 ? -1 : RowStates.FIRST_STEP + at;
    }

    /** Copies of a kept row in the output (0: the weight draw removed it). */
    int copies(RawRow raw) {
        double w = inputs.get(raw.input()).weight();
        int base = (int) Math.floor(w);
        if (w == base) {
            return base;
        }
        int in = raw.input();
        boolean extra = weightDraw[in] && RowKeys.drawn(RowKeys.key(seed, RowKeys.WEIGHT, in, raw.file(), raw.number()),
                weightThreshold[in]);
        return base + (extra ? 1 : 0);
    }

    String sampleReason(int input) {
        return RowKeys.sampleReason(inputs.get(input).sample(), input, sampleCount[input], sampleOf[input], seed);
    }
}
