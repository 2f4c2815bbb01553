package dev.crucible.merge.methods;

import dev.crucible.tensor.CounterRandom;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Tensor;

import java.util.Arrays;

/**
 * {@code arcee_fusion}: keeps the other model's change only where its importance {@code |Δ|·KL_row(softmax(x) ‖
 * softmax(b))} reaches {@code median + 1.5·IQR} of all importances. As in mergekit the float mask makes the
 * output float32. Quantiles come from the sorted importances, or from a sample of 1e6 of them for larger tensors
 * (mergekit samples with torch's generator; here a counter-based one keyed by seed and tensor name).
 */
final class ArceeFusion extends AbstractMergeMethod {
    static final int SAMPLE = 1_000_000;

    ArceeFusion() {
        super("arcee_fusion", BaseModelUse.REQUIRED, params(), params());
    }

    @Override
    Tensor merge(MethodCall c) {
        if (c.count() == 1) {
            return c.tensor(0);
        }
        int b = c.requireBaseAndOneOther();
        DType dt = c.dtype;
        int n = c.size();
        float[] base = c.values(b);
        float[] x = c.values(c.others()[0]);
        int len = c.shape.length == 0 ? 1 : (int) c.shape[c.shape.length - 1];
        int rows = n / len;
        float[] delta = new float[n];
        float[] importance = new float[n];
        float[] p = new float[len];
        float[] q = new float[len];
        for (int r = 0; r < rows; r++) {
            int from = r * len;
            softmax(dt, x, from, len, p);
            softmax(dt, base, from, len, q);
            double kl = 0;
            for (int i = 0; i < len; i++) {
                float log = Rounding.round(dt, (float) Math.log(Rounding.round(dt, p[i] / q[i])));
                kl += Rounding.round(dt, p[i] * log);
            }
            float klRow = Rounding.round(dt, (float) kl);
            for (int i = from; i < from + len; i++) {
                delta[i] = Rounding.round(dt, x[i] - base[i]);
                importance[i] = Rounding.round(dt, Math.abs(delta[i]) * klRow);
            }
        }
        float threshold = threshold(dt, importance, c.in.seed(), c.in.tensorName());
        float[] out = base;
        for (int i = 0; i < n; i++) {
            if (importance[i] >= threshold) {
                out[i] = base[i] + delta[i];
            }
        }
        return c.output(DType.F32, out);
    }

    /** softmax over one row, computed in float32 and rounded, plus 1e-8 (rounded again). */
    private static void softmax(DType dt, float[] v, int from, int len, float[] out) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < len; i++) {
            max = Math.max(max, v[from + i]);
        }
        double total = 0;
        for (int i = 0; i < len; i++) {
            out[i] = (float) Math.exp(v[from + i] - max);
            total += out[i];
        }
        float inverse = 1f / (float) total; // torch scales by the reciprocal of the sum
        for (int i = 0; i < len; i++) {
            out[i] = Rounding.round(dt, Rounding.round(dt, out[i] * inverse) + 1e-8f);
        }
    }

    /** {@code median + 1.5·(q3 - q1)} with quantile index {@code int(q·(m-1))} into the sorted (sampled) values. */
    private static float threshold(DType dt, float[] importance, long seed, String tensor) {
        float[] values;
        if (importance.length > SAMPLE) {
            values = new float[SAMPLE];
            long key = CounterRandom.streamKey(seed, tensor, -1);
            int[] pick = sampleWithoutReplacement(importance.length, SAMPLE, key);
            for (int i = 0; i < SAMPLE; i++) {
                values[i] = importance[pick[i]];
            }
        } else {
            values = importance.clone();
        }
        Arrays.sort(values);
        int m = values.length;
        float median = values[(int) (0.5f * (m - 1))];
        float q1 = values[(int) (0.25f * (m - 1))];
        float q3 = values[(int) (0.75f * (m - 1))];
        float iqr = Rounding.round(dt, q3 - q1);
        return Rounding.round(dt, median + Rounding.round(dt, 1.5f * iqr));
    }

    /** A uniform sample of {@code k} distinct indices below {@code n} (partial Fisher-Yates on a counter stream). */
    private static int[] sampleWithoutReplacement(int n, int k, long key) {
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) {
            perm[i] = i;
        }
        for (int i = 0; i < k; i++) {
            long r = (long) (CounterRandom.uniform(key, i) * (double) (n - i));
            int j = i + (int) Math.min(r, n - i - 1);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        return Arrays.copyOf(perm, k);
    }

}

