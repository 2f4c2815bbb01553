package dev.crucible.data.recipe;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The seeded random draws of a recipe ({@code sample}, {@code weight}), keyed by a row's identity (input, file,
 * line or row number), never by the order rows happen to be processed in, so both engines draw the same rows.
 * Drawing {@code k} of an input's rows keeps the {@code k} with the smallest keys.
 */
final class RowKeys {
    static final int SAMPLE = 1;
    static final int WEIGHT = 2;

    private RowKeys() {
    }

    static long key(long seed, int purpose, int input, int file, long number) {
        byte[] b = ByteBuffer.allocate(28).order(ByteOrder.LITTLE_ENDIAN).putLong(seed).putInt(purpose).putInt(input)
                .putInt(file).putLong(number).array();
        return Xxh3.hash64(b, 0, b.length, 0);
    }

    /** The largest key among the {@code k} smallest of {@code keys[0, n)} (unsigned order); every key if k >= n. */
    static long threshold(long[] keys, int n, long k) {
        if (k >= n) {
            return -1L; // the largest unsigned value
        }
        long[] sorted = Arrays.copyOf(keys, n);
        for (int i = 0; i < n; i++) {
            sorted[i] ^= Long.MIN_VALUE; // unsigned order as signed
        }
        Arrays.sort(sorted);
        return sorted[(int) k - 1] ^ Long.MIN_VALUE;
    }

    static boolean drawn(long key, long threshold) {
        return Long.compareUnsigned(key, threshold) <= 0;
    }

    static String sampleReason(Number amount, int input, long k, long of, long seed) {
        return String.format(java.util.Locale.ROOT, "not drawn: sample %s of inputs[%d] keeps %,d of %,d rows (seed %d)",
                amount, input, k, of, seed);
    }

    static String weightReason(double weight, int input) {
        return String.format(java.util.Locale.ROOT, "not drawn: weight %s of inputs[%d]", weight, input);
    }

    /** Rows to draw: a fraction of {@code n} (rounded half up) or a count, at most {@code n}. */
    static long count(Number sample, long n) {
        if (sample instanceof Double f) {
            return Math.min(n, Math.round(f * n));
        }
        return Math.min(n, sample.longValue());
    }
}
