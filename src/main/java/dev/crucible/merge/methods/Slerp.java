package dev.crucible.merge.methods;

import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;

/**
 * {@code slerp} between the base ({@code t = 0}) and the other model, as mergekit computes it in float32 NumPy:
 * the whole tensor is one vector, the angle comes from the normalised vectors, the result combines the
 * original (unnormalised) tensors; when {@code |cos| > 0.9995} it falls back to linear interpolation. The
 * float32 result is rounded to the compute dtype. Streams in chunks (three passes) without whole-tensor copies.
 */
final class Slerp extends AbstractMergeMethod {
    static final float DOT_THRESHOLD = 0.9995f;
    static final float EPS = 1e-8f;

    Slerp() {
        super("slerp", BaseModelUse.REQUIRED, params("t", null), params());
    }

    @Override
    public long workingBytes(long numel, int inputs, DType dtype) {
        return streamingBytes(numel, inputs);
    }

    @Override
    Tensor merge(MethodCall c) {
        if (c.count() == 1) {
            return c.tensor(0);
        }
        int b = c.requireBaseAndOneOther();
        double t = c.globalNumber("t");
        Tensor v0 = c.tensor(b);
        Tensor v1 = c.tensor(c.others()[0]);
        int chunk = (int) Math.min(Linear.CHUNK, c.numel);
        float[] a = new float[chunk];
        float[] x = new float[chunk];
        double sq0 = 0;
        double sq1 = 0;
        for (long off = 0; off < c.numel; off += chunk) {
            int len = (int) Math.min(chunk, c.numel - off);
            v0.readFloats(off, a, 0, len);
            v1.readFloats(off, x, 0, len);
            for (int i = 0; i < len; i++) {
                sq0 += a[i] * a[i];
                sq1 += x[i] * x[i];
            }
        }
        float norm0 = (float) Math.sqrt((float) sq0);
        float norm1 = (float) Math.sqrt((float) sq1);
        float d0 = norm0 > EPS ? norm0 : 1f;
        float d1 = norm1 > EPS ? norm1 : 1f;
        double dotSum = 0;
        for (long off = 0; off < c.numel; off += chunk) {
            int len = (int) Math.min(chunk, c.numel - off);
            v0.readFloats(off, a, 0, len);
            v1.readFloats(off, x, 0, len);
            for (int i = 0; i < len; i++) {
                dotSum += (a[i] / d0) * (x[i] / d1);
            }
        }
        float dot = (float) dotSum;
        float s0;
        float s1;
        if (Math.abs(dot) > DOT_THRESHOLD) {
            s0 = (float) (1 - t);
            s1 = (float) t;
        } else {
            float theta0 = (float) Math.acos(dot);
            float sin0 = (float) Math.sin(theta0);
            float thetaT = theta0 * (float) t;
            float sinT = (float) Math.sin(thetaT);
            s0 = (float) Math.sin(theta0 - thetaT) / sin0;
            s1 = sinT / sin0;
        }
        Tensor out = c.newOutput(c.dtype);
        for (long off = 0; off < c.numel; off += chunk) {
            int len = (int) Math.min(chunk, c.numel - off);
            v0.readFloats(off, a, 0, len);
            v1.readFloats(off, x, 0, len);
            for (int i = 0; i < len; i++) {
                a[i] = s0 * a[i] + s1 * x[i];
            }
            out.writeFloats(off, a, 0, len); // rounds float32 to the dtype once, as .to(dtype) does
        }
        return out;
    }
}
