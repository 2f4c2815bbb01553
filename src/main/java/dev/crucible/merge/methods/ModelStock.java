package dev.crucible.merge.methods;

import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Tensor;

/**
 * {@code model_stock}: with offsets {@code o_i = w_i - w_0}, {@code cos} is the mean of the pairwise cosines
 * (whole tensor, or per row with {@code filter_wise}), {@code t = N·cos / (1 + (N-1)·cos)} and the result
 * {@code t·mean(w_i) + (1-t)·w_0}. Every step in the compute dtype as mergekit's torch code does it.
 */
final class ModelStock extends AbstractMergeMethod {
    ModelStock() {
        super("model_stock", BaseModelUse.REQUIRED, params("filter_wise", false), params());
    }

    @Override
    Tensor merge(MethodCall c) {
        int b = c.requireBase();
        boolean filterWise = c.globalBool("filter_wise");
        if (c.count() == 1) {
            return c.tensor(b);
        }
        if (c.count() < 3) {
            throw c.error("needs at least 3 models (the base plus two or more others), got " + c.count());
        }
        DType dt = c.dtype;
        int n = c.size();
        int[] others = c.others();
        int models = others.length;
        float[] w0 = c.values(b);
        float[][] ws = new float[models][];
        float[][] offsets = new float[models][];
        for (int m = 0; m < models; m++) {
            ws[m] = c.values(others[m]);
            float[] o = new float[n];
            for (int i = 0; i < n; i++) {
                o[i] = Rounding.round(dt, ws[m][i] - w0[i]);
            }
            offsets[m] = o;
        }
        int rows = filterWise && c.shape.length >= 2 ? (int) c.shape[0] : 1;
        int cols = n / rows;
        float[] t = new float[rows];
        float eps = Rounding.round(dt, 1e-6f);
        int pairs = models * (models - 1) / 2;
        for (int r = 0; r < rows; r++) {
            int from = r * cols;
            int to = from + cols;
            float[] norms = new float[models];
            for (int m = 0; m < models; m++) {
                double sq = 0;
                for (int i = from; i < to; i++) {
                    float v = offsets[m][i];
                    sq += v * v;
                }
                norms[m] = Rounding.round(dt, (float) Math.sqrt((float) sq));
            }
            float cosSum = 0;
            for (int i = 0; i < models; i++) {
                for (int j = i + 1; j < models; j++) {
                    float normProduct = Rounding.round(dt, norms[i] * norms[j]);
                    double dot = 0;
                    for (int k = from; k < to; k++) {
                        dot += Rounding.round(dt, offsets[i][k] * offsets[j][k]);
                    }
                    float cos = Rounding.round(dt, Rounding.round(dt, (float) dot) / Math.max(normProduct, eps));
                    cosSum += Math.min(1f, Math.max(-1f, cos));
                }
            }
            float cos = Rounding.round(dt, cosSum / pairs); // torch's mean: float sum / count, rounded once
            float num = Rounding.round(dt, models * cos);
            float den = Rounding.round(dt, 1 + Rounding.round(dt, (models - 1) * cos));
            t[r] = Rounding.round(dt, num / den);
        }
        float[] out = w0;
        for (int i = 0; i < n; i++) {
            float sum = ws[0][i];
            for (int m = 1; m < models; m++) {
                sum = Rounding.round(dt, sum + ws[m][i]);
            }
            float avg = Rounding.round(dt, sum / models);
            float ti = t[i / cols];
            out[i] = Rounding.round(dt, Rounding.round(dt, ti * avg)
                    + Rounding.round(dt, Rounding.round(dt, 1 - ti) * w0[i]));
        }
        return c.output(out);
    }
}
