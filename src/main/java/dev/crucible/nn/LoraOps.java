package dev.crucible.nn;

import java.util.SplittableRandom;

/**
 * A linear layer with a LoRA or DoRA adapter, computed as PEFT's forward does:
 * LoRA {@code y = x Wᵀ + b + s·(x_d Aᵀ) Bᵀ}; DoRA {@code y = x Wᵀ + b + (μ - 1)·(x_d Wᵀ) + μ·s·(x_d Aᵀ) Bᵀ} with
 * {@code μ = magnitude / ‖W + s·B·A‖_row}, the norm treated as a constant (PEFT detaches it). {@code x_d} is x
 * after dropout (x itself without). The base weight W is normally frozen.
 */
public final class LoraOps {
    private LoraOps() {
    }

    /** The adapter tensors of one layer: A [r, in], B [out, r], magnitude [out] or null. */
    public record Adapter(Var a, Var b, Var magnitude, double scaling, double dropout) {
    }

    public static Var loraLinear(Tape tape, Var x, Var w, Var bias, Adapter ad, SplittableRandom rng) {
        int n = x.dim(0);
        int in = x.dim(1);
        int out = w.dim(0);
        int r = ad.a().dim(0);
        float s = (float) ad.scaling();
        float[] xv = x.value();
        float[] mask = null;
        float[] xd = xv;
        if (ad.dropout() > 0 && rng != null) {
            mask = new float[xv.length];
            xd = new float[xv.length];
            float keep = (float) (1 / (1 - ad.dropout()));
            for (int i = 0; i < xv.length; i++) {
                mask[i] = rng.nextDouble() < ad.dropout() ? 0f : keep;
                xd[i] = xv[i] * mask[i];
            }
        }
        float[] base = new float[n * out];
        Matmul.abT(xv, w.value(), base, n, in, out, false);
        float[] la = new float[n * r];
        Matmul.abT(xd, ad.a().value(), la, n, in, r, false);
        float[] lb = new float[n * out];
        Matmul.abT(la, ad.b().value(), lb, n, r, out, false);
        float[] y = new float[n * out];
        float[] mu = null;
        float[] weightNorm = null;
        float[] baseD = base;
        if (ad.magnitude() == null) {
            for (int i = 0; i < y.length; i++) {
                y[i] = base[i] + s * lb[i];
            }
        } else {
            weightNorm = adaptedRowNorms(w.value(), ad.a().value(), ad.b().value(), s, out, in, r);
            mu = new float[out];
            for (int o = 0; o < out; o++) {
                mu[o] = ad.magnitude().value()[o] / weightNorm[o];
            }
            if (xd != xv) {
                baseD = new float[n * out];
                Matmul.abT(xd, w.value(), baseD, n, in, out, false);
            }
            for (int i = 0; i < n; i++) {
                for (int o = 0; o < out; o++) {
                    int k = i * out + o;
                    y[k] = base[k] + (mu[o] - 1f) * baseD[k] + mu[o] * (lb[k] * s);
                }
            }
        }
        if (bias != null) {
            Ops.addBias(y, bias.value(), n, out);
        }
        Var result = new Var(y, Ops.any(x, w, bias, ad.a(), ad.b(), ad.magnitude()), n, out);
        if (result.requiresGrad()) {
            float[] xdF = xd;
            float[] maskF = mask;
            float[] muF = mu;
            float[] normF = weightNorm;
            float[] baseDF = baseD;
            tape.record(() -> {
                if (!result.hasGrad()) {
                    return;
                }
                float[] dy = result.grad();
                float[] dlb = new float[n * out];
                float[] dBaseD = null;
                if (muF == null) {
                    for (int i = 0; i < dlb.length; i++) {
                        dlb[i] = s * dy[i];
                    }
                } else {
                    dBaseD = new float[n * out];
                    float[] dm = ad.magnitude().requiresGrad() ? ad.magnitude().grad() : null;
                    for (int i = 0; i < n; i++) {
                        for (int o = 0; o < out; o++) {
                            int k = i * out + o;
                            dlb[k] = s * muF[o] * dy[k];
                            dBaseD[k] = (muF[o] - 1f) * dy[k];
                            if (dm != null) {
                                dm[o] += dy[k] * (baseDF[k] + s * lb[k]) / normF[o];
                            }
                        }
                    }
                }
                if (ad.b().requiresGrad()) {
                    Matmul.aTb(dlb, la, ad.b().grad(), out, n, r, true);
                }
                float[] dla = new float[n * r];
                Matmul.ab(dlb, ad.b().value(), dla, n, out, r, false);
                if (ad.a().requiresGrad()) {
                    Matmul.aTb(dla, xdF, ad.a().grad(), r, n, in, true);
                }
                if (x.requiresGrad()) {
                    float[] dxd = new float[n * in];
                    Matmul.ab(dla, ad.a().value(), dxd, n, r, in, false);
                    if (dBaseD != null) {
                        Matmul.ab(dBaseD, w.value(), dxd, n, out, in, true);
                    }
                    float[] dx = x.grad();
                    Matmul.ab(dy, w.value(), dx, n, out, in, true);
                    for (int i = 0; i < dxd.length; i++) {
                        dx[i] += maskF == null ? dxd[i] : dxd[i] * maskF[i];
                    }
                }
                if (w.requiresGrad()) {
                    Matmul.aTb(dy, xv, w.grad(), out, n, in, true);
                    if (dBaseD != null) {
                        Matmul.aTb(dBaseD, xdF, w.grad(), out, n, in, true);
                    }
                }
                if (bias != null && bias.requiresGrad()) {
                    Ops.sumRows(dy, bias.grad(), n, out);
                }
            });
        }
        return result;
    }

    /** {@code ‖W + s·B·A‖} per output row, as PEFT's DoRA {@code get_weight_norm}. */
    static float[] adaptedRowNorms(float[] w, float[] a, float[] b, float s, int out, int in, int r) {
        float[] norms = new float[out];
        float[] row = new float[in];
        for (int o = 0; o < out; o++) {
            java.util.Arrays.fill(row, 0f);
            for (int k = 0; k < r; k++) {
                Matmul.axpy(b[o * r + k], a, k * in, row, 0, in);
            }
            double sq = 0;
            for (int i = 0; i < in; i++) {
                float v = w[o * in + i] + s * row[i];
                sq += (double) v * v;
            }
            norms[o] = (float) Math.sqrt(sq);
        }
        return norms;
    }
}
