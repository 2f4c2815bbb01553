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
 * over candidate scales is most of a k-quant export's time, and eight lanes make it several times faster than one.
 */
final class SubBlockSearch {
    static final int LANES = 8;
    static final int LEN = 32;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_256;
    /** 1.5 * 2^23: adding it leaves round-to-nearest-even of a small float in the low mantissa bits (ggml's nearest_int). */
    private static final float MAGIC = 12582912f;

    /** The per-lane inputs and results, transposed: element i of sub-block j sits at {@code [i * 8 + j]}. */
    private final float[] x = new float[LEN * LANES];
    private final float[] w = new float[LEN * LANES];
    private final int[] levels = new int[LEN * LANES];
    private final int[] aux = new int[LEN * LANES];
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
        FloatVector x0 = FloatVector.fromArray(F, x, 0);
        FloatVector min = x0;
        FloatVector max = x0;
        FloatVector sumW = FloatVector.fromArray(F, w, 0);
        FloatVector sumX = sumW.mul(x0);
        for (int i = 1; i < LEN; i++) {
            FloatVector xi = FloatVector.fromArray(F, x, i * LANES);
            min = min.blend(xi, xi.lt(min));
            max = max.blend(xi, xi.compare(VectorOperators.GT, max));
            FloatVector wi = FloatVector.fromArray(F, w, i * LANES);
            sumW = sumW.add(wi);
            sumX = sumX.add(wi.mul(xi));
        }
        FloatVector zero = FloatVector.zero(F);
        min = min.blend(zero, min.compare(VectorOperators.GT, zero));
        VectorMask<Float> flat = max.eq(min);
        FloatVector iscale = FloatVector.broadcast(F, nmax).div(max.sub(min));
        FloatVector scale = FloatVector.broadcast(F, 1f).div(iscale);
        FloatVector bestError = zero;
        for (int i = 0; i < LEN; i++) {
            FloatVector xi = FloatVector.fromArray(F, x, i * LANES);
            IntVector l = nearest(iscale.mul(xi.sub(min)), nmax);
            l.intoArray(levels, i * LANES);
            FloatVector diff = scale.mul(toFloat(l)).add(min).sub(xi);
            bestError = bestError.add(FloatVector.fromArray(F, w, i * LANES).mul(diff.mul(diff)));
        }
        for (int is = 0; is <= nstep; is++) {
            iscale = FloatVector.broadcast(F, rmin + rdelta * is + nmax).div(max.sub(min));
            FloatVector sumL = zero;
            FloatVector sumL2 = zero;
            FloatVector sumXl = zero;
            for (int i = 0; i < LEN; i++) {
                FloatVector xi = FloatVector.fromArray(F, x, i * LANES);
                IntVector l = nearest(iscale.mul(xi.sub(min)), nmax);
                l.intoArray(aux, i * LANES);
                FloatVector lf = toFloat(l);
                FloatVector wl = FloatVector.fromArray(F, w, i * LANES).mul(lf);
                sumL = sumL.add(wl);
                sumL2 = sumL2.add(wl.mul(lf));
                sumXl = sumXl.add(wl.mul(xi));
            }
            FloatVector det = sumW.mul(sumL2).sub(sumL.mul(sumL));
            VectorMask<Float> solvable = det.compare(VectorOperators.GT, zero).andNot(flat);
            if (!solvable.anyTrue()) {
                continue;
            }
            FloatVector thisScale = sumW.mul(sumXl).sub(sumX.mul(sumL)).div(det);
            FloatVector thisMin = sumL2.mul(sumX).sub(sumL.mul(sumXl)).div(det);
            VectorMask<Float> positive = thisMin.compare(VectorOperators.GT, zero);
            thisMin = thisMin.blend(zero, positive);
            thisScale = thisScale.blend(sumXl.div(sumL2), positive);
            FloatVector curError = zero;
            for (int i = 0; i < LEN; i++) {
                FloatVector xi = FloatVector.fromArray(F, x, i * LANES);
                FloatVector diff = thisScale.mul(toFloat(IntVector.fromArray(I, aux, i * LANES))).add(thisMin).sub(xi);
                curError = curError.add(FloatVector.fromArray(F, w, i * LANES).mul(diff.mul(diff)));
            }
            VectorMask<Float> better = solvable.and(curError.lt(bestError));
            if (!better.anyTrue()) {
                continue;
            }
            VectorMask<Integer> betterLanes = better.cast(I);
            for (int i = 0; i < LEN; i++) {
                IntVector.fromArray(I, levels, i * LANES)
                        .blend(IntVector.fromArray(I, aux, i * LANES), betterLanes).intoArray(levels, i * LANES);
            }
            bestError = bestError.blend(curError, better);
            scale = scale.blend(thisScale, better);
            min = min.blend(thisMin, better); // later candidates use the new min, as in ggml
        }
        VectorMask<Integer> flatLanes = flat.cast(I);
        for (int i = 0; i < LEN; i++) { // a constant sub-block: levels 0, scale 0
            IntVector.fromArray(I, levels, i * LANES).blend(IntVector.zero(I), flatLanes).intoArray(levels, i * LANES);
        }
        scale.blend(zero, flat).intoArray(scales, 0);
        min.neg().intoArray(mins, 0);
    }

    /** ggml's nearest_int of v, clamped to 0..nmax. */
    private static IntVector nearest(FloatVector v, int nmax) {
        return nearestInts(v).max(0).min(nmax);
    }

    /** ggml's nearest_int in every lane (round half to even, for |v| below 2^22). */
    static IntVector nearestInts(FloatVector v) {
        return v.add(MAGIC).reinterpretAsInts().and(0x007fffff).sub(0x00400000);
    }

    private static FloatVector toFloat(IntVector l) {
        return (FloatVector) l.convert(VectorOperators.I2F, 0);
    }
}
