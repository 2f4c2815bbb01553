package dev.crucible.merge.methods;

import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Tensor;
import dev.crucible.tensor.TorchReductions;

/**
 * {@code karcher}: the Riemannian (Karcher) mean of the inputs' directions on the unit sphere, found by at most
 * {@code max_iter} fixed-point steps (stopping when the tangent step is below {@code tol}), scaled by the mean
 * norm. Uniform weights; any base model is just one more input. Norms in float32, the rest in the compute dtype
 * with torch's scalar rules, as mergekit.
 */
final class Karcher extends AbstractMergeMethod {

    Karcher() {
        super("karcher", BaseModelUse.OPTIONAL, params("max_iter", 10, "tol", 1e-5), params());
    }

    @Override
    Tensor merge(MethodCall c) {
        int maxIter = c.globalInt("max_iter", 0);
        double tol = c.globalNumber("tol", 0, Double.MAX_VALUE);
        if (c.count() == 1) {
            return c.tensor(0);
        }
        DType dt = c.dtype;
        int n = c.size();
        int count = c.count();
        double alpha = 1.0 / count;
        double[] norms = new double[count];
        float[][] units = new float[count][];
        int valid = 0;
        for (int m = 0; m < count; m++) {
            float[] x = c.values(m);
            float norm = norm32(x, n);
            norms[m] = norm;
            for (int i = 0; i < n; i++) {
                x[i] = norm == 0 ? 0 : Rounding.round(dt, x[i] / norm);
            }
            units[m] = x;
            valid += norms[m] > tol ? 1 : 0;
        }
        if (valid == 0) {
            return c.output(new float[n]);
        }
        float[][] vu = new float[valid][];
        double[] va = new double[valid];
        double alphaSum = 0;
        for (int m = 0, k = 0; m < count; m++) {
            if (norms[m] > tol) {
                vu[k] = units[m];
                alphaSum += alpha;
                k++;
            }
        }
        for (int k = 0; k < valid; k++) {
            va[k] = alpha / alphaSum;
        }
        float[] u = new float[n];
        for (int k = 0; k < valid; k++) {
            float a = (float) va[k];
            for (int i = 0; i < n; i++) {
                u[i] = Rounding.round(dt, u[i] + Rounding.round(dt, vu[k][i] * a));
            }
        }
        double normU = norm32(u, n);
        if (normU < tol) {
            u = vu[0].clone();
        } else {
            divideInPlace(dt, u, (float) normU);
        }
        float[] tangent = new float[n];
        for (int iter = 0; iter < maxIter; iter++) {
            java.util.Arrays.fill(tangent, 0f);
            for (int k = 0; k < valid; k++) {
                float[] ui = vu[k];
                double dotSum = 0;
                for (int i = 0; i < n; i++) {
                    dotSum += u[i] * ui[i];
                }
                float dot = Math.min(1f, Math.max(-1f, Rounding.round(dt, (float) dotSum)));
                float theta = Rounding.round(dt, (float) Math.acos(dot));
                if (theta < tol) {
                    continue;
                }
                float sin = Rounding.round(dt, (float) Math.sin(theta));
                float coef = Rounding.round(dt, Rounding.round(dt, theta / sin) * (float) va[k]);
                for (int i = 0; i < n; i++) {
                    float diff = Rounding.round(dt, ui[i] - Rounding.round(dt, dot * u[i]));
                    tangent[i] = Rounding.round(dt, tangent[i] + Rounding.round(dt, coef * diff));
                }
            }
            float normT = norm32(tangent, n);
            if (normT < tol) {
                break;
            }
            // a 0-dim float32 tensor times a bf16 tensor is first rounded to bf16 (torch's type promotion)
            float cos = Rounding.round(dt, (float) Math.cos(normT));
            float sin = Rounding.round(dt, (float) Math.sin(normT));
            for (int i = 0; i < n; i++) {
                u[i] = Rounding.round(dt, Rounding.round(dt, cos * u[i])
                        + Rounding.round(dt, sin * Rounding.round(dt, tangent[i] / normT)));
            }
            float normNew = norm32(u, n);
            if (normNew > tol) {
                divideInPlace(dt, u, normNew);
            }
        }
        double s = 0;
        for (int m = 0; m < count; m++) {
            s += alpha * norms[m];
        }
        float scale = (float) s;
        for (int i = 0; i < n; i++) {
            u[i] = Rounding.round(dt, u[i] * scale);
        }
        return c.output(u);
    }

    private static void divideInPlace(DType dt, float[] u, float d) {
        for (int i = 0; i < u.length; i++) {
            u[i] = Rounding.round(dt, u[i] / d);
        }
    }

    /** {@code torch.linalg.norm(x.float())}: a float32 result. */
    private static float norm32(float[] x, int n) {
        return TorchReductions.norm(x, n);
    }
}
