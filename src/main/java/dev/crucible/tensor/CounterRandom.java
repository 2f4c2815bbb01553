package dev.crucible.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.nio.charset.StandardCharsets;

/**
 * A counter-based random generator: the draw for element {@code i} of a stream is a pure function of
 * (seed, stream name, stream index, i), so random masks do not depend on thread count, chunking or the order
 * tensors are processed in. SplitMix64's finaliser mixes the counter.
 */
public final class CounterRandom {
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;
    private static final VectorSpecies<Long> LONGS = LongVector.SPECIES_PREFERRED;
    /** Floats with as many lanes as {@link #LONGS}. */
    private static final VectorSpecies<Float> FLOATS =
            VectorSpecies.of(float.class, VectorShape.forBitSize(LONGS.vectorBitSize() / 2));

    private CounterRandom() {
    }

    /** The key of one stream, e.g. (merge seed, tensor name, model index). */
    public static long streamKey(long seed, String name, int index) {
        long h = 0xCBF29CE484222325L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xFF)) * 0x100000001B3L;
        }
        return mix(mix(seed * GOLDEN ^ h) + GOLDEN * (index + 1L));
    }

    /** A uniform float in [0, 1) with 24 random bits for element {@code i} of the stream {@code key}. */
    public static float uniform(long key, long i) {
        return bits24(key, i) * 0x1.0p-24f;
    }

    /** The 24 random bits behind {@link #uniform}: {@code uniform < p} iff {@code bits24 < ceil(p·2^24)}. */
    public static long bits24(long key, long i) {
        return mix(key + GOLDEN * (i + 1)) >>> 40;
    }

    /**
     * {@code out[j] = 1} if {@code bits24(key, first + j) < below} (a Bernoulli draw kept), else 0, for
     * {@code j < len}: the same draws as {@link #bits24}, vectorised.
     */
    public static void keepMask(long key, long first, long below, float[] out, int len) {
        int j = 0;
        LongVector iota = LongVector.zero(LONGS).addIndex(1);
        for (int upper = LONGS.loopBound(len); j < upper; j += LONGS.length()) {
            LongVector z = iota.add(first + j + 1).mul(GOLDEN).add(key);
            z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 30)).mul(0xBF58476D1CE4E5B9L);
            z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 27)).mul(0x94D049BB133111EBL);
            z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 31));
            LongVector kept = z.lanewise(VectorOperators.LSHR, 40).sub(below).lanewise(VectorOperators.LSHR, 63);
            ((FloatVector) kept.convertShape(VectorOperators.L2F, FLOATS, 0)).intoArray(out, j);
        }
        for (; j < len; j++) {
            out[j] = (float) ((bits24(key, first + j) - below) >>> 63);
        }
    }

    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
