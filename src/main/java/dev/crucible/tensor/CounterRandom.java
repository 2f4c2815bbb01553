package dev.crucible.tensor;

import java.nio.charset.StandardCharsets;

/**
 * A counter-based random generator: the draw for element {@code i} of a stream is a pure function of
 * (seed, stream name, stream index, i), so random masks do not depend on thread count, chunking or the order
 * tensors are processed in. SplitMix64's finaliser mixes the counter.
 */
public final class CounterRandom {
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

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

    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
