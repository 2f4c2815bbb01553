package dev.crucible.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.data.PreferenceExample;
import dev.crucible.CrucibleException;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.io.SafetensorsWriter;
import dev.crucible.nn.DecoderTraining;
import dev.crucible.autograd.LogProbs;
import dev.crucible.autograd.Tape;
import dev.crucible.autograd.Var;
import dev.crucible.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * One micro-batch of preference training, as TRL 1.13's trainers compute it: the concatenated forward of its
 * sequences (chosen rows then rejected rows; for KTO the rows, after a gradient-free forward of the mismatched
 * prompt/completion pairs that estimate the KL term), the per-token log-probabilities, the reference's (see
 * {@link PreferenceReference}), the loss ({@link PreferenceLoss}) and its backward, and the metrics TRL logs.
 * Dropout is off, as TRL's {@code disable_dropout} (default true) turns it off.
 */
public final class PreferenceObjective implements Objective<PreferenceExample> {
    private static final String REFERENCE_FILE = "reference_logps.safetensors";

    /**
     * The method, its parameters and whether the reference is precomputed (TRL's {@code precompute_ref_log_probs};
     * Crucible's default is true: the reference never changes, so each example's reference forward runs once instead
     * of once per epoch, and full fine-tuning holds no second copy of the weights; false runs the reference in every
     * step, as TRL's default does).
     */
    public record Config(PreferenceMethod method, PreferenceLoss.Params params, boolean precomputeReference) {
    }

    private final PreferenceMethod method;
    private final PreferenceLoss.Params params;
    private final DecoderTraining policy;
    private final PreferenceReference reference;
    private final int padId;
    private final int maxLength;
    /** Real tokens trained on so far (TRL's cumulative {@code num_tokens}). */
    private long trainedTokens;
    /** The micro-batch size precomputation batches by. */
    private final int microBatchSize;
    /** Validation examples are kept in the reference after the training ones. */
    private int trainExamples;

    PreferenceObjective(Config config, DecoderTraining policy, PreferenceReference reference, int padId, int maxLength,
                        int microBatchSize) {
        this.method = config.method();
        this.params = config.params();
        this.policy = policy;
        this.reference = reference;
        this.padId = padId;
        this.maxLength = maxLength;
        this.microBatchSize = microBatchSize;
    }

    @Override
    public String name() {
        return method.configName();
    }

    @Override
    public ObjectNode describe() {
        ObjectNode d = new ObjectMapper().createObjectNode();
        d.put("rl_beta", params.beta());
        switch (method) {
            case DPO -> {
                d.put("dpo_label_smoothing", params.labelSmoothing());
                d.put("rpo_alpha", params.rpoAlpha());
            }
            case SIMPO -> {
                d.put("simpo_gamma", params.simpoGamma());
                d.put("cpo_alpha", params.cpoAlpha());
            }
            case KTO -> {
                d.put("kto_desirable_weight", params.desirableWeight());
                d.put("kto_undesirable_weight", params.undesirableWeight());
            }
            default -> { }
        }
        if (reference != null) {
            d.put("precompute_ref_log_probs", reference.isPrecomputed());
        }
        return d;
    }

    /** KTO pairs each row with its micro-batch neighbour's completion, so its batches keep the data's order (as TRL's). */
    @Override
    public boolean sequential() {
        return !method.paired();
    }

    @Override
    public List<String> chartMetrics() {
        return method.paired() ? List.of("rewards/accuracies", "rewards/margins") : List.of("rewards/margins", "kl");
    }

    /**
     * Precomputes the reference of every training and validation example, in micro-batches as training forms them
     * (KTO's KL rows depend on their neighbours). A resumed run has them from its checkpoint.
     */
    @Override
    public void prepare(List<PreferenceExample> train, List<PreferenceExample> validation) {
        trainExamples = train.size();
        if (reference == null || !reference.isPrecomputed()) {
            return;
        }
        reference.allocate(train.size() + validation.size());
        List<int[]> batches = new ArrayList<>();
        for (int from = 0; from < train.size(); from += microBatchSize) {
            batches.add(range(from, Math.min(train.size(), from + microBatchSize)));
        }
        for (int from = 0; from < validation.size(); from += microBatchSize) {
            batches.add(range(train.size() + from, train.size() + Math.min(validation.size(), from + microBatchSize)));
        }
        for (int[] indices : batches) {
            if (reference.has(indices)) {
                continue;
            }
            List<PreferenceExample> examples = new ArrayList<>(indices.length);
            for (int i : indices) {
                examples.add(i < train.size() ? train.get(i) : validation.get(i - train.size()));
            }
            reference.precompute(indices, sequences(examples));
        }
        reference.finishPrecomputing();
    }

    private static int[] range(int from, int to) {
        int[] out = new int[to - from];
        for (int i = 0; i < out.length; i++) {
            out[i] = from + i;
        }
        return out;
    }

    @Override
    public MicroBatch train(List<PreferenceExample> batch, int[] indices, SplittableRandom dropout) {
        Step s = run(batch, indices, true);
        trainedTokens += s.tokens;
        Map<String, Double> metrics = new LinkedHashMap<>();
        if (method.usesReference()) {
            metrics.put("num_tokens", (double) trainedTokens);
        }
        metrics.putAll(s.metrics);
        return new MicroBatch(s.loss, 1, s.tokens, s.inputTokens, metrics);
    }

    /** TRL's evaluation: the loss and every metric, averaged over the micro-batches, as {@code eval_*}. */
    @Override
    public Map<String, Double> evaluate(List<PreferenceExample> examples, int microBatchSize) {
        Map<String, double[]> sums = new LinkedHashMap<>();
        for (int from = 0; from < examples.size(); from += microBatchSize) {
            int to = Math.min(examples.size(), from + microBatchSize);
            Step s = run(examples.subList(from, to), range(trainExamples + from, trainExamples + to), false);
            Map<String, Double> m = new LinkedHashMap<>();
            m.put("loss", s.loss);
            m.putAll(s.metrics);
            m.forEach((k, v) -> {
                double[] acc = sums.computeIfAbsent(k, x -> new double[2]);
                acc[0] += v;
                acc[1]++;
            });
        }
        Map<String, Double> out = new LinkedHashMap<>();
        sums.forEach((k, v) -> out.put("eval_" + k, v[0] / v[1]));
        return out;
    }

    @Override
    public void save(Path checkpointDir, ObjectNode state) {
        state.put("num_tokens", trainedTokens);
        state.put("reference_micro_batch_size", microBatchSize);
        if (reference != null && reference.isPrecomputed()) {
            float[] values = reference.values();
            SafetensorsWriter.write(checkpointDir.resolve(REFERENCE_FILE),
                    Map.of("reference_logps", Tensor.ofFloats(values, values.length)));
        }
    }

    @Override
    public void restore(Path checkpointDir, JsonNode state) {
        trainedTokens = state.path("num_tokens").asLong();
        if (reference != null && reference.isPrecomputed()) {
            if (sequential() && state.path("reference_micro_batch_size").asInt() != microBatchSize) {
                throw new CrucibleException("cannot resume from " + checkpointDir + ": its precomputed KL reference pairs"
                        + " rows in micro-batches of " + state.path("reference_micro_batch_size").asInt()
                        + ", this run has micro_batch_size " + microBatchSize + "; resume with the checkpoint's size");
            }
            Path file = checkpointDir.resolve(REFERENCE_FILE);
            if (!Files.isRegularFile(file)) {
                throw new CrucibleException("cannot resume from " + checkpointDir + ": it has no " + REFERENCE_FILE
                        + " (the reference log-probabilities precomputed before the run)");
            }
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                reference.restore(f.tensor("reference_logps").toFloatArray());
            }
        }
    }

    /** One micro-batch's loss, tokens and metrics. */
    private record Step(double loss, long tokens, long inputTokens, Map<String, Double> metrics) {
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
    private Step run(List<PreferenceExample> batch, int[] indices, boolean backward) {
        List<PreferenceExample.Sequence> all = sequences(batch);
        int n = batch.size();
        double[] ref = method.usesReference() ? reference.completionLogps(indices, all) : null;
        if (!method.paired()) {
            return kto(batch, all, ref, backward);
        }
        PreferenceBatch b = PreferenceBatch.of(all, padId, method == PreferenceMethod.ORPO ? n : 0);
        Tape tape = backward ? new Tape() : Tape.inference();
        // DPO and IPO log statistics of the completions' logits; ORPO and SimPO the mean over every real position
        LogProbs.Result head = b.logProbs(policy, tape,
                method.usesReference() ? completionPositions(b, 2 * n) : realPositions(b));
        Var lp = head.logProbs();
        LogProbs.RowStatistics stats = head.statistics();
        PreferenceLoss.Result r = switch (method) {
            case DPO, IPO -> PreferenceLoss.dpo(method, params, lp.value(), b.layout(),
                    Arrays.copyOfRange(ref, 0, n), Arrays.copyOfRange(ref, n, 2 * n));
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
        return new Step(r.loss(), b.tokens(), (long) b.rows() * b.layout().seq(), metrics);
    }

    private Step kto(List<PreferenceExample> batch, List<PreferenceExample.Sequence> all, double[] ref,
                           boolean backward) {
        int n = batch.size();
        double[] klLogps = PreferenceBatch.of(all.subList(n, 2 * n), padId, 0).completionLogps(policy);
        double kl = 0;
        for (int i = 0; i < n; i++) {
            kl += klLogps[i] - ref[n + i];
        }
        kl = Math.max(kl / n, 0);
        PreferenceBatch b = PreferenceBatch.of(all.subList(0, n), padId, 0);
        Tape tape = backward ? new Tape() : Tape.inference();
        LogProbs.Result head = b.logProbs(policy, tape, completionPositions(b, n));
        Var lp = head.logProbs();
        LogProbs.RowStatistics stats = head.statistics();
        boolean[] desirable = new boolean[n];
        for (int i = 0; i < n; i++) {
            desirable[i] = ((PreferenceExample.Unpaired) batch.get(i)).desirable();
        }
        PreferenceLoss.Result r = PreferenceLoss.kto(params, lp.value(), b.layout(), desirable,
                Arrays.copyOf(ref, n), kl);
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
        return new Step(r.loss(), b.tokens(), (long) b.rows() * b.layout().seq(), metrics);
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

    /** Every real (not padding) position of the batch. */
    private static boolean[] realPositions(PreferenceBatch b) {
        boolean[] mask = new boolean[b.targets().length];
        TokenLayout l = b.layout();
        for (int r = 0; r < l.rows(); r++) {
            java.util.Arrays.fill(mask, r * l.seq(), r * l.seq() + l.length()[r], true);
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
