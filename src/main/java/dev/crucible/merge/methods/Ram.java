package dev.crucible.merge.methods;

import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Tensor;

/**
 * {@code ram} and {@code ramplus_tl} (reinforcement-learning agent merging): an entry of a task vector is active
 * when {@code |τ| > epsilon}; entries active in one model only are taken whole, entries shared by {@code c}
 * models are averaged. {@code ramplus_tl} scales each model's unique entries by
 * {@code 1 + r·clamp(shared/unique, 0, alpha)}; that float32 factor makes its output float32, as in mergekit.
 * Streams the inputs in chunks (two passes for {@code ramplus_tl}, whose factors need whole-tensor counts).
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
        int models = others.length;
        float eps = c.scalar(epsilon);
        int chunk = (int) Math.min(Linear.CHUNK, c.numel);
        float[] base = new float[chunk];
        float[][] tv = new float[models][chunk];
        byte[] counts = new byte[chunk];
        float[] lambda = new float[models];
        if (plus) {
            long[] shared = new long[models];
            long[] unique = new long[models];
            for (long off = 0; off < c.numel; off += chunk) {
                int len = (int) Math.min(chunk, c.numel - off);
                read(c, b, others, off, len, eps, base, tv, counts);
                for (int m = 0; m < models; m++) {
                    for (int i = 0; i < len; i++) {
                        if (Math.abs(tv[m][i]) > eps) {
                            shared[m] += counts[i] > 1 ? 1 : 0;
                            unique[m] += counts[i] == 1 ? 1 : 0;
                        }
                    }
                }
            }
            for (int m = 0; m < models; m++) {
                float rho = (float) shared[m] / Math.max((float) unique[m], (float) epsilon);
                lambda[m] = 1 + (float) r * Math.min((float) alpha, Math.max(0f, rho));
            }
        }
        Tensor out = c.newOutput(plus ? DType.F32 : dt);
        for (long off = 0; off < c.numel; off += chunk) {
            int len = (int) Math.min(chunk, c.numel - off);
            read(c, b, others, off, len, eps, base, tv, counts);
            for (int i = 0; i < len; i++) {
                int k = counts[i];
                float sum = 0;
                for (int m = 0; m < models; m++) {
                    float v = tv[m][i];
                    float term;
                    if (!(Math.abs(v) > eps) || k == 0) {
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
            out.writeFloats(off, base, 0, len);
        }
        return out;
    }

    /** One chunk: the base, the rounded task vectors and how many models are active at each entry. */
    private static void read(MethodCall c, int b, int[] others, long off, int len, float eps, float[] base,
                             float[][] tv, byte[] counts) {
        c.tensor(b).readFloats(off, base, 0, len);
        java.util.Arrays.fill(counts, 0, len, (byte) 0);
        for (int m = 0; m < others.length; m++) {
            float[] d = tv[m];
            c.tensor(others[m]).readFloats(off, d, 0, len);
            for (int i = 0; i < len; i++) {
                d[i] -= base[i];
            }
            Rounding.roundInPlace(c.dtype, d, 0, len);
            for (int i = 0; i < len; i++) {
                counts[i] = (byte) Math.min(127, counts[i] + (Math.abs(d[i]) > eps ? 1 : 0));
            }
        }
    }
}
