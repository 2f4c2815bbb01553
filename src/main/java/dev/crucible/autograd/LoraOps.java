package dev.crucible.autograd;

import dev.crucible.tensor.Gemm;
import dev.crucible.tensor.VectorMath;

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

    /** The adapted layer on a float32 weight Var (trainable or not). */
    public static Var loraLinear(Tape tape, Var x, Var w, Var bias, Adapter ad, SplittableRandom rng) {
        return loraLinear(tape, x, FrozenWeight.dense(w.value(), w.dim(0), w.dim(1)), w, bias, ad, rng);
    }

    /** The adapted layer on a frozen weight, e.g. NF4 for QLoRA. */
    public static Var loraLinear(Tape tape, Var x, FrozenWeight w, Var bias, Adapter ad, SplittableRandom rng) {
        return loraLinear(tape, x, w, null, bias, ad, rng);
    }

    /** {@code trainableW} is W as a Var when its gradient is wanted (a float base), else null. */
    private static Var loraLinear(Tape tape, Var x, FrozenWeight w, Var trainableW, Var bias, Adapter ad,
                                  SplittableRandom rng) {
        int n = x.dim(0);
        int in = x.dim(1);
        int out = w.rows();
        if (w.cols() != in) {
            throw new IllegalArgumentException("lora linear: x has " + in + " features, W is [" + out + ", " + w.cols() + "]");
        }
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
        if (ad.magnitude() == null) {
            return lora(tape, x, w, trainableW, bias, ad, xd, mask);
        }
        float[] base = new float[n * out];
        w.forward(xv, n, base);
        float[] la = new float[n * r];
        Gemm.abT(xd, ad.a().value(), la, n, in, r, false);
        float[] lb = new float[n * out];
        Gemm.abT(la, ad.b().value(), lb, n, r, out, false);
        float[] y = new float[n * out];
        float[] mu = null;
        float[] weightNorm = null;
        float[] baseD = base;
        if (ad.magnitude() == null) {
            for (int i = 0; i < y.length; i++) {
                y[i] = base[i] + s * lb[i];
            }
        } else {
            weightNorm = adaptedRowNorms(w, ad.a().value(), ad.b().value(), s, r);
            mu = new float[out];
            for (int o = 0; o < out; o++) {
                mu[o] = ad.magnitude().value()[o] / weightNorm[o];
            }
            if (xd != xv) {
                baseD = new float[n * out];
                w.forward(xd, n, baseD);
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
        Var result = new Var(y, Ops.any(x, trainableW, bias, ad.a(), ad.b(), ad.magnitude()), n, out);
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
                    Gemm.aTb(dlb, la, ad.b().grad(), out, n, r, true);
                }
                float[] dla = new float[n * r];
                Gemm.ab(dlb, ad.b().value(), dla, n, out, r, false);
                if (ad.a().requiresGrad()) {
                    Gemm.aTb(dla, xdF, ad.a().grad(), r, n, in, true);
                }
                if (x.requiresGrad()) {
                    float[] dxd = new float[n * in];
                    Gemm.ab(dla, ad.a().value(), dxd, n, r, in, false);
                    if (dBaseD != null) {
                        w.addInputGradient(dBaseD, n, dxd);
                    }
                    float[] dx = x.grad();
                    w.addInputGradient(dy, n, dx);
                    for (int i = 0; i < dxd.length; i++) {
                        dx[i] += maskF == null ? dxd[i] : dxd[i] * maskF[i];
                    }
                }
                if (trainableW != null && trainableW.requiresGrad()) {
                    Gemm.aTb(dy, xv, trainableW.grad(), out, n, in, true);
                    if (dBaseD != null) {
                        Gemm.aTb(dBaseD, xdF, trainableW.grad(), out, n, in, true);
                    }
                }
                if (bias != null && bias.requiresGrad()) {
                    Ops.sumRows(dy, bias.grad(), n, out);
                }
            });
        }
        return result;
    }

    /**
     * Plain LoRA, keeping only what backward needs: x, the dropped-out x and {@code s·x_d Aᵀ} [n, r]. The base
     * product is written straight into the output and the low-rank term added onto it.
     */
    private static Var lora(Tape tape, Var x, FrozenWeight w, Var trainableW, Var bias, Adapter ad, float[] xd,
                            float[] mask) {
        int n = x.dim(0);
        int in = x.dim(1);
        int out = w.rows();
        int r = ad.a().dim(0);
        float s = (float) ad.scaling();
        float[] xv = x.value();
        float[] y = new float[n * out];
        w.forward(xv, n, y);
        float[] la = new float[n * r];
        Gemm.abT(xd, ad.a().value(), la, n, in, r, false);
        for (int i = 0; i < la.length; i++) {
            la[i] *= s;
        }
        float[] bt = transpose(ad.b().value(), out, r);
        Gemm.ab(la, bt, y, n, r, out, true);
        if (bias != null) {
            Ops.addBias(y, bias.value(), n, out);
        }
        Var result = new Var(y, Ops.any(x, trainableW, bias, ad.a(), ad.b()), n, out);
        if (result.requiresGrad()) {
            tape.record(() -> {
                if (!result.hasGrad()) {
                    return;
                }
                float[] dy = result.grad();
                if (ad.b().requiresGrad()) {
                    // dB = dyᵀ (s·x_d Aᵀ), computed as its transpose [r, out]: r rows keep the kernel's tiles full
                    float[] dbt = new float[r * out];
                    Gemm.aTb(la, dy, dbt, r, n, out, false);
                    float[] db = ad.b().grad();
                    for (int o = 0; o < out; o++) {
                        for (int k = 0; k < r; k++) {
                            db[o * r + k] += dbt[k * out + o];
                        }
                    }
                }
                float[] dla = new float[n * r];
                Gemm.abT(dy, bt, dla, n, out, r, false);
                for (int i = 0; i < dla.length; i++) {
                    dla[i] *= s;
                }
                if (ad.a().requiresGrad()) {
                    Gemm.aTb(dla, xd, ad.a().grad(), r, n, in, true);
                }
                if (x.requiresGrad()) {
                    float[] dx = x.grad();
                    w.addInputGradient(dy, n, dx);
                    if (mask == null) {
                        Gemm.ab(dla, ad.a().value(), dx, n, r, in, true);
                    } else {
                        float[] dxd = new float[n * in];
                        Gemm.ab(dla, ad.a().value(), dxd, n, r, in, false);
                        for (int i = 0; i < dxd.length; i++) {
                            dx[i] += dxd[i] * mask[i];
                        }
                    }
                }
                if (trainableW != null && trainableW.requiresGrad()) {
                    Gemm.aTb(dy, xv, trainableW.grad(), out, n, in, true);
                }
                if (bias != null && bias.requiresGrad()) {
                    Ops.sumRows(dy, bias.grad(), n, out);
                }
            });
        }
        return result;
    }

    private static float[] transpose(float[] m, int rows, int cols) {
        float[] t = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                t[j * rows + i] = m[i * cols + j];
            }
        }
        return t;
    }

    /** {@code ‖W + s·B·A‖} per output row, as PEFT's DoRA {@code get_weight_norm}. */
    public static float[] adaptedRowNorms(FrozenWeight w, float[] a, float[] b, float s, int r) {
        int out = w.rows();
        int in = w.cols();
        float[] norms = new float[out];
        float[] row = new float[in];
        float[] wRow = new float[in];
        for (int o = 0; o < out; o++) {
            java.util.Arrays.fill(row, 0f);
            w.row(o, wRow);
            for (int k = 0; k < r; k++) {
                VectorMath.axpy(b[o * r + k], a, k * in, row, 0, in);
            }
            double sq = 0;
            for (int i = 0; i < in; i++) {
                float v = wRow[i] + s * row[i];
                sq += (double) v * v;
            }
            norms[o] = (float) Math.sqrt(sq);
        }
        return norms;
    }
}
