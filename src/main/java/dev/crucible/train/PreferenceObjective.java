package dev.crucible.train;

import dev.crucible.nn.DecoderTraining;
import dev.crucible.nn.LogProbs;
import dev.crucible.nn.Tape;
import dev.crucible.nn.Var;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One micro-batch of preference training, as TRL 1.13's trainers compute it: the concatenated forward of its
 * sequences (chosen rows then rejected rows; for KTO the rows, after a gradient-free forward of the mismatched
 * prompt/completion pairs that estimate the KL term), the per-token log-probabilities, the reference's (see
 * {@link PreferenceReference}), the loss ({@link PreferenceLoss}) and its backward, and the metrics TRL logs.
 * Dropout is off, as TRL's {@code disable_dropout} (default true) turns it off.
 */
final class PreferenceObjective {
    /** What a micro-batch did: its loss, its real tokens, and TRL's metrics of it. */
    record MicroBatch(double loss, long tokens, Map<String, Double> metrics) {
    }

    private final PreferenceMethod method;
    private final PreferenceLoss.Params params;
    private final DecoderTraining policy;
    private final PreferenceReference reference;
    private final int padId;
    private final int maxLength;

    PreferenceObjective(PreferenceMethod method, PreferenceLoss.Params params, DecoderTraining policy,
                        PreferenceReference reference, int padId, int maxLength) {
        this.method = method;
        this.params = params;
        this.policy = policy;
        this.reference = reference;
        this.padId = padId;
        this.maxLength = maxLength;
    }

    PreferenceMethod method() {
        return method;
    }

    /**
     * The sequences a micro-batch runs: for pairs the chosen rows, then the rejected ones; for KTO the rows, then
     * the KL rows (each prompt with the previous row's completion, the first with the last's, as TRL rotates them).
     */
    List<PreferenceExample.Sequence> sequences(List<PreferenceExample> batch) {
        List<PreferenceExample.Sequence> rows = new ArrayList<>(2 * batch.size());
        if (method.paired()) {
            batch.forEach(e -> rows.add(((PreferenceExample.Pair) e).chosen()));
            batch.forEach(e -> rows.add(((PreferenceExample.Pair) e).rejected()));
        } else {
            int n = batch.size();
            for (PreferenceExample e : batch) {
                PreferenceExample.Unpaired u = (PreferenceExample.Unpaired) e;
                rows.add(u.sequence(u.completion(), maxLength));
            }
            for (int i = 0; i < n; i++) {
                PreferenceExample.Unpaired u = (PreferenceExample.Unpaired) batch.get(i);
                rows.add(u.sequence(((PreferenceExample.Unpaired) batch.get((i + n - 1) % n)).completion(), maxLength));
            }
        }
        return rows;
    }

    /**
     * Forward, loss and (when {@code backward}) backward of the micro-batch {@code batch}, whose examples are
     * {@code indices} of the data set (the reference's precomputed values are kept by index).
     */
    MicroBatch run(List<PreferenceExample> batch, int[] indices, boolean backward) {
        List<PreferenceExample.Sequence> all = sequences(batch);
        int n = batch.size();
        double[] ref = method.usesReference() ? reference.completionLogps(indices, all) : null;
        if (!method.paired()) {
            return kto(batch, all, ref, backward);
        }
        PreferenceBatch b = PreferenceBatch.of(all, padId, method == PreferenceMethod.ORPO ? n : 0);
        Tape tape = new Tape();
        Var logits = b.logits(policy, tape);
        Var lp = LogProbs.of(tape, logits, b.targets());
        LogProbs.RowStatistics stats = LogProbs.statistics(logits, completionPositions(b, 2 * n));
        PreferenceLoss.Result r = switch (method) {
            case DPO, IPO -> PreferenceLoss.dpo(method, params, lp.value(), b.layout(),
                    java.util.Arrays.copyOfRange(ref, 0, n), java.util.Arrays.copyOfRange(ref, n, 2 * n));
            case ORPO -> PreferenceLoss.orpo(params, lp.value(), b.layout());
            case SIMPO -> PreferenceLoss.simpo(params, lp.value(), b.layout());
            case KTO -> throw new IllegalStateException();
        };
        if (backward) {
            tape.backward(LogProbs.weightedSum(tape, lp, r.weights()));
        }
        Map<String, Double> metrics = new LinkedHashMap<>();
        if (method.usesReference()) {
            metrics.put("entropy", completionMean(stats.entropy(), b, 0, 2 * n));
            metrics.put("logits/chosen", completionMean(stats.mean(), b, 0, n));
            metrics.put("logits/rejected", completionMean(stats.mean(), b, n, 2 * n));
            metrics.put("mean_token_accuracy", accuracy(stats, b, n));
        } else {
            // TRL averages these over the padded batch, padding included; Crucible over the real tokens
            int last = method == PreferenceMethod.ORPO ? 1 : 0; // ORPO's logits[:, :-1], CPO's all positions
            metrics.put("logits/chosen", realMean(stats.mean(), b, 0, n, last));
            metrics.put("logits/rejected", realMean(stats.mean(), b, n, 2 * n, last));
        }
        metrics.putAll(r.metrics());
        return new MicroBatch(r.loss(), b.tokens(), metrics);
    }

    private MicroBatch kto(List<PreferenceExample> batch, List<PreferenceExample.Sequence> all, double[] ref,
                           boolean backward) {
        int n = batch.size();
        double[] klLogps = PreferenceBatch.of(all.subList(n, 2 * n), padId, 0).completionLogps(policy);
        double kl = 0;
        for (int i = 0; i < n; i++) {
            kl += klLogps[i] - ref[n + i];
        }
        kl = Math.max(kl / n, 0);
        PreferenceBatch b = PreferenceBatch.of(all.subList(0, n), padId, 0);
        Tape tape = new Tape();
        Var logits = b.logits(policy, tape);
        Var lp = LogProbs.of(tape, logits, b.targets());
        LogProbs.RowStatistics stats = LogProbs.statistics(logits, completionPositions(b, n));
        boolean[] desirable = new boolean[n];
        for (int i = 0; i < n; i++) {
            desirable[i] = ((PreferenceExample.Unpaired) batch.get(i)).desirable();
        }
        PreferenceLoss.Result r = PreferenceLoss.kto(params, lp.value(), b.layout(), desirable,
                java.util.Arrays.copyOf(ref, n), kl);
        if (backward) {
            tape.backward(LogProbs.weightedSum(tape, lp, r.weights()));
        }
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("kl", kl);
        metrics.put("entropy", completionMean(stats.entropy(), b, 0, n));
        double[] sums = new double[4];
        for (int i = 0; i < n; i++) {
            int k = desirable[i] ? 0 : 2;
            for (int t = b.layout().completionFrom(i); t < b.layout().scoredTo(i); t++) {
                sums[k] += stats.mean()[t];
                sums[k + 1]++;
            }
        }
        if (sums[1] > 0) {
            metrics.put("logits/chosen", sums[0] / sums[1]);
        }
        if (sums[3] > 0) {
            metrics.put("logits/rejected", sums[2] / sums[3]);
        }
        metrics.putAll(r.metrics());
        return new MicroBatch(r.loss(), b.tokens(), metrics);
    }

    /** The positions scoring completion tokens in rows [0, rows). */
    private static boolean[] completionPositions(PreferenceBatch b, int rows) {
        boolean[] mask = new boolean[b.targets().length];
        for (int r = 0; r < rows; r++) {
            for (int t = b.layout().completionFrom(r); t < b.layout().scoredTo(r); t++) {
                mask[t] = true;
            }
        }
        return mask;
    }

    /** Mean of a per-position value over the completion positions of rows [from, to). */
    private static double completionMean(float[] values, PreferenceBatch b, int from, int to) {
        double sum = 0;
        long count = 0;
        for (int r = from; r < to; r++) {
            for (int t = b.layout().completionFrom(r); t < b.layout().scoredTo(r); t++) {
                sum += values[t];
                count++;
            }
        }
        return count == 0 ? 0 : sum / count;
    }

    /** TRL's {@code mean_token_accuracy}: the chosen completions' tokens that are the arg max of their logits. */
    private static double accuracy(LogProbs.RowStatistics stats, PreferenceBatch b, int chosenRows) {
        long right = 0;
        long count = 0;
        for (int r = 0; r < chosenRows; r++) {
            for (int t = b.layout().completionFrom(r); t < b.layout().scoredTo(r); t++) {
                right += stats.argmax()[t] == b.targets()[t] ? 1 : 0;
                count++;
            }
        }
        return count == 0 ? 0 : (double) right / count;
    }

    /** Mean of a per-position value over the real positions of rows [from, to), each row's last {@code drop} left out. */
    private static double realMean(float[] values, PreferenceBatch b, int from, int to, int drop) {
        double sum = 0;
        long count = 0;
        TokenLayout l = b.layout();
        for (int r = from; r < to; r++) {
            for (int t = r * l.seq(); t < r * l.seq() + l.length()[r] - drop; t++) {
                sum += values[t];
                count++;
            }
        }
        return count == 0 ? 0 : sum / count;
    }
}
