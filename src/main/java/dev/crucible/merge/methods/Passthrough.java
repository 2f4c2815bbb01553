package dev.crucible.merge.methods;

import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Tensor;

/** {@code passthrough}: the single input tensor, multiplied by the model's {@code scale} when one is given. */
final class Passthrough extends AbstractMergeMethod {
    Passthrough() {
        super("passthrough", BaseModelUse.OPTIONAL, params(), params("scale", 1.0));
    }

    @Override
    Tensor merge(MethodCall c) {
        if (c.count() != 1) {
            throw c.error("expects exactly one input tensor, got " + c.count());
        }
        Object given = c.in.modelParameters().isEmpty() ? null : c.in.modelParameters().get(0).get("scale");
        if (given == null) {
            return c.tensor(0);
        }
        double scale = c.modelNumber(0, "scale");
        if (scale == 1.0) {
            return c.tensor(0);
        }
        float s = (float) scale;
        Tensor out = c.newOutput(c.dtype);
        int chunk = (int) Math.min(Linear.CHUNK, c.numel);
        float[] a = new float[chunk];
        for (long off = 0; off < c.numel; off += chunk) {
            int len = (int) Math.min(chunk, c.numel - off);
            c.tensor(0).readFloats(off, a, 0, len);
            for (int i = 0; i < len; i++) {
                a[i] *= s;
            }
            Rounding.roundInPlace(c.dtype, a, 0, len);
            out.writeFloats(off, a, 0, len);
        }
        return out;
    }
}
