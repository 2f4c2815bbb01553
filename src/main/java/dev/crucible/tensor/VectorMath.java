package dev.crucible.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/** Small float32 vector primitives on array slices, for the layers that are not matrix products. */
public final class VectorMath {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();

    @SuppressWarnings("unchecked")
    private static final VectorShuffle<Float>[] ROTATIONS = new VectorShuffle[Integer.numberOfTrailingZeros(L)];

    static {
        for (int i = 0, step = L / 2; step >= 1; i++, step /= 2) {
            int s = step;
            ROTATIONS[i] = VectorShuffle.fromOp(F, lane -> (lane + s) % L);
        }
    }

    private VectorMath() {
    }

    /**
     * The sum of the lanes in a fixed pairwise order. {@code reduceLanes} is not used because its order
     * differs between interpreted and compiled code, which would make results depend on JIT warm-up.
     */
    public static float sumLanes(FloatVector v) {
        for (VectorShuffle<Float> r : ROTATIONS) {
            v = v.add(v.rearrange(r));
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
