package dev.crucible.merge.methods;

import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Tensor;

/**
 * {@code multislerp}: barycentric interpolation on the hypersphere. Task vectors (or raw tensors without a base)
 * are normalised, their weighted mean is projected to the sphere, the weighted tangent vectors are mapped back
 * with the exponential map and the result is scaled by the weighted mean norm. In the compute dtype as mergekit.
 */
final class MultiSlerp extends AbstractMergeMethod {
    MultiSlerp() {
        super("multislerp", BaseModelUse.OPTIONAL, params("normalize_weights", true, "eps", 1e-8),
                params("weight", null));
    }

    @Override
    Tensor merge(MethodCall c) {
        boolean normalizeWeights = c.globalBool("normalize_weights");
        float eps = (float) c.globalNumber("eps", 0, Double.MAX_VALUE);
        int b = c.baseIndex();
        int[] others = c.others();
        double[] weightParams = new double[others.length];
        for (int m = 0; m < others.length; m++) {
            weightParams[m] = c.modelNumber(others[m], "weight");
        }
        if (others.length == 0) {
            return c.tensor(b);
        }
        if (others.length == 1) {
            return c.tensor(others[0]);
        }
        DType dt = c.dtype;
        int n = c.size();
        int models = others.length;
        float[] base = b >= 0 ? c.values(b) : null;
        float[][] x = new float[models][];
        for (int m = 0; m < models; m++) {
            x[m] = c.values(others[m]);
            if (base != null) {
                for (int i = 0; i < n; i++) {
                    x[m][i] = Rounding.round(dt, x[m][i] - base[i]);
                }
            }
        }
        float[] w = new float[models];
        float wsum = 0;
        for (int m = 0; m < models; m++) {
            w[m] = c.scalar(weightParams[m]);
            wsum += w[m];
        }
        wsum = Rounding.round(dt, wsum);
        if (normalizeWeights) {
            for (int m = 0; m < models; m++) {
                w[m] = Rounding.round(dt, w[m] / wsum);
            }
        }
        float[] norms = new float[models];
        float[][] units = new float[models][];
        for (int m = 0; m < models; m++) {
            norms[m] = NuSlerp.norm(dt, x[m], 0, 1, n);
            float d = Rounding.round(dt, norms[m] + eps);
            float[] u = new float[n];
            for (int i = 0; i < n; i++) {
                u[i] = Rounding.round(dt, x[m][i] / d);
            }
            units[m] = u;
        }
        float[] mean = weightedSum(dt, units, w, n);
        float meanNorm = NuSlerp.norm(dt, mean, 0, 1, n);
        float[] result;
        if (meanNorm < eps) {
            if (models != 2) {
                throw c.error("the weighted sum of the normalised inputs is zero (antipodal inputs with balancing"
                        + " weights); use different weights");
            }
            result = new float[n];
            for (int i = 0; i < n; i++) {
                result[i] = Rounding.round(dt, Rounding.round(dt, x[0][i] * w[0]) + Rounding.round(dt, x[1][i] * w[1]));
            }
        } else {
            for (int i = 0; i < n; i++) {
                mean[i] = Rounding.round(dt, mean[i] / meanNorm);
            }
            for (int m = 0; m < models; m++) {
                float[] u = units[m];
                double dot = 0;
                for (int i = 0; i < n; i++) {
                    dot += Rounding.round(dt, u[i] * mean[i]);
                }
                float d = Rounding.round(dt, (float) dot);
                for (int i = 0; i < n; i++) {
                    u[i] = Rounding.round(dt, u[i] - Rounding.round(dt, d * mean[i]));
                }
            }
            float[] tangent = weightedSum(dt, units, w, n);
            float tn = Rounding.round(dt, NuSlerp.norm(dt, tangent, 0, 1, n) + eps);
            float cos = Rounding.round(dt, (float) Math.cos(tn));
            float sinOver = Rounding.round(dt, Rounding.round(dt, (float) Math.sin(tn)) / tn);
            double avg = 0;
            for (int m = 0; m < models; m++) {
                avg += Rounding.round(dt, norms[m] * w[m]);
            }
            float avgNorm = Rounding.round(dt, (float) avg);
            result = mean;
            for (int i = 0; i < n; i++) {
                float v = Rounding.round(dt, Rounding.round(dt, mean[i] * cos) + Rounding.round(dt, tangent[i] * sinOver));
                result[i] = Rounding.round(dt, v * avgNorm);
            }
        }
        if (base != null) {
            for (int i = 0; i < n; i++) {
                result[i] = Rounding.round(dt, result[i] + base[i]);
            }
        }
        return c.output(result);
    }

    /** {@code (v * w.view(-1, 1)).sum(0)}: each product rounded, the sum over models in float32, rounded once. */
    private static float[] weightedSum(DType dt, float[][] v, float[] w, int n) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            float s = Rounding.round(dt, v[0][i] * w[0]);
            for (int m = 1; m < v.length; m++) {
                s += Rounding.round(dt, v[m][i] * w[m]);
            }
            out[i] = Rounding.round(dt, s);
        }
        return out;
    }
}
