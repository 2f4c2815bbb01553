package dev.crucible.autograd;

import dev.crucible.CrucibleException;
import dev.crucible.tensor.Gemm;
import dev.crucible.tensor.Parallel;
import dev.crucible.tensor.VectorMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;


/**
 * Differentiable ops on {@link Var}s: each computes its result and records on the tape how to add its inputs'
 * gradients. Matrices are row-major with tokens as rows ([N, features], N = batch × sequence).
 */
public final class Ops {
    /** Label value that excludes a position from the loss, as in Hugging Face and PyTorch. */
    public static final int IGNORE_INDEX = -100;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private Ops() {
    }

    public static boolean any(Var... inputs) {
        for (Var v : inputs) {
            if (v != null && v.requiresGrad()) {
                return true;
            }
        }
        return false;
    }

    /** Rows of {@code table} [V, H] picked by {@code ids}: [N, H]. */
    public static Var embedding(Tape tape, Var table, int[] ids) {
        int vocab = table.dim(0);
        int h = table.dim(1);
        float[] out = new float[ids.length * h];
        for (int n = 0; n < ids.length; n++) {
            if (ids[n] < 0 || ids[n] >= vocab) {
                throw new CrucibleException("token id " + ids[n] + " at position " + n + " is outside the vocabulary of " + vocab);
            }
            System.arraycopy(table.value(), ids[n] * h, out, n * h, h);
        }
        Var y = new Var(out, table.requiresGrad(), ids.length, h);
        if (table.requiresGrad()) {
            tape.record(() -> {
                if (!y.hasGrad()) {
                    return;
                }
                float[] g = table.grad();
                float[] dy = y.grad();
                for (int n = 0; n < ids.length; n++) {
                    VectorMath.axpy(1f, dy, n * h, g, ids[n] * h, h);
                }
            });
        }
        return y;
    }

    /** {@code x W^T + bias}: x [N, in], W [out, in], bias [out] or null. */
    public static Var linear(Tape tape, Var x, Var w, Var bias) {
        int n = x.dim(0);
        int in = x.dim(1);
        int out = w.dim(0);
        if (w.dim(1) != in || (bias != null && bias.size() != out)) {
            throw new IllegalArgumentException("linear: x " + java.util.Arrays.toString(x.shape()) + " with W "
                    + java.util.Arrays.toString(w.shape()));
        }
        float[] yv = new float[n * out];
        Gemm.abT(x.value(), w.value(), yv, n, in, out, false);
        if (bias != null) {
            addBias(yv, bias.value(), n, out);
        }
        Var y = new Var(yv, any(x, w, bias), n, out);
        if (y.requiresGrad()) {
            tape.record(() -> {
                if (!y.hasGrad()) {
                    return;
                }
                float[] dy = y.grad();
                if (x.requiresGrad()) {
                    Gemm.ab(dy, w.value(), x.grad(), n, out, in, true);
                }
                if (w.requiresGrad()) {
                    Gemm.aTb(dy, x.value(), w.grad(), out, n, in, true);
                }
                if (bias != null && bias.requiresGrad()) {
                    sumRows(dy, bias.grad(), n, out);
                }
            });
        }
        return y;
    }

    /** {@code x Wᵀ + bias} with a frozen (e.g. NF4) weight: only x and the bias get gradients. */
    public static Var linear(Tape tape, Var x, FrozenWeight w, Var bias) {
        int n = x.dim(0);
        int out = w.rows();
        if (w.cols() != x.dim(1)) {
            throw new IllegalArgumentException("linear: x has " + x.dim(1) + " features, W is [" + out + ", " + w.cols() + "]");
        }
        float[] yv = new float[n * out];
        w.forward(x.value(), n, yv);
        if (bias != null) {
            addBias(yv, bias.value(), n, out);
        }
        Var y = new Var(yv, any(x, bias), n, out);
        if (y.requiresGrad()) {
            tape.record(() -> {
                if (!y.hasGrad()) {
                    return;
                }
                if (x.requiresGrad()) {
                    w.addInputGradient(y.grad(), n, x.grad());
                }
                if (bias != null && bias.requiresGrad()) {
                    sumRows(y.grad(), bias.grad(), n, out);
                }
            });
        }
        return y;
    }

    static void addBias(float[] y, float[] bias, int n, int out) {
        for (int i = 0; i < n; i++) {
            for (int o = 0; o < out; o++) {
                y[i * out + o] += bias[o];
            }
        }
    }

    static void sumRows(float[] dy, float[] into, int n, int out) {
        for (int i = 0; i < n; i++) {
            VectorMath.axpy(1f, dy, i * out, into, 0, out);
        }
    }

    /** Element-wise sum of two Vars of the same shape (the residual connection). */
    public static Var add(Tape tape, Var a, Var b) {
        if (a.size() != b.size()) {
            throw new IllegalArgumentException("add: sizes " + a.size() + " and " + b.size());
        }
        float[] out = new float[a.size()];
        float[] av = a.value();
        float[] bv = b.value();
        chunks(out.length, 1, (from, to) -> {
            System.arraycopy(av, from, out, from, to - from);
            VectorMath.axpy(1f, bv, from, out, from, to - from);
        });
        Var y = new Var(out, any(a, b), a.shape());
        if (y.requiresGrad()) {
            tape.record(() -> {
                if (!y.hasGrad()) {
                    return;
                }
                for (Var in : new Var[]{a, b}) {
                    if (in.requiresGrad()) {
                        float[] dy = y.grad();
                        float[] dx = in.grad();
                        chunks(out.length, 1, (from, to) -> VectorMath.axpy(1f, dy, from, dx, from, to - from));
                    }
                }
            });
        }
        return y;
    }

    /** One range [from, to) of a split loop. */
    interface Range {
        void run(int from, int to);
    }

    /**
     * Splits [0, n) into fixed ranges on the kernel pool (on the caller alone when {@code n · workPerItem} is
     * small). The ranges do not depend on the thread count, so results never do either.
     */
    static void chunks(int n, long workPerItem, Range body) {
        int count = (int) Math.max(1, Math.min(n, 16));
        Parallel.forEach(count, n * workPerItem, c -> body.run((int) ((long) c * n / count), (int) ((long) (c + 1) * n / count)));
    }

    /**
     * RMSNorm over the last dimension: {@code x / sqrt(mean(x²) + eps) · g} with g = w, or 1 + w for Gemma's
     * norms ({@code onePlusWeight}).
     */
    public static Var rmsNorm(Tape tape, Var x, Var w, double eps, boolean onePlusWeight) {
        int h = w.size();
        int n = x.size() / h;
        float[] xv = x.value();
        float[] gain = new float[h];
        for (int j = 0; j < h; j++) {
            gain[j] = onePlusWeight ? 1f + w.value()[j] : w.value()[j];
        }
        float[] inv = new float[n];
        float[] out = new float[x.size()];
        chunks(n, h, (from, to) -> {
            for (int i = from; i < to; i++) {
                double sq = 0;
                for (int j = 0; j < h; j++) {
                    sq += (double) xv[i * h + j] * xv[i * h + j];
                }
                inv[i] = (float) (1 / Math.sqrt((float) (sq / h) + eps));
                for (int j = 0; j < h; j++) {
                    out[i * h + j] = gain[j] * (xv[i * h + j] * inv[i]);
                }
            }
        });
        Var y = new Var(out, any(x, w), x.shape());
        if (y.requiresGrad()) {
            tape.record(() -> {
                if (!y.hasGrad()) {
                    return;
                }
                float[] dy = y.grad();
                float[] dx = x.requiresGrad() ? x.grad() : null;
                // each range sums its own part of dw; the parts are added in range order (deterministic)
                int parts = Math.min(n, 16);
                float[][] dw = w.requiresGrad() ? new float[parts][h] : null;
                Parallel.forEach(parts, (long) n * h, c -> {
                    int from = (int) ((long) c * n / parts);
                    int to = (int) ((long) (c + 1) * n / parts);
                    for (int i = from; i < to; i++) {
                        double dot = 0;
                        for (int j = 0; j < h; j++) {
                            float xhat = xv[i * h + j] * inv[i];
                            dot += (double) dy[i * h + j] * gain[j] * xhat;
                            if (dw != null) {
                                dw[c][j] += dy[i * h + j] * xhat;
                            }
                        }
                        if (dx != null) {
                            float mean = (float) (dot / h);
                            for (int j = 0; j < h; j++) {
                                float xhat = xv[i * h + j] * inv[i];
                                dx[i * h + j] += inv[i] * (dy[i * h + j] * gain[j] - xhat * mean);
                            }
                        }
                    }
                });
                if (dw != null) {
                    for (float[] part : dw) {
                        VectorMath.axpy(1f, part, 0, w.grad(), 0, h);
                    }
                }
            });
        }
        return y;
    }

    /** {@code silu(gate) · up}, the gated MLP's activation. */
    public static Var siluMul(Tape tape, Var gate, Var up) {
        float[] g = gate.value();
        float[] u = up.value();
        float[] out = new float[g.length];
        chunks(g.length, 8, (from, to) -> {
            int i = from;
            for (; i + F.length() <= to; i += F.length()) {
                FloatVector gv = FloatVector.fromArray(F, g, i);
                FloatVector sig = sigmoid(gv);
                gv.mul(sig).mul(FloatVector.fromArray(F, u, i)).intoArray(out, i);
            }
            for (; i < to; i++) {
                out[i] = g[i] / (1f + (float) Math.exp(-g[i])) * u[i];
            }
        });
        Var y = new Var(out, any(gate, up), gate.shape());
        if (y.requiresGrad()) {
            tape.record(() -> {
                if (!y.hasGrad()) {
                    return;
                }
                float[] dy = y.grad();
                float[] dg = gate.requiresGrad() ? gate.grad() : null;
                float[] du = up.requiresGrad() ? up.grad() : null;
                chunks(g.length, 8, (from, to) -> {
                    int i = from;
                    for (; i + F.length() <= to; i += F.length()) {
                        FloatVector gv = FloatVector.fromArray(F, g, i);
                        FloatVector sig = sigmoid(gv);
                        FloatVector d = FloatVector.fromArray(F, dy, i);
                        if (dg != null) {
                            // d silu / dg = sig · (1 + g · (1 - sig))
                            FloatVector ds = sig.mul(gv.mul(sig.neg().add(1f)).add(1f));
                            d.mul(FloatVector.fromArray(F, u, i)).fma(ds, FloatVector.fromArray(F, dg, i)).intoArray(dg, i);
                        }
                        if (du != null) {
                            d.mul(gv).fma(sig, FloatVector.fromArray(F, du, i)).intoArray(du, i);
                        }
                    }
                    for (; i < to; i++) {
                        float sig = 1f / (1f + (float) Math.exp(-g[i]));
                        if (dg != null) {
                            dg[i] += dy[i] * u[i] * sig * (1f + g[i] * (1f - sig));
                        }
                        if (du != null) {
                            du[i] += dy[i] * g[i] * sig;
                        }
                    }
                });
            });
        }
        return y;
    }

    private static FloatVector sigmoid(FloatVector x) {
        return FloatVector.broadcast(F, 1f).div(VectorMath.exp(x.neg()).add(1f));
    }

    /** {@code x · c} for a constant c (Gemma's sqrt(hidden) embedding scale). */
    public static Var scale(Tape tape, Var x, float c) {
        float[] out = new float[x.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = x.value()[i] * c;
        }
        Var y = new Var(out, x.requiresGrad(), x.shape());
        if (x.requiresGrad()) {
            tape.record(() -> {
                if (y.hasGrad()) {
                    VectorMath.axpy(c, y.grad(), 0, x.grad(), 0, out.length);
                }
            });
        }
        return y;
    }

    /** {@code cap · tanh(x / cap)}: Gemma 2's final-logit soft-capping. */
    public static Var softCap(Tape tape, Var x, double cap) {
        float[] out = new float[x.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (Math.tanh(x.value()[i] / cap) * cap);
        }
        Var y = new Var(out, x.requiresGrad(), x.shape());
        if (x.requiresGrad()) {
            tape.record(() -> {
                if (!y.hasGrad()) {
                    return;
                }
                for (int i = 0; i < out.length; i++) {
                    double t = out[i] / cap;
                    x.grad()[i] += (float) (y.grad()[i] * (1 - t * t));
                }
            });
        }
        return y;
    }

    /** Columns {@code [from, from + width)} of x [N, W]: one part of a fused projection (phi3's qkv, gate_up). */
    public static Var columns(Tape tape, Var x, int from, int width) {
        int n = x.dim(0);
        int w = x.dim(1);
        if (from < 0 || from + width > w) {
            throw new IllegalArgumentException("columns [" + from + ", " + (from + width) + ") of a width-" + w + " matrix");
        }
        float[] out = new float[n * width];
        for (int i = 0; i < n; i++) {
            System.arraycopy(x.value(), i * w + from, out, i * width, width);
        }
        Var y = new Var(out, x.requiresGrad(), n, width);
        if (x.requiresGrad()) {
            tape.record(() -> {
                if (!y.hasGrad()) {
                    return;
                }
                for (int i = 0; i < n; i++) {
                    VectorMath.axpy(1f, y.grad(), i * width, x.grad(), i * w + from, width);
                }
            });
        }
        return y;
    }

    /**
     * {@code gelu_tanh(gate) · up}, the GeLU-tanh gated MLP (Gemma), with
     * gelu_tanh(g) = g/2 · (1 + tanh(sqrt(2/π)·(g + 0.044715 g³))).
     */
    public static Var geluTanhMul(Tape tape, Var gate, Var up) {
        float[] g = gate.value();
        float[] u = up.value();
        float[] out = new float[g.length];
        final double c = Math.sqrt(2 / Math.PI);
        for (int i = 0; i < g.length; i++) {
            double x = g[i];
            out[i] = (float) (0.5 * x * (1 + Math.tanh(c * (x + 0.044715 * x * x * x)))) * u[i];
        }
        Var y = new Var(out, any(gate, up), gate.shape());
        if (y.requiresGrad()) {
            tape.record(() -> {
                if (!y.hasGrad()) {
                    return;
                }
                float[] dy = y.grad();
                for (int i = 0; i < g.length; i++) {
                    double x = g[i];
                    double t = Math.tanh(c * (x + 0.044715 * x * x * x));
                    double gelu = 0.5 * x * (1 + t);
                    if (gate.requiresGrad()) {
                        double d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x);
                        gate.grad()[i] += (float) (dy[i] * u[i] * d);
                    }
                    if (up.requiresGrad()) {
                        up.grad()[i] += (float) (dy[i] * gelu);
                    }
                }
            });
        }
        return y;
    }

    /** {@code log Σ exp(x[off..off+len))}, shifted by the maximum for range. */
    static float logSumExp(float[] x, int off, int len) {
        FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int j = 0;
        for (; j + F.length() <= len; j += F.length()) {
            mv = mv.max(FloatVector.fromArray(F, x, off + j));
        }
        float max = VectorMath.maxLanes(mv);
        for (; j < len; j++) {
            max = Math.max(max, x[off + j]);
        }
        FloatVector m = FloatVector.broadcast(F, max);
        FloatVector sv = FloatVector.zero(F);
        j = 0;
        for (; j + F.length() <= len; j += F.length()) {
            sv = sv.add(VectorMath.exp(FloatVector.fromArray(F, x, off + j).sub(m)));
        }
        double s = VectorMath.sumLanes(sv);
        for (; j < len; j++) {
            s += Math.exp(x[off + j] - max);
        }
        return (float) (max + Math.log(s));
    }

    /**
     * Causal-LM targets as transformers shifts them: position t of each sequence predicts {@code labels[t + 1]},
     * and the last position of each sequence predicts nothing.
     */
    public static int[] shiftLabels(int[] labels, int batch, int seq) {
        int[] out = new int[labels.length];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < seq; t++) {
                out[b * seq + t] = t + 1 < seq ? labels[b * seq + t + 1] : IGNORE_INDEX;
            }
        }
        return out;
    }
}
