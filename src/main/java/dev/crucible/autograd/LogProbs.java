package dev.crucible.autograd;

import dev.crucible.CrucibleException;
import dev.crucible.tensor.VectorMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Per-token log-probabilities of given next tokens, the quantity every preference loss is built from (TRL's
 * {@code selective_log_softmax}), and the statistics of the logits that TRL logs beside them. Each loss is a
 * function of these per-token values whose gradient the trainer computes; {@link #weightedSum} turns that
 * gradient into one scalar to run backward from.
 */
public final class LogProbs {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private LogProbs() {
    }

    /**
     * {@code log softmax(logits[i])[targets[i]]} for each row i of {@code logits} [n, vocab]; 0 where the target is
     * {@link Ops#IGNORE_INDEX}. Backward adds {@code g_i · (onehot(t_i) − softmax(logits[i]))} to row i.
     */
    public static Var of(Tape tape, Var logits, int[] targets) {
        int vocab = logits.dim(-1);
        int n = logits.size() / vocab;
        if (targets.length != n) {
            throw new IllegalArgumentException(targets.length + " targets for " + n + " rows of logits");
        }
        float[] lv = logits.value();
        for (int i = 0; i < n; i++) {
            int t = targets[i];
            if (t != Ops.IGNORE_INDEX && (t < 0 || t >= vocab)) {
                throw new CrucibleException("token " + t + " at position " + i + " is outside the vocabulary of " + vocab);
            }
        }
        float[] logSumExp = new float[n];
        float[] out = new float[n];
        Ops.chunks(n, vocab, (from, to) -> {
            for (int i = from; i < to; i++) {
                if (targets[i] != Ops.IGNORE_INDEX) {
                    logSumExp[i] = Ops.logSumExp(lv, i * vocab, vocab);
                    out[i] = lv[i * vocab + targets[i]] - logSumExp[i];
                }
            }
        });
        Var y = new Var(out, logits.requiresGrad(), n);
        if (logits.requiresGrad()) {
            tape.record(() -> {
                if (!y.hasGrad()) {
                    return;
                }
                float[] dy = y.grad();
                float[] dl = logits.grad();
                Ops.chunks(n, vocab, (from, to) -> {
                    for (int i = from; i < to; i++) {
                        int t = targets[i];
                        if (t == Ops.IGNORE_INDEX || dy[i] == 0) {
                            continue;
                        }
                        int off = i * vocab;
                        FloatVector lse = FloatVector.broadcast(F, logSumExp[i]);
                        FloatVector minusG = FloatVector.broadcast(F, -dy[i]);
                        int j = 0;
                        for (; j + F.length() <= vocab; j += F.length()) {
                            FloatVector p = VectorMath.exp(FloatVector.fromArray(F, lv, off + j).sub(lse));
                            p.fma(minusG, FloatVector.fromArray(F, dl, off + j)).intoArray(dl, off + j);
                        }
                        for (; j < vocab; j++) {
                            dl[off + j] -= dy[i] * VectorMath.exp(lv[off + j] - logSumExp[i]);
                        }
                        dl[off + t] += dy[i];
                    }
                });
            });
        }
        return y;
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

    /**
     * What TRL logs about the logits of each row: the mean over the vocabulary (every row), and for the rows flagged
     * in {@code detail} the entropy of the softmax and the arg max (first index of the largest logit, as
     * {@code torch.argmax}); 0 and -1 elsewhere.
     */
    public record RowStatistics(float[] mean, float[] entropy, int[] argmax) {
    }

    public static RowStatistics statistics(Var logits, boolean[] detail) {
        int vocab = logits.dim(-1);
        int n = logits.size() / vocab;
        float[] lv = logits.value();
        float[] mean = new float[n];
        float[] entropy = new float[n];
        int[] argmax = new int[n];
        java.util.Arrays.fill(argmax, -1);
        Ops.chunks(n, vocab, (from, to) -> {
            for (int i = from; i < to; i++) {
                int off = i * vocab;
                double sum = 0;
                int best = 0;
                for (int j = 0; j < vocab; j++) {
                    sum += lv[off + j];
                    if (lv[off + j] > lv[off + best]) {
                        best = j;
                    }
                }
                mean[i] = (float) (sum / vocab);
                if (detail != null && detail[i]) {
                    argmax[i] = best;
                    float lse = Ops.logSumExp(lv, off, vocab);
                    double expected = 0;
                    for (int j = 0; j < vocab; j++) {
                        expected += Math.exp(lv[off + j] - lse) * lv[off + j];
                    }
                    entropy[i] = (float) (lse - expected);
                }
            }
        });
        return new RowStatistics(mean, entropy, argmax);
    }
}
