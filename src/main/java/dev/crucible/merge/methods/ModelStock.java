package dev.crucible.merge.methods;

import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Tensor;

/**
 * {@code model_stock}: with offsets {@code o_i = w_i - w_0}, {@code cos} is the mean of the pairwise cosines
 * (whole tensor, or per row with {@code filter_wise}), {@code t = N·cos / (1 + (N-1)·cos)} and the result
 * {@code t·mean(w_i) + (1-t)·w_0}. Every step in the compute dtype as mergekit's torch code does it. Two streamed
 * passes (norms and dot products, then the result), so no whole-tensor copies.
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
        int[] others = c.others();
        int models = others.length;
        int pairs = models * (models - 1) / 2;
        int rows = filterWise && c.shape.length >= 2 ? (int) c.shape[0] : 1;
        long cols = c.numel / rows;
        int chunk = (int) Math.min(Linear.CHUNK, c.numel);
        float[] w0 = new float[chunk];
        float[][] ws = new float[models][chunk];
        float[][] offsets = new float[models][chunk];
        double[][] squares = new double[rows][models];
        double[][] dots = new double[rows][pairs];
        for (long off = 0; off < c.numel; off += chunk) {
            int len = (int) Math.min(chunk, c.numel - off);
            read(c, b, others, off, len, w0, ws, offsets);
            for (int j = 0; j < len; j++) {
                int row = (int) ((off + j) / cols);
                for (int m = 0, p = 0; m < models; m++) {
                    float v = offsets[m][j];
                    squares[row][m] += v * v;
                    for (int k = m + 1; k < models; k++, p++) {
                        dots[row][p] += Rounding.round(dt, v * offsets[k][j]);
                    }
                }
            }
        }
        float[] t = new float[rows];
        float eps = Rounding.round(dt, 1e-6f);
        for (int r = 0; r < rows; r++) {
            float[] norms = new float[models];
            for (int m = 0; m < models; m++) {
                norms[m] = Rounding.round(dt, (float) Math.sqrt((float) squares[r][m]));
            }
            float cosSum = 0;
            for (int i = 0, p = 0; i < models; i++) {
                for (int j = i + 1; j < models; j++, p++) {
                    float normProduct = Rounding.round(dt, norms[i] * norms[j]);
                    float cos = Rounding.round(dt, Rounding.round(dt, (float) dots[r][p]) / Math.max(normProduct, eps));
                    cosSum += Math.min(1f, Math.max(-1f, cos));
                }
            }
            float cos = Rounding.round(dt, cosSum / pairs); // torch's mean: float sum / count, rounded once
            float num = Rounding.round(dt, models * cos);
            float den = Rounding.round(dt, 1 + Rounding.round(dt, (models - 1) * cos));
            t[r] = Rounding.round(dt, num / den);
        }
        Tensor out = c.newOutput(dt);
        float[] result = new float[chunk];
        for (long off = 0; off < c.numel; off += chunk) {
            int len = (int) Math.min(chunk, c.numel - off);
            read(c, b, others, off, len, w0, ws, null);
            for (int j = 0; j < len; j++) {
                float sum = ws[0][j]; // Python's sum(): 0 + w_1 (exact), then one rounded add per model
                for (int m = 1; m < models; m++) {
                    sum = Rounding.round(dt, sum + ws[m][j]);
                }
                float avg = Rounding.round(dt, sum / models);
                float ti = t[(int) ((off + j) / cols)];
                result[j] = Rounding.round(dt, Rounding.round(dt, ti * avg)
                        + Rounding.round(dt, Rounding.round(dt, 1 - ti) * w0[j]));
            }
            out.writeFloats(off, result, 0, len);
        }
        return out;
    }

    /** Reads one chunk of the base and the other models, and with {@code offsets} their rounded differences. */
    private static void read(MethodCall c, int b, int[] others, long off, int len, float[] w0, float[][] ws,
                             float[][] offsets) {
        c.tensor(b).readFloats(off, w0, 0, len);
        for (int m = 0; m < others.length; m++) {
            c.tensor(others[m]).readFloats(off, ws[m], 0, len);
            if (offsets != null) {
                for (int j = 0; j < len; j++) {
                    offsets[m][j] = ws[m][j] - w0[j];
                }
                Rounding.roundInPlace(c.dtype, offsets[m], 0, len);
            }
        }
    }
}
