package dev.crucible.autograd;

import dev.crucible.CrucibleException;
import dev.crucible.tensor.Gemm;
import dev.crucible.tensor.VectorMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * The output layer fused with what every loss reads from it: the per-token log-probabilities of given next tokens
 * (the causal-LM cross entropy is their negated mean; the preference losses are functions of them, TRL's
 * {@code selective_log_softmax}), and the statistics of the logits that TRL logs beside them.
 *
 * <p>The logits [tokens, vocab] are never held whole: with a 49k vocabulary they are 0.2 MB per token, 0.8 GB for a
 * 4,096-token DPO batch, and as much again for their gradient. The head runs over {@link #CHUNK_ROWS} rows at a time
 * and only over the rows something reads (a preference loss scores the completions, not the prompts); each chunk's
 * logits are reduced to what is kept (log-sum-exp, the target's log-probability, the statistics) before the next.
 * Backward needs each row's softmax again: with a frozen head (LoRA, QLoRA, a frozen reference) the gradient of each
 * log-probability with respect to its hidden row, {@code d lp / d h = (onehot(t) − p) W}, is computed in forward
 * from the chunk still in hand, so backward only scales it; with a trained head (full fine-tuning) the chunk's
 * logits are recomputed in backward, one extra product instead of two [tokens, vocab] arrays.
 */
public final class LogProbs {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Rows of logits computed at once: 50 MB at a 49k vocabulary, and enough rows for the products to run at speed. */
    public static final int CHUNK_ROWS = 256;

    private LogProbs() {
    }

    /** The output layer: logits = {@code hidden · weightᵀ + bias} (bias may be null), soft-capped when {@code softCap > 0}. */
    public record Head(Var weight, Var bias, double softCap) {
    }

    /**
     * What TRL logs about the logits of each row: the mean over the vocabulary, the entropy of the softmax and the
     * arg max (first index of the largest logit, as {@code torch.argmax}), for the rows asked for; 0, 0 and -1 elsewhere.
     */
    public record RowStatistics(float[] mean, float[] entropy, int[] argmax) {
    }

    /** The log-probabilities [rows] (0 where there is no target) and, when asked for, the statistics of the logits. */
    public record Result(Var logProbs, RowStatistics statistics) {
    }

    /**
     * {@code log softmax(head(hidden[i]))[targets[i]]} for each row i of {@code hidden} [n, features] whose target is
     * not {@link Ops#IGNORE_INDEX}, and the statistics of the rows flagged in {@code statisticsRows} (null: none).
     * Backward sends {@code g_i · (onehot(t_i) − softmax_i)} through the head into {@code hidden} and, when they
     * train, into the head's weight and bias.
     */
    public static Result of(Tape tape, Var hidden, Head head, int[] targets, boolean[] statisticsRows) {
        int n = hidden.dim(0);
        int features = hidden.dim(1);
        Var w = head.weight();
        int vocab = w.dim(0);
        if (targets.length != n || w.dim(1) != features || (statisticsRows != null && statisticsRows.length != n)) {
            throw new IllegalArgumentException(targets.length + " targets for " + n + " rows of " + features
                    + " features, head " + Arrays.toString(w.shape()));
        }
        int[] rows = selectedRows(targets, statisticsRows);
        for (int i : rows) {
            int t = targets[i];
            if (t != Ops.IGNORE_INDEX && (t < 0 || t >= vocab)) {
                throw new CrucibleException("token " + t + " at position " + i + " is outside the vocabulary of " + vocab);
            }
        }
        boolean headTrains = w.requiresGrad() || (head.bias() != null && head.bias().requiresGrad());
        boolean inputGradient = tape.recording() && hidden.requiresGrad() && !headTrains;
        float[] out = new float[n];
        float[] logSumExp = new float[n];
        RowStatistics stats = statisticsRows == null ? null : new RowStatistics(new float[n], new float[n], new int[n]);
        if (stats != null) {
            Arrays.fill(stats.argmax(), -1);
        }
        // d lp_i / d hidden_i of each target row, when the head is frozen
        float[] unitGradient = inputGradient ? new float[n * features] : null;
        Chunk chunk = new Chunk(hidden, head, Math.min(CHUNK_ROWS, Math.max(1, rows.length)));
        for (int from = 0; from < rows.length; from += CHUNK_ROWS) {
            int m = Math.min(CHUNK_ROWS, rows.length - from);
            int first = from;
            chunk.logits(rows, first, m);
            float[] z = chunk.z;
            Ops.chunks(m, vocab, (a, b) -> {
                for (int r = a; r < b; r++) {
                    int i = rows[first + r];
                    int off = r * vocab;
                    logSumExp[i] = Ops.logSumExp(z, off, vocab);
                    if (targets[i] != Ops.IGNORE_INDEX) {
                        out[i] = z[off + targets[i]] - logSumExp[i];
                    }
                    if (stats != null && statisticsRows[i]) {
                        statistics(z, off, vocab, logSumExp[i], i, stats);
                    }
                    if (unitGradient != null) {
                        // the chunk's logits become d lp / d logits, which the product below turns into d lp / d hidden
                        logitGradient(z, off, vocab, logSumExp[i], targets[i], targets[i] == Ops.IGNORE_INDEX ? 0f : 1f,
                                head.softCap());
                    }
                }
            });
            if (unitGradient != null) {
                Gemm.ab(z, w.value(), chunk.x, m, vocab, features, false);
                for (int r = 0; r < m; r++) {
                    System.arraycopy(chunk.x, r * features, unitGradient, rows[first + r] * features, features);
                }
            }
        }
        Var y = new Var(out, hidden.requiresGrad() || headTrains, n);
        if (y.requiresGrad() && tape.recording()) {
            int[] scored = Arrays.stream(rows).filter(i -> targets[i] != Ops.IGNORE_INDEX).toArray();
            tape.record(() -> {
                if (!y.hasGrad()) {
                    return;
                }
                if (unitGradient != null) {
                    float[] dy = y.grad();
                    float[] dh = hidden.grad();
                    for (int i : scored) {
                        VectorMath.axpy(dy[i], unitGradient, i * features, dh, i * features, features);
                    }
                } else {
                    backward(hidden, head, targets, scored, logSumExp, y.grad());
                }
            });
        }
        return new Result(y, stats);
    }

    /** The rows with a target or asked statistics for, in order. */
    private static int[] selectedRows(int[] targets, boolean[] statisticsRows) {
        int count = 0;
        int[] rows = new int[targets.length];
        for (int i = 0; i < targets.length; i++) {
            if (targets[i] != Ops.IGNORE_INDEX || (statisticsRows != null && statisticsRows[i])) {
                rows[count++] = i;
            }
        }
        return Arrays.copyOf(rows, count);
    }

    /** Recomputes each chunk's logits and sends their gradient through a head that trains (and into hidden). */
    private static void backward(Var hidden, Head head, int[] targets, int[] scored, float[] logSumExp, float[] dy) {
        int features = hidden.dim(1);
        Var w = head.weight();
        int vocab = w.dim(0);
        Chunk chunk = new Chunk(hidden, head, Math.min(CHUNK_ROWS, Math.max(1, scored.length)));
        float[] dx = hidden.requiresGrad() ? new float[chunk.x.length] : null;
        for (int from = 0; from < scored.length; from += CHUNK_ROWS) {
            int m = Math.min(CHUNK_ROWS, scored.length - from);
            int first = from;
            chunk.logits(scored, first, m);
            float[] z = chunk.z;
            Ops.chunks(m, vocab, (a, b) -> {
                for (int r = a; r < b; r++) {
                    int i = scored[first + r];
                    logitGradient(z, r * vocab, vocab, logSumExp[i], targets[i], dy[i], head.softCap());
                }
            });
            if (dx != null) {
                Gemm.ab(z, w.value(), dx, m, vocab, features, false);
                float[] dh = hidden.grad();
                for (int r = 0; r < m; r++) {
                    VectorMath.axpy(1f, dx, r * features, dh, scored[first + r] * features, features);
                }
            }
            if (w.requiresGrad()) {
                Gemm.aTb(z, chunk.x, w.grad(), vocab, m, features, true);
            }
            if (head.bias() != null && head.bias().requiresGrad()) {
                Ops.sumRows(z, head.bias().grad(), m, vocab);
            }
        }
    }

    /** Scratch for one chunk: its hidden rows and their logits. */
    private static final class Chunk {
        final Var hidden;
        final Head head;
        final float[] x;
        final float[] z;

        Chunk(Var hidden, Head head, int rows) {
            this.hidden = hidden;
            this.head = head;
            this.x = new float[rows * hidden.dim(1)];
            this.z = new float[rows * head.weight().dim(0)];
        }

        /** Logits of rows {@code rows[first .. first + m)} into {@code z} (their hidden rows into {@code x}). */
        void logits(int[] rows, int first, int m) {
            int features = hidden.dim(1);
            int vocab = head.weight().dim(0);
            for (int r = 0; r < m; r++) {
                System.arraycopy(hidden.value(), rows[first + r] * features, x, r * features, features);
            }
            Gemm.abT(x, head.weight().value(), z, m, features, vocab, false);
            if (head.bias() != null) {
                Ops.addBias(z, head.bias().value(), m, vocab);
            }
            double cap = head.softCap();
            if (cap > 0) {
                for (int j = 0; j < m * vocab; j++) {
                    z[j] = (float) (Math.tanh(z[j] / cap) * cap);
                }
            }
        }
    }

    /**
     * Replaces the logits z[off, off + vocab) of one row by {@code g · d lp_t / d logits} = {@code g · (onehot(t) − p)},
     * times the soft-cap's derivative {@code 1 − (z/cap)²} (z being the capped logits) when capped.
     */
    private static void logitGradient(float[] z, int off, int vocab, float logSumExp, int target, float g, double cap) {
        if (cap > 0) {
            for (int j = 0; j < vocab; j++) {
                double c = z[off + j] / cap;
                float d = (j == target ? g : 0f) - g * VectorMath.exp(z[off + j] - logSumExp);
                z[off + j] = (float) (d * (1 - c * c));
            }
            return;
        }
        FloatVector lse = FloatVector.broadcast(F, logSumExp);
        FloatVector minusG = FloatVector.broadcast(F, -g);
        int j = 0;
        for (; j + F.length() <= vocab; j += F.length()) {
            VectorMath.exp(FloatVector.fromArray(F, z, off + j).sub(lse)).mul(minusG).intoArray(z, off + j);
        }
        for (; j < vocab; j++) {
            z[off + j] = -g * VectorMath.exp(z[off + j] - logSumExp);
        }
        if (target != Ops.IGNORE_INDEX) {
            z[off + target] += g;
        }
    }

    /**
     * The mean, entropy ({@code lse − Σ p·z}) and arg max of one row of logits, into row {@code i} of {@code stats};
     * the sums run in vector lanes of a few thousand terms each, far inside float32's precision for these metrics.
     */
    private static void statistics(float[] z, int off, int vocab, float lse, int i, RowStatistics stats) {
        FloatVector sum = FloatVector.zero(F);
        FloatVector expected = FloatVector.zero(F);
        FloatVector lseV = FloatVector.broadcast(F, lse);
        FloatVector max = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int j = 0;
        for (; j + F.length() <= vocab; j += F.length()) {
            FloatVector v = FloatVector.fromArray(F, z, off + j);
            sum = sum.add(v);
            expected = VectorMath.exp(v.sub(lseV)).fma(v, expected);
            max = max.max(v);
        }
        double total = VectorMath.sumLanes(sum);
        double dot = VectorMath.sumLanes(expected);
        float best = VectorMath.maxLanes(max);
        for (; j < vocab; j++) {
            float v = z[off + j];
            total += v;
            dot += Math.exp(v - lse) * v;
            best = Math.max(best, v);
        }
        int argmax = 0;
        while (argmax + 1 < vocab && z[off + argmax] != best) { // the first of equal maxima, as torch.argmax
            argmax++;
        }
        stats.mean()[i] = (float) (total / vocab);
        stats.argmax()[i] = argmax;
        stats.entropy()[i] = (float) (lse - dot);
    }

    /** The scalar {@code Σ weights[i] · x[i]}; backward adds {@code weights[i] · dy} to {@code x}'s gradient. */
    public static Var weightedSum(Tape tape, Var x, float[] weights) {
        if (weights.length != x.size()) {
            throw new IllegalArgumentException(weights.length + " weights for " + x.size() + " values");
        }
        double sum = 0;
        float[] xv = x.value();
        for (int i = 0; i < weights.length; i++) {
            sum += (double) weights[i] * xv[i];
        }
        Var y = new Var(new float[] {(float) sum}, x.requiresGrad(), 1);
        if (x.requiresGrad()) {
            tape.record(() -> {
                if (!y.hasGrad()) {
                    return;
                }
                float g = y.grad()[0];
                float[] dx = x.grad();
                for (int i = 0; i < weights.length; i++) {
                    dx[i] += weights[i] * g;
                }
            });
        }
        return y;
    }
}
