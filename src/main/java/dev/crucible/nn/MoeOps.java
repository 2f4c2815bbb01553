package dev.crucible.nn;

import dev.crucible.autograd.Tape;
import dev.crucible.autograd.Var;
import dev.crucible.tensor.VectorMath;

/**
 * The routing pieces of a sparse mixture-of-experts block (Mixtral): choose the top-k experts per token with
 * softmax weights over the chosen router logits, send each expert its tokens, and sum the weighted expert
 * outputs back per token.
 */
public final class MoeOps {
    private MoeOps() {
    }

    /** Per token the chosen experts, best first ({@code experts[n·k + slot]}), and their weights [N, k] on the tape. */
    public record Routing(Var weights, int[] experts, int k) {
        /** The tokens routed to {@code expert} and, for each, which of its k slots chose it. */
        public int[][] tokensOf(int expert) {
            int n = experts.length / k;
            int count = 0;
            for (int e : experts) {
                count += e == expert ? 1 : 0;
            }
            int[] rows = new int[count];
            int[] slots = new int[count];
            int c = 0;
            for (int i = 0; i < n; i++) {
                for (int s = 0; s < k; s++) {
                    if (experts[i * k + s] == expert) {
                        rows[c] = i;
                        slots[c++] = s;
                    }
                }
            }
            return new int[][]{rows, slots};
        }
    }

    /**
     * transformers' Mixtral routing of one token, the one rule of the runtime and of training: the softmax over all
     * {@code experts} router logits at {@code logits[offset..]} in float32, the k most probable experts (best first,
     * ties to the lower index) into {@code chosen[out..out + k)}, and their probabilities divided by the sum of the
     * k into {@code weights[out..out + k)}.
     */
    public static void route(float[] logits, int offset, int experts, int k, int[] chosen, float[] weights, int out) {
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < experts; j++) {
            max = Math.max(max, logits[offset + j]);
        }
        float[] p = new float[experts];
        float sum = 0;
        for (int j = 0; j < experts; j++) {
            p[j] = (float) Math.exp(logits[offset + j] - max);
            sum += p[j];
        }
        for (int j = 0; j < experts; j++) {
            p[j] /= sum;
        }
        boolean[] taken = new boolean[experts];
        float chosenSum = 0;
        for (int s = 0; s < k; s++) {
            int best = -1;
            for (int j = 0; j < experts; j++) {
                if (!taken[j] && (best < 0 || p[j] > p[best])) {
                    best = j;
                }
            }
            taken[best] = true;
            chosen[out + s] = best;
            chosenSum += p[best];
        }
        for (int s = 0; s < k; s++) {
            weights[out + s] = p[chosen[out + s]] / chosenSum;
        }
    }

    /**
     * {@link #route} for every token of {@code logits} [N, experts], on the tape. The weights equal the softmax over
     * the k chosen logits, so the gradient reaches those logits only: {@code dl = w (dw - Σ w dw)}.
     */
    public static Routing topKSoftmax(Tape tape, Var logits, int k) {
        int e = logits.dim(1);
        int n = logits.dim(0);
        if (k < 1 || k > e) {
            throw new IllegalArgumentException("top-" + k + " of " + e + " experts");
        }
        float[] lv = logits.value();
        int[] chosen = new int[n * k];
        float[] w = new float[n * k];
        for (int i = 0; i < n; i++) {
            route(lv, i * e, e, k, chosen, w, i * k);
        }
        Var weights = new Var(w, logits.requiresGrad(), n, k);
        if (logits.requiresGrad()) {
            tape.record(() -> {
                if (!weights.hasGrad()) {
                    return;
                }
                float[] dw = weights.grad();
                float[] dl = logits.grad();
                for (int i = 0; i < n; i++) {
                    double dot = 0;
                    for (int s = 0; s < k; s++) {
                        dot += (double) w[i * k + s] * dw[i * k + s];
                    }
                    for (int s = 0; s < k; s++) {
                        dl[i * e + chosen[i * k + s]] += (float) (w[i * k + s] * (dw[i * k + s] - dot));
                    }
                }
            });
        }
        return new Routing(weights, chosen, k);
    }

    /** The rows {@code rows} of x [N, H]: an expert's tokens. */
    public static Var gatherRows(Tape tape, Var x, int[] rows) {
        int h = x.dim(1);
        float[] out = new float[rows.length * h];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(x.value(), rows[i] * h, out, i * h, h);
        }
        Var y = new Var(out, x.requiresGrad(), rows.length, h);
        if (x.requiresGrad()) {
            tape.record(() -> {
                if (!y.hasGrad()) {
                    return;
                }
                for (int i = 0; i < rows.length; i++) {
                    VectorMath.axpy(1f, y.grad(), i * h, x.grad(), rows[i] * h, h);
                }
            });
        }
        return y;
    }

    /**
     * {@code out[rows[i]] += weights[rows[i], slots[i]] · expertOut[i]} into a fresh [n, H] sum over all experts;
     * {@code parts} holds for each expert its output, rows and slots.
     */
    public static Var combine(Tape tape, int n, int h, Var weights, java.util.List<Var> outputs, java.util.List<int[][]> routes) {
        float[] out = new float[n * h];
        int k = weights.dim(1);
        boolean needs = weights.requiresGrad();
        for (int e = 0; e < outputs.size(); e++) {
            int[] rows = routes.get(e)[0];
            int[] slots = routes.get(e)[1];
            float[] ov = outputs.get(e).value();
            needs |= outputs.get(e).requiresGrad();
            for (int i = 0; i < rows.length; i++) {
                VectorMath.axpy(weights.value()[rows[i] * k + slots[i]], ov, i * h, out, rows[i] * h, h);
            }
        }
        Var y = new Var(out, needs, n, h);
        if (needs) {
            tape.record(() -> {
                if (!y.hasGrad()) {
                    return;
                }
                float[] dy = y.grad();
                for (int e = 0; e < outputs.size(); e++) {
                    int[] rows = routes.get(e)[0];
                    int[] slots = routes.get(e)[1];
                    Var o = outputs.get(e);
                    for (int i = 0; i < rows.length; i++) {
                        int wi = rows[i] * k + slots[i];
                        if (o.requiresGrad()) {
                            VectorMath.axpy(weights.value()[wi], dy, rows[i] * h, o.grad(), i * h, h);
                        }
                        if (weights.requiresGrad()) {
                            weights.grad()[wi] += VectorMath.dot(dy, rows[i] * h, o.value(), i * h, h);
                        }
                    }
                }
            });
        }
        return y;
    }
}
