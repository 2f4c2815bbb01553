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
        return streamingBytes(numel, inputs, dtype);
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
        double[] sq = new double[2];
        for (long off = 0; off < c.numel; off += chunk) {
            int len = (int) Math.min(chunk, c.numel - off);
            v0.readFloats(off, a, 0, len);
            v1.readFloats(off, x, 0, len);
            sumSquares(a, x, len, sq);
        }
        float norm0 = (float) Math.sqrt((float) sq[0]);
        float norm1 = (float) Math.sqrt((float) sq[1]);
        float d0 = norm0 > EPS ? norm0 : 1f;
        float d1 = norm1 > EPS ? norm1 : 1f;
        double dotSum = 0;
        for (long off = 0; off < c.numel; off += chunk) {
            int len = (int) Math.min(chunk, c.numel - off);
            v0.readFloats(off, a, 0, len);
            v1.readFloats(off, x, 0, len);
            dotSum = normalizedDot(a, x, len, d0, d1, dotSum);
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
            mix(a, x, len, s0, s1);
            out.writeFloats(off, a, 0, len); // rounds float32 to the dtype once, as .to(dtype) does
        }
        return out;
    }

    // The loops below are separate small methods so that C2 compiles each on its own, early and cheaply, instead
    // of one large on-stack replacement of merge(). The sums run in element order (results depend on it).

    /** Adds {@code a[i]²} to {@code sq[0]} and {@code x[i]²} to {@code sq[1]}, in order. */
    private static void sumSquares(float[] a, float[] x, int len, double[] sq) {
        double s0 = sq[0];
        double s1 = sq[1];
        for (int i = 0; i < len; i++) {
            s0 += a[i] * a[i];
            s1 += x[i] * x[i];
        }
        sq[0] = s0;
        sq[1] = s1;
    }

    private static double normalizedDot(float[] a, float[] x, int len, float d0, float d1, double sum) {
        for (int i = 0; i < len; i++) {
            sum += (a[i] / d0) * (x[i] / d1);
        }
        return sum;
    }

    /** {@code a = s0·a + s1·x}. */
    private static void mix(float[] a, float[] x, int len, float s0, float s1) {
        for (int i = 0; i < len; i++) {
            a[i] = s0 * a[i] + s1 * x[i];
        }
    }
}
