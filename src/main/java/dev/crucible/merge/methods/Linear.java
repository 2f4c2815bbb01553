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
        return streamingBytes(numel, inputs);
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
                c.tensor(i).readFloats(off, buf, 0, len);
                float wi = w[i];
                for (int j = 0; j < len; j++) {
                    buf[j] *= wi;
                }
                Rounding.roundInPlace(c.dtype, buf, 0, len);
                if (i == 0) {
                    System.arraycopy(buf, 0, acc, 0, len);
                } else {
                    for (int j = 0; j < len; j++) {
                        acc[j] += buf[j];
                    }
                }
            }
            Rounding.roundInPlace(c.dtype, acc, 0, len);
            if (normalize) {
                for (int j = 0; j < len; j++) {
                    acc[j] /= wsum;
                }
                Rounding.roundInPlace(c.dtype, acc, 0, len);
            }
            out.writeFloats(off, acc, 0, len);
        }
        return out;
    }
}
