package dev.crucible.tensor;

import jdk.incubator.vector.FloatVector;
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
