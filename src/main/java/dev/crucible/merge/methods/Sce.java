package dev.crucible.merge.methods;

import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Tensor;
import dev.crucible.tensor.TorchSortOrder;

/**
 * {@code sce} (select, calculate, erase): task vectors {@code τ_i = x_i - b}; with {@code select_topk < 1} only
 * the entries of largest variance across models are kept (one mask for all models); each model's weight is its
 * mean squared delta over the sum of those; entries whose sign disagrees with the sum's are erased; the result
 * is {@code b + Σ τ_i e_i / max(Σ e_i, 1e-6)}.
 */
final class Sce extends AbstractMergeMethod {
    Sce() {
        super("sce", BaseModelUse.REQUIRED, params("int8_mask", false, "select_topk", 1.0), params());
    }

    /** Whole-tensor copies, plus the packed variances of the top-k selection (8 bytes per entry). */
    @Override
    public long workingBytes(long numel, int inputs, DType dtype) {
        return super.workingBytes(numel, inputs, dtype) + numel * 8;
    }

    @Override
    Tensor merge(MethodCall c) {
        int b = c.requireBase();
        int[] others = c.others();
        c.globalBool("int8_mask");
        double topk = c.globalNumber("select_topk", 0, 1);
        if (others.length == 0) {
            return c.tensor(b);
        }
        DType dt = c.dtype;
        int n = c.size();
        int models = others.length;
        float[] base = c.values(b);
        float[][] tv = new float[models][];
        for (int m = 0; m < models; m++) {
            float[] d = c.values(others[m]);
            for (int i = 0; i < n; i++) {
                d[i] = Rounding.round(dt, d[i] - base[i]);
            }
            tv[m] = d;
        }
        if (topk < 1) {
            selectByVariance(tv, n, topk, dt);
        }
        float[] weights = new float[models];
        float weightSum = 0;
        for (int m = 0; m < models; m++) {
            double sq = 0;
            for (int i = 0; i < n; i++) {
                sq += Rounding.round(dt, tv[m][i] * tv[m][i]);
            }
            weights[m] = Rounding.round(dt, (float) sq / n); // torch's mean: float sum / count, rounded once
            weightSum += weights[m];
        }
        weightSum = Rounding.round(dt, weightSum);
        for (int m = 0; m < models; m++) {
            weights[m] = Math.abs(weightSum) < 1e-6f ? Rounding.round(dt, 1f / models)
                    : Rounding.round(dt, weights[m] / weightSum);
        }
        float minDiv = c.scalar(1e-6);
        for (int i = 0; i < n; i++) {
            float s = tv[0][i];
            for (int m = 1; m < models; m++) {
                s += tv[m][i];
            }
            int majority = Rounding.round(dt, s) >= 0 ? 1 : -1;
            float mixed = 0;
            float div = 0;
            for (int m = 0; m < models; m++) {
                float v = tv[m][i];
                float e = ((v > 0 ? 1 : v < 0 ? -1 : 0) == majority) ? weights[m] : weights[m] * 0f;
                float term = Rounding.round(dt, v * e);
                mixed = m == 0 ? term : mixed + term;
                div = m == 0 ? e : div + e;
            }
            float merged = Rounding.round(dt, Rounding.round(dt, mixed) / Math.max(Rounding.round(dt, div), minDiv));
            base[i] = Rounding.round(dt, base[i] + merged);
        }
        return c.output(base);
    }

    /** Zeroes, in every task vector, the entries outside the top {@code int(nonzero·density)} variances. */
    private static void selectByVariance(float[][] tv, int n, double density, DType dt) {
        int models = tv.length;
        float[] var = new float[n];
        int nonzero = 0;
        for (int i = 0; i < n; i++) {
            double mean = 0;
            for (float[] t : tv) {
                mean += t[i];
            }
            mean /= models;
            double v = 0;
            for (float[] t : tv) {
                v += (t[i] - mean) * (t[i] - mean);
            }
            var[i] = Rounding.round(dt, (float) (v / models));
            nonzero += var[i] != 0 ? 1 : 0;
        }
        int k = (int) ((float) nonzero * (float) density);
        byte[] keep = new byte[n];
        for (int i : TorchSortOrder.topkIndices(var, n, k)) {
            keep[i] = 1;
        }
        for (float[] t : tv) {
            for (int i = 0; i < n; i++) {
                if (keep[i] == 0) {
                    t[i] *= 0f;
                }
            }
        }
    }
}
