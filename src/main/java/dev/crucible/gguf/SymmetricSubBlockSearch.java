package dev.crucible.gguf;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * ggml's make_qx_quants (rmse_type 1, no importance matrix) for eight 16-value sub-blocks of a Q6_K super-block at
 * once, one per vector lane, each lane doing the scalar function's float operations in its order (bit for bit
 * ggml's result), as {@link SubBlockSearch} does for Q4_K and Q5_K.
 */
final class SymmetricSubBlockSearch {
    static final int LANES = 8;
    static final int LEN = 16;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_256;

    /** Transposed: element i of sub-block j sits at {@code [i * 8 + j]}. */
    private final float[] x = new float[LEN * LANES];
    private final int[] levels = new int[LEN * LANES];
    private final int[] aux = new int[LEN * LANES];
    final float[] scales = new float[LANES];

    /** Loads sub-block j from {@code values[vo ..+ 16]}. */
    void load(int j, float[] values, int vo) {
        for (int i = 0; i < LEN; i++) {
            x[i * LANES + j] = values[vo + i];
        }
    }

    /** Sub-block j's levels, stored as L + nmax, into {@code dst[o ..+ 16]}. */
    void levels(int j, byte[] dst, int o) {
        for (int i = 0; i < LEN; i++) {
            dst[o + i] = (byte) levels[i * LANES + j];
        }
    }

    /** make_qx_quants(16, nmax, x, L, 1, NULL) in every lane; levels -nmax..nmax-1 are stored as L + nmax. */
    void search(int nmax) {
        FloatVector zero = FloatVector.zero(F);
        FloatVector max = zero;
        FloatVector amax = zero;
        for (int i = 0; i < LEN; i++) {
            FloatVector xi = FloatVector.fromArray(F, x, i * LANES);
            FloatVector ax = xi.abs();
            VectorMask<Float> larger = ax.compare(VectorOperators.GT, amax);
            amax = amax.blend(ax, larger);
            max = max.blend(xi, larger);
        }
        VectorMask<Float> tiny = amax.lt(KQuants.GROUP_MAX_EPS);
        FloatVector iscale = FloatVector.broadcast(F, -nmax).div(max);
        FloatVector sumlx = zero;
        FloatVector suml2 = zero;
        for (int i = 0; i < LEN; i++) {
            FloatVector xi = FloatVector.fromArray(F, x, i * LANES);
            IntVector l = nearest(iscale.mul(xi), nmax);
            l.add(nmax).intoArray(levels, i * LANES);
            FloatVector lf = (FloatVector) l.convert(VectorOperators.I2F, 0);
            FloatVector w = xi.mul(xi);
            sumlx = sumlx.add(w.mul(xi).mul(lf));
            suml2 = suml2.add(w.mul(lf).mul(lf));
        }
        FloatVector scale = sumlx.div(suml2).blend(zero, suml2.eq(zero));
        FloatVector best = scale.mul(sumlx);
        for (int is = -9; is <= 9; is++) {
            if (is == 0) {
                continue;
            }
            iscale = FloatVector.broadcast(F, -(nmax + 0.1f * is)).div(max);
            sumlx = zero;
            suml2 = zero;
            for (int i = 0; i < LEN; i++) {
                FloatVector xi = FloatVector.fromArray(F, x, i * LANES);
                IntVector l = nearest(iscale.mul(xi), nmax);
                l.add(nmax).intoArray(aux, i * LANES);
                FloatVector lf = (FloatVector) l.convert(VectorOperators.I2F, 0);
                FloatVector w = xi.mul(xi);
                sumlx = sumlx.add(w.mul(xi).mul(lf));
                suml2 = suml2.add(w.mul(lf).mul(lf));
            }
            VectorMask<Float> better = suml2.compare(VectorOperators.GT, zero)
                    .and(sumlx.mul(sumlx).compare(VectorOperators.GT, best.mul(suml2))).andNot(tiny);
            if (!better.anyTrue()) {
                continue;
            }
            VectorMask<Integer> betterLanes = better.cast(I);
            for (int i = 0; i < LEN; i++) {
                IntVector.fromArray(I, levels, i * LANES)
                        .blend(IntVector.fromArray(I, aux, i * LANES), betterLanes).intoArray(levels, i * LANES);
            }
            scale = scale.blend(sumlx.div(suml2), better);
            best = best.blend(scale.mul(sumlx), better);
        }
        VectorMask<Integer> tinyLanes = tiny.cast(I);
        for (int i = 0; i < LEN; i++) { // a (near) zero sub-block: levels 0, scale 0
            IntVector.fromArray(I, levels, i * LANES).blend(IntVector.zero(I), tinyLanes).intoArray(levels, i * LANES);
        }
        scale.blend(zero, tiny).intoArray(scales, 0);
    }

    /** ggml's nearest_int of v, clamped to -nmax..nmax-1. */
    private static IntVector nearest(FloatVector v, int nmax) {
        return SubBlockSearch.nearestInts(v).max(-nmax).min(nmax - 1);
    }
}
