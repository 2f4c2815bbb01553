package dev.crucible.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Small float32 vector primitives on array slices, for the layers that are not matrix products (those go through
 * {@link Gemm}). Every operation here gives the same bits interpreted and compiled: the Vector API's
 * {@code reduceLanes(ADD)} and its transcendental lanewise operations ({@code EXP}, ...) do not (C2 reorders the sum and
 * calls a different exp), which made training depend on when the JIT compiled each method. Use {@link #sumLanes},
 * {@link #maxLanes} and {@link #exp} instead.
 */
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

    /** The largest lane (NaN if any lane is), in the same fixed order as {@link #sumLanes}. */
    public static float maxLanes(FloatVector v) {
        if (L >= 16) {
            v = v.max(v.rearrange(ROTATE_8));
        }
        if (L >= 8) {
            v = v.max(v.rearrange(ROTATE_4));
        }
        if (L >= 4) {
            v = v.max(v.rearrange(ROTATE_2));
        }
        if (L >= 2) {
            v = v.max(v.rearrange(ROTATE_1));
        }
        return v.lane(0);
    }

    private static final float LOG2E = 1.44269504088896341f;
    /** ln 2 split in two: n · LN2_HI is exact for the n that occur, so x - n·ln 2 loses no bits. */
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** 1.5 · 2²³: adding it rounds to an integer, which then sits in the low bits of the sum. */
    private static final float ROUNDER = 12582912f;
    private static final int ROUNDER_BITS = Float.floatToRawIntBits(ROUNDER);

    /**
     * e^x per lane from additions, multiplications and bit operations only, so the result is the same in every
     * execution mode (within 2 ulp of the correctly rounded value; subnormal results and ±infinity as Math.exp).
     * x = n·ln 2 + r with |r| <= ln 2 / 2; e^r by a degree-7 polynomial; 2^n applied as two normal scale factors.
     */
    public static FloatVector exp(FloatVector x) {
        FloatVector clamped = x.max(-104f).min(89f);
        FloatVector t = clamped.fma(LOG2E, ROUNDER);
        FloatVector n = t.sub(ROUNDER);
        FloatVector r = n.fma(FloatVector.broadcast(F, -LN2_HI), clamped);
        r = n.fma(FloatVector.broadcast(F, -LN2_LO), r);
        FloatVector p = r.fma(1.9841270e-4f, 1.3888889e-3f);
        p = p.fma(r, FloatVector.broadcast(F, 8.3333333e-3f));
        p = p.fma(r, FloatVector.broadcast(F, 4.1666667e-2f));
        p = p.fma(r, FloatVector.broadcast(F, 1.6666667e-1f));
        p = p.fma(r, FloatVector.broadcast(F, 0.5f));
        p = p.fma(r, FloatVector.broadcast(F, 1f));
        p = p.fma(r, FloatVector.broadcast(F, 1f));
        IntVector ni = t.reinterpretAsInts().sub(ROUNDER_BITS);
        IntVector half = ni.lanewise(VectorOperators.ASHR, 1);
        FloatVector s1 = half.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = ni.sub(half).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector e = p.mul(s1).mul(s2);
        // NaN stays NaN (the clamp would have turned it into a number)
        return e.blend(x, x.test(VectorOperators.IS_NAN));
    }

    /** {@link #exp} of one value, through the same vector code (for scalar tails that must match the vector lanes). */
    public static float exp(float x) {
        return exp(FloatVector.broadcast(F, x)).lane(0);
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
