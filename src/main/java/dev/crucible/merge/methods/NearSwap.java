package dev.crucible.merge.methods;

import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Tensor;

/**
 * {@code nearswap}: {@code λ = clamp(t / max(|b - x|, 1e-6), 0, 1)}, result {@code λ·x + (1-λ)·b} element-wise:
 * entries where the models nearly agree take the other model's value. Streams in chunks.
 */
final class NearSwap extends AbstractMergeMethod {
    NearSwap() {
        super("nearswap", BaseModelUse.REQUIRED, params("t", null), params());
    }

    @Override
    Tensor merge(MethodCall c) {
        int b = c.requireBase();
        int[] others = c.others();
        double tParam = c.globalNumber("t");
        if (others.length == 0) {
            return c.tensor(b);
        }
        if (others.length != 1) {
            throw c.error("expects exactly two models, the base and one other; got " + c.count());
        }
        DType dt = c.dtype;
        float t = (float) tParam;
        float minDiff = c.scalar(1e-6);
        Tensor base = c.tensor(b);
        Tensor other = c.tensor(others[0]);
        Tensor out = c.newOutput(dt);
        int chunk = (int) Math.min(Linear.CHUNK, c.numel);
        float[] a = new float[chunk];
        float[] x = new float[chunk];
        for (long off = 0; off < c.numel; off += chunk) {
            int len = (int) Math.min(chunk, c.numel - off);
            base.readFloats(off, a, 0, len);
            other.readFloats(off, x, 0, len);
            for (int i = 0; i < len; i++) {
                float diff = Math.max(Math.abs(Rounding.round(dt, a[i] - x[i])), minDiff);
                // torch evaluates scalar / tensor as tensor.reciprocal() * scalar
                float w = Math.min(1f, Math.max(0f, Rounding.round(dt, Rounding.round(dt, 1f / diff) * t)));
                a[i] = Rounding.round(dt, Rounding.round(dt, w * x[i])
                        + Rounding.round(dt, Rounding.round(dt, 1 - w) * a[i]));
            }
            out.writeFloats(off, a, 0, len);
        }
        return out;
    }
}
