package dev.crucible.merge.methods;

import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Tensor;

/**
 * {@code ram} and {@code ramplus_tl} (reinforcement-learning agent merging): an entry of a task vector is active
 * when {@code |τ| > epsilon}; entries active in one model only are taken whole, entries shared by {@code c}
 * models are averaged. {@code ramplus_tl} scales each model's unique entries by
 * {@code 1 + r·clamp(shared/unique, 0, alpha)}; that float32 factor makes its output float32, as in mergekit.
 */
final class Ram extends AbstractMergeMethod {
    private final boolean plus;

    Ram(boolean plus) {
        super(plus ? "ramplus_tl" : "ram", BaseModelUse.REQUIRED,
                plus ? params("r", 0.1, "alpha", 0.2, "epsilon", 1e-5) : params("epsilon", 1e-5), params());
        this.plus = plus;
    }

    @Override
    Tensor merge(MethodCall c) {
        int b = c.requireBase();
        int[] others = c.others();
        double epsilon = c.globalNumber("epsilon", 0, Double.MAX_VALUE);
        double r = plus ? c.globalNumber("r") : 0;
        double alpha = plus ? c.globalNumber("alpha") : 0;
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
        float eps = c.scalar(epsilon);
        byte[] counts = new byte[n];
        for (int i = 0; i < n; i++) {
            int k = 0;
            for (int m = 0; m < models; m++) {
                k += Math.abs(tv[m][i]) > eps ? 1 : 0;
            }
            counts[i] = (byte) Math.min(k, 127);
        }
        float[] lambda = new float[models];
        for (int m = 0; m < models; m++) {
            long shared = 0;
            long unique = 0;
            for (int i = 0; i < n; i++) {
                if (Math.abs(tv[m][i]) > eps) {
                    shared += counts[i] > 1 ? 1 : 0;
                    unique += counts[i] == 1 ? 1 : 0;
                }
            }
            float rho = (float) shared / Math.max((float) unique, (float) epsilon);
            lambda[m] = 1 + (float) r * Math.min((float) alpha, Math.max(0f, rho));
        }
        for (int i = 0; i < n; i++) {
            int k = counts[i];
            float sum = 0;
            for (int m = 0; m < models; m++) {
                float v = tv[m][i];
                boolean active = Math.abs(v) > eps;
                float term;
                if (!active || k == 0) {
                    term = 0;
                } else if (k == 1) {
                    term = plus ? v * lambda[m] : v;
                } else {
                    term = Rounding.round(dt, v / k);
                }
                sum = m == 0 ? term : sum + term;
            }
            base[i] = plus ? base[i] + sum : Rounding.round(dt, base[i] + Rounding.round(dt, sum));
        }
        return plus ? c.output(DType.F32, base) : c.output(base);
    }
}
