package dev.crucible.merge.methods;

import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;

/**
 * {@code linear}: {@code Σ w_i·x_i}, divided by {@code Σ w_i} when {@code normalize}. As mergekit: weights are
 * tensors of the compute dtype, each product is rounded, the sum over models accumulates in float32 and is
 * rounded once, then the division is rounded. Element-wise, so it streams in chunks without whole-tensor copies.
 */
final class Linear extends AbstractMergeMethod {
    static final int CHUNK = 16384;

    Linear() {
        super("linear", BaseModelUse.UNUSED, params("normalize", true), params("weight", null));
    }

    @Override
    public long workingBytes(long numel, int inputs, DType dtype) {
        return streamingBytes(numel, inputs, dtype);
    }

    @Override
    Tensor merge(MethodCall c) {
        int n = c.count();
        float[] w = new float[n];
        float wsum = 0;
        for (int i = 0; i < n; i++) {
            w[i] = c.scalar(c.modelNumber(i, "weight"));
            wsum += w[i];
        }
        wsum = c.r(wsum);
        boolean normalize = c.globalBool("normalize");
        Tensor out = c.newOutput(c.dtype);
        float[] acc = new float[(int) Math.min(CHUNK, c.numel)];
        float[] buf = new float[acc.length];
        for (long off = 0; off < c.numel; off += CHUNK) {
            int len = (int) Math.min(CHUNK, c.numel - off);
            for (int i = 0; i < n; i++) {
                c.tensor(i).readFloats(off, i == 0 ? acc : buf, 0, len);
                if (i == 0) {
                    scale(acc, len, w[i], c.dtype);
                } else {
                    scale(buf, len, w[i], c.dtype);
                    add(acc, buf, len);
                }
            }
            Rounding.roundInPlace(c.dtype, acc, 0, len);
            if (normalize) {
                divide(acc, len, wsum, c.dtype);
            }
            out.writeFloats(off, acc, 0, len);
        }
        return out;
    }

    // Small methods rather than loops inlined into merge(): C2 compiles each early and cheaply on its own instead
    // of one large on-stack replacement of merge().

    /** {@code a = round(a·w)}. */
    private static void scale(float[] a, int len, float w, DType dtype) {
        for (int j = 0; j < len; j++) {
            a[j] *= w;
        }
        Rounding.roundInPlace(dtype, a, 0, len);
    }

    private static void add(float[] acc, float[] b, int len) {
        for (int j = 0; j < len; j++) {
            acc[j] += b[j];
        }
    }

    /** {@code a = round(a / d)}. */
    private static void divide(float[] a, int len, float d, DType dtype) {
        for (int j = 0; j < len; j++) {
            a[j] /= d;
        }
        Rounding.roundInPlace(dtype, a, 0, len);
    }
}
