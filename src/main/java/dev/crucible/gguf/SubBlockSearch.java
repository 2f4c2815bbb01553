package dev.crucible.gguf;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * ggml's make_qkx2_quants for the eight 32-value sub-blocks of a Q4_K/Q5_K super-block at once, one sub-block per
 * vector lane. Each lane performs exactly the scalar function's float operations in the scalar order (C's
 * comparisons, not Math.min/max, so signed zeros behave alike), so the result is bit for bit ggml's; the search
 * over candidate scales is most of a k-quant export's time. Each step is its own small method passing its
 * results through the per-lane arrays: one large method exceeds what C2 inlines, and its vectors get boxed.
 */
final class SubBlockSearch {
    static final int LANES = 8;
    static final int LEN = 32;
    static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_256;
    /** 1.5 * 2^23: adding it leaves round-to-nearest-even of a small float in the low mantissa bits (ggml's nearest_int). */
    private static final float MAGIC = 12582912f;

    /** The inputs and levels, transposed: element i of sub-block j sits at {@code [i * 8 + j]}. */
    private final float[] x = new float[LEN * LANES];
    private final float[] w = new float[LEN * LANES];
    private final int[] levels = new int[LEN * LANES];
    private final int[] aux = new int[LEN * LANES];
    /** Per-lane state of the search. */
    private final float[] min = new float[LANES];
    private final float[] max = new float[LANES];
    private final float[] sumW = new float[LANES];
    private final float[] sumX = new float[LANES];
    private final float[] bestError = new float[LANES];
    private final float[] candidateScale = new float[LANES];
    private final float[] candidateMin = new float[LANES];
    private final float[] candidateError = new float[LANES];
    private final boolean[] flat = new boolean[LANES];
    private final boolean[] better = new boolean[LANES];
    final float[] scales = new float[LANES];
    /** -min per sub-block, as make_qkx2_quants returns it in {@code the_min}. */
    final float[] mins = new float[LANES];

    /** Loads sub-block j's values and importance weights. */
    void load(int j, float[] values, int vo, float[] weights) {
        for (int i = 0; i < LEN; i++) {
            x[i * LANES + j] = values[vo + i];
            w[i * LANES + j] = weights[i];
        }
    }

    /** Sub-block j's levels into {@code dst[o ..+ 32]}. */
    void levels(int j, byte[] dst, int o) {
        for (int i = 0; i < LEN; i++) {
            dst[o + i] = (byte) levels[i * LANES + j];
        }
    }

    /** make_qkx2_quants(32, nmax, x, weights, L, &the_min, Laux, rmin, rdelta, nstep, false) in every lane. */
    void search(int nmax, float rmin, float rdelta, int nstep) {
        statistics();
        firstGuess(nmax);
        for (int is = 0; is <= nstep; is++) {
            if (candidate(nmax, rmin + rdelta * is + nmax)) {
                accept();
            }
        }
        finish();
    }

    /** min (at most 0), max, Σw and Σwx; a lane whose values are all equal is flat. */
    private void statistics() {
        FloatVector x0 = FloatVector.fromArray(F, x, 0);
        FloatVector lo = x0;
        FloatVector hi = x0;
        FloatVector sw = FloatVector.fromArray(F, w, 0);
        FloatVector sx = sw.mul(x0);
        for (int i = 1; i < LEN; i++) {
            FloatVector xi = FloatVector.fromArray(F, x, i * LANES);
            lo = lo.blend(xi, xi.lt(lo));
            hi = hi.blend(xi, xi.compare(VectorOperators.GT, hi));
            FloatVector wi = FloatVector.fromArray(F, w, i * LANES);
            sw = sw.add(wi);
            sx = sx.add(wi.mul(xi));
        }
        lo = lo.blend(0f, lo.compare(VectorOperators.GT, 0f));
        lo.intoArray(min, 0);
        hi.intoArray(max, 0);
        sw.intoArray(sumW, 0);
        sx.intoArray(sumX, 0);
        hi.eq(lo).intoArray(flat, 0);
    }

    /** Levels at scale (max - min) / nmax, and their weighted squared error. */
    private void firstGuess(int nmax) {
        FloatVector lo = FloatVector.fromArray(F, min, 0);
        FloatVector iscale = FloatVector.broadcast(F, (float) nmax).div(FloatVector.fromArray(F, max, 0).sub(lo));
        FloatVector scale = FloatVector.broadcast(F, 1f).div(iscale);
        FloatVector error = FloatVector.zero(F);
        for (int i = 0; i < LEN; i++) {
            FloatVector xi = FloatVector.fromArray(F, x, i * LANES);
            IntVector l = nearest(iscale.mul(xi.sub(lo)), nmax);
            l.intoArray(levels, i * LANES);
            FloatVector diff = scale.mul(toFloat(l)).add(lo).sub(xi);
            error = error.add(FloatVector.fromArray(F, w, i * LANES).mul(diff.mul(diff)));
        }
        scale.intoArray(scales, 0);
        error.intoArray(bestError, 0);
    }

    /**
     * Levels at iscale = numerator / (max - min) into {@code aux}, the weighted least-squares scale and min for
     * them and, where that fit exists, whether it beats the best error so far; returns whether any lane improved.
     */
    private boolean candidate(int nmax, float numerator) {
        FloatVector lo = FloatVector.fromArray(F, min, 0);
        FloatVector iscale = FloatVector.broadcast(F, numerator).div(FloatVector.fromArray(F, max, 0).sub(lo));
        FloatVector sumL = FloatVector.zero(F);
        FloatVector sumL2 = FloatVector.zero(F);
        FloatVector sumXl = FloatVector.zero(F);
        for (int i = 0; i < LEN; i++) {
            FloatVector xi = FloatVector.fromArray(F, x, i * LANES);
            IntVector l = nearest(iscale.mul(xi.sub(lo)), nmax);
            l.intoArray(aux, i * LANES);
            FloatVector lf = toFloat(l);
            FloatVector wl = FloatVector.fromArray(F, w, i * LANES).mul(lf);
            sumL = sumL.add(wl);
            sumL2 = sumL2.add(wl.mul(lf));
            sumXl = sumXl.add(wl.mul(xi));
        }
        FloatVector sw = FloatVector.fromArray(F, sumW, 0);
        FloatVector sx = FloatVector.fromArray(F, sumX, 0);
        FloatVector det = sw.mul(sumL2).sub(sumL.mul(sumL));
        VectorMask<Float> solvable = det.compare(VectorOperators.GT, 0f)
                .andNot(VectorMask.fromArray(F, flat, 0));
        if (!solvable.anyTrue()) {
            return false;
        }
        FloatVector thisScale = sw.mul(sumXl).sub(sx.mul(sumL)).div(det);
        FloatVector thisMin = sumL2.mul(sx).sub(sumL.mul(sumXl)).div(det);
        VectorMask<Float> positive = thisMin.compare(VectorOperators.GT, 0f);
        thisMin = thisMin.blend(0f, positive);
        thisScale = thisScale.blend(sumXl.div(sumL2), positive);
        thisScale.intoArray(candidateScale, 0);
        thisMin.intoArray(candidateMin, 0);
        FloatVector error = fittedError();
        error.intoArray(candidateError, 0);
        VectorMask<Float> improved = solvable.and(error.lt(FloatVector.fromArray(F, bestError, 0)));
        improved.intoArray(better, 0);
        return improved.anyTrue();
    }

    /** Weighted squared error of the candidate's levels at its fitted scale and min. */
    private FloatVector fittedError() {
        FloatVector thisScale = FloatVector.fromArray(F, candidateScale, 0);
        FloatVector thisMin = FloatVector.fromArray(F, candidateMin, 0);
        FloatVector error = FloatVector.zero(F);
        for (int i = 0; i < LEN; i++) {
            FloatVector xi = FloatVector.fromArray(F, x, i * LANES);
            FloatVector diff = thisScale.mul(toFloat(IntVector.fromArray(I, aux, i * LANES))).add(thisMin).sub(xi);
            error = error.add(FloatVector.fromArray(F, w, i * LANES).mul(diff.mul(diff)));
        }
        return error;
    }

    /** Where the candidate improved: its levels, error, scale and min (later candidates use it, as in ggml). */
    private void accept() {
        VectorMask<Float> take = VectorMask.fromArray(F, better, 0);
        VectorMask<Integer> takeLanes = VectorMask.fromArray(I, better, 0);
        for (int i = 0; i < LEN; i++) {
            IntVector.fromArray(I, levels, i * LANES)
                    .blend(IntVector.fromArray(I, aux, i * LANES), takeLanes).intoArray(levels, i * LANES);
        }
        take(bestError, candidateError, take);
        take(scales, candidateScale, take);
        take(min, candidateMin, take);
    }

    private static void take(float[] state, float[] candidate, VectorMask<Float> lanes) {
        FloatVector.fromArray(F, state, 0).blend(FloatVector.fromArray(F, candidate, 0), lanes).intoArray(state, 0);
    }

    /** A flat sub-block: levels 0 and scale 0; every lane returns -min. */
    private void finish() {
        VectorMask<Integer> flatLanes = VectorMask.fromArray(I, flat, 0);
        for (int i = 0; i < LEN; i++) {
            IntVector.fromArray(I, levels, i * LANES).blend(0, flatLanes).intoArray(levels, i * LANES);
        }
        FloatVector.fromArray(F, scales, 0).blend(0f, VectorMask.fromArray(F, flat, 0)).intoArray(scales, 0);
        FloatVector.fromArray(F, min, 0).neg().intoArray(mins, 0);
    }

    /** ggml's nearest_int of v, clamped to 0..nmax. */
    private static IntVector nearest(FloatVector v, int nmax) {
        return nearestInts(v).max(0).min(nmax);
    }

    /** ggml's nearest_int in every lane (round half to even, for |v| below 2^22). */
    static IntVector nearestInts(FloatVector v) {
        return v.add(MAGIC).reinterpretAsInts().and(0x007fffff).sub(0x00400000);
    }

    static FloatVector toFloat(IntVector l) {
        return (FloatVector) l.convert(VectorOperators.I2F, 0);
    }
}
