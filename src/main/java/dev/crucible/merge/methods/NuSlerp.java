package dev.crucible.merge.methods;

import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Tensor;

/**
 * {@code nuslerp}: slerp of two models with {@code t = w2 / (w1 + w2)}; with a base model it interpolates the
 * task vectors and adds the base back. The whole tensor is one vector ({@code nuslerp_flatten}, default),
 * else each row ({@code nuslerp_row_wise: false}, vectors along the last dim) or each column ({@code true}).
 * Runs in the compute dtype like mergekit (no float32 upcast); rows with {@code |sin θ| < 1e-8} are lerped.
 */
final class NuSlerp extends AbstractMergeMethod {
    NuSlerp() {
        super("nuslerp", BaseModelUse.OPTIONAL, params("nuslerp_row_wise", false, "nuslerp_flatten", true),
                params("weight", null));
    }

    @Override
    Tensor merge(MethodCall c) {
        boolean rowWise = c.globalBool("nuslerp_row_wise");
        boolean flatten = c.globalBool("nuslerp_flatten");
        if (c.count() == 1) {
            return c.tensor(0);
        }
        int b = c.baseIndex();
        int[] others = c.others();
        if (others.length != 2) {
            throw c.error("expects exactly two models plus an optional base model that is neither of them, got "
                    + others.length + (b >= 0 ? " besides the base" : ""));
        }
        double w1 = c.modelNumber(others[0], "weight");
        double w2 = c.modelNumber(others[1], "weight");
        double t = Math.abs(w1 + w2) < 1e-6 ? 0.5 : w2 / (w1 + w2);
        DType dt = c.dtype;
        int n = c.size();
        float[] v0 = c.values(others[0]);
        float[] v1 = c.values(others[1]);
        float[] base = b >= 0 ? c.values(b) : null;
        if (base != null) {
            for (int i = 0; i < n; i++) {
                v0[i] = Rounding.round(dt, v0[i] - base[i]);
                v1[i] = Rounding.round(dt, v1[i] - base[i]);
            }
        }
        int rows;
        int len;
        int stride;
        int step;
        if (flatten || c.shape.length < 2) {
            rows = 1;
            len = n;
            stride = 1;
            step = n;
        } else if (!rowWise) {
            len = (int) c.shape[c.shape.length - 1];
            rows = n / len;
            stride = 1;
            step = len;
        } else {
            // vectors along dim 0: element k of vector j sits at k * (n / dim0) + j
            len = (int) c.shape[0];
            rows = n / len;
            stride = rows;
            step = 1;
        }
        float[] out = new float[n];
        for (int r = 0; r < rows; r++) {
            slerpVector(dt, (float) t, v0, v1, out, r * step, stride, len);
        }
        if (base != null) {
            for (int i = 0; i < n; i++) {
                out[i] = Rounding.round(dt, base[i] + out[i]);
            }
        }
        return c.output(out);
    }

    private static void slerpVector(DType dt, float t, float[] v0, float[] v1, float[] out, int start, int stride,
                                    int len) {
        float n0 = Math.max(norm(dt, v0, start, stride, len), 1e-7f);
        float n1 = Math.max(norm(dt, v1, start, stride, len), 1e-7f);
        double dot = 0;
        for (int k = 0, i = start; k < len; k++, i += stride) {
            dot += Rounding.round(dt, Rounding.round(dt, v0[i] / n0) * Rounding.round(dt, v1[i] / n1));
        }
        float cos = Math.min(1f, Math.max(-1f, Rounding.round(dt, (float) dot)));
        float theta = Rounding.round(dt, (float) Math.acos(cos));
        float sinTheta = Rounding.round(dt, (float) Math.sin(theta));
        float oneMinusT = (float) (1 - (double) t);
        if (Math.abs(sinTheta) < 1e-8f) {
            for (int k = 0, i = start; k < len; k++, i += stride) {
                out[i] = Rounding.round(dt, Rounding.round(dt, oneMinusT * v0[i]) + Rounding.round(dt, t * v1[i]));
            }
            return;
        }
        float s0 = Rounding.round(dt, (float) Math.sin(Rounding.round(dt, oneMinusT * theta)));
        float s1 = Rounding.round(dt, (float) Math.sin(Rounding.round(dt, t * theta)));
        for (int k = 0, i = start; k < len; k++, i += stride) {
            float num = Rounding.round(dt, Rounding.round(dt, s0 * v0[i]) + Rounding.round(dt, s1 * v1[i]));
            out[i] = Rounding.round(dt, num / sinTheta);
        }
    }

    /** torch.norm of a low-precision vector: float accumulation, rounded once. */
    static float norm(DType dt, float[] v, int start, int stride, int len) {
        double sq = 0;
        for (int k = 0, i = start; k < len; k++, i += stride) {
            sq += v[i] * v[i];
        }
        return Rounding.round(dt, (float) Math.sqrt((float) sq));
    }
}
