package dev.crucible.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/** Small float32 vector primitives on array slices, for the layers that are not matrix products. */
public final class VectorMath {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();

    // Lane rotations by 8, 4, 2, 1 as separate constants: C2 only intrinsifies rearrange with a constant shuffle.
    private static final VectorShuffle<Float> ROTATE_8 = rotation(8);
    private static final VectorShuffle<Float> ROTATE_4 = rotation(4);
    private static final VectorShuffle<Float> ROTATE_2 = rotation(2);
    private static final VectorShuffle<Float> ROTATE_1 = rotation(1);
    private static final VectorShuffle<Float> ROTATE_12 = rotation(12);
    private static final VectorMask<Float> UPPER_HALF = L == 16 ? VectorMask.fromLong(F, 0xFF00L) : null;
    private static final VectorMask<Float> ODD_QUARTERS = L == 16 ? VectorMask.fromLong(F, 0xF0F0L) : null;

    static {
        if (L > 16) {
            throw new ExceptionInInitializerError("float vectors of " + L + " lanes are not supported");
        }
    }

    private static VectorShuffle<Float> rotation(int step) {
        return VectorShuffle.fromOp(F, lane -> (lane + step) % L);
    }

    private VectorMath() {
    }

    /**
     * The sum of the lanes in a fixed pairwise order. {@code reduceLanes} is not used because its order
     * differs between interpreted and compiled code, which would make results depend on JIT warm-up.
     */
    public static float sumLanes(FloatVector v) {
        if (L >= 16) {
            v = v.add(v.rearrange(ROTATE_8));
        }
        if (L >= 8) {
            v = v.add(v.rearrange(ROTATE_4));
        }
        if (L >= 4) {
            v = v.add(v.rearrange(ROTATE_2));
        }
        if (L >= 2) {
            v = v.add(v.rearrange(ROTATE_1));
        }
        return v.lane(0);
    }

    /**
     * {@link #sumLanes} of four vectors at once, bit-identical to four separate calls but with fewer shuffles:
     * after the first halving step a's and b's partial sums share one vector (upper half b), c's and d's
     * another, and after the second step all four share one. Writes the sums to {@code out[0..3]}, using
     * {@code out[0..L)} as scratch.
     */
    public static void sumLanes4(FloatVector a, FloatVector b, FloatVector c, FloatVector d, float[] out) {
        if (L != 16) {
            out[0] = sumLanes(a);
            out[1] = sumLanes(b);
            out[2] = sumLanes(c);
            out[3] = sumLanes(d);
            return;
        }
        // x + rot8(x) is symmetric (lane i+8 equals lane i), so b's upper half holds its lower-half sums
        FloatVector u = a.add(a.rearrange(ROTATE_8)).blend(b.add(b.rearrange(ROTATE_8)), UPPER_HALF);
        FloatVector v = c.add(c.rearrange(ROTATE_8)).blend(d.add(d.rearrange(ROTATE_8)), UPPER_HALF);
        u = u.add(u.rearrange(ROTATE_4)); // lanes 0-3: a, 8-11: b
        v = v.add(v.rearrange(ROTATE_4)); // lanes 0-3: c, 8-11: d
        FloatVector w = u.blend(v.rearrange(ROTATE_12), ODD_QUARTERS); // c into lanes 4-7, d into 12-15
        w = w.add(w.rearrange(ROTATE_2));
        w = w.add(w.rearrange(ROTATE_1));
        w.intoArray(out, 0);
        float sb = out[8], sc = out[4], sd = out[12];
        out[1] = sb;
        out[2] = sc;
        out[3] = sd;
    }

    /** Σ a[ao+i]·b[bo+i] for i in [0, n). */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        int full = n / L * L;
        float s = 0;
        if (full > 0) {
            FloatVector acc = FloatVector.zero(F);
            for (int i = 0; i < full; i += L) {
                acc = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), acc);
            }
            s = sumLanes(acc);
        }
        for (int i = full; i < n; i++) {
            s += a[ao + i] * b[bo + i];
        }
        return s;
    }

    /** y[yo+i] += alpha·x[xo+i] for i in [0, n). */
    public static void axpy(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        int full = n / L * L;
        FloatVector av = FloatVector.broadcast(F, alpha);
        for (int i = 0; i < full; i += L) {
            FloatVector.fromArray(F, x, xo + i).fma(av, FloatVector.fromArray(F, y, yo + i)).intoArray(y, yo + i);
        }
        for (int i = full; i < n; i++) {
            y[yo + i] += alpha * x[xo + i];
        }
    }

    /** Σ x[xo+i]² for i in [0, n). */
    public static float sumOfSquares(float[] x, int xo, int n) {
        return dot(x, xo, x, xo, n);
    }

    /** y[i] += x[i] over whole arrays of equal length. */
    public static void addInPlace(float[] y, float[] x, int n) {
        int full = n / L * L;
        for (int i = 0; i < full; i += L) {
            FloatVector.fromArray(F, y, i).add(FloatVector.fromArray(F, x, i)).intoArray(y, i);
        }
        for (int i = full; i < n; i++) {
            y[i] += x[i];
        }
    }
}
