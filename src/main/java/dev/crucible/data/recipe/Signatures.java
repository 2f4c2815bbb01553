package dev.crucible.data.recipe;

/**
 * The MinHash signatures of a run's rows, {@code numPerm} unsigned 32-bit values per row at the row's ordinal, in
 * chunks of 16 384 rows (so a corpus is not limited by one Java array's 2^31 elements, and memory is taken as rows
 * arrive). Rows are written by several threads, each to its own ordinals.
 */
final class Signatures {
    private static final int CHUNK_BITS = 14;
    private static final int CHUNK = 1 << CHUNK_BITS;

    private final int numPerm;
    private int[][] chunks = new int[16][];

    Signatures(int numPerm) {
        this.numPerm = numPerm;
    }

    int numPerm() {
        return numPerm;
    }

    /** The array holding row {@code ordinal}'s signature, allocated on first use. */
    synchronized int[] arrayFor(int ordinal) {
        int c = ordinal >>> CHUNK_BITS;
        if (c >= chunks.length) {
            chunks = java.util.Arrays.copyOf(chunks, Math.max(c + 1, chunks.length * 2));
        }
        if (chunks[c] == null) {
            chunks[c] = new int[CHUNK * numPerm];
        }
        return chunks[c];
    }

    /** Where row {@code ordinal}'s signature starts in {@link #arrayFor}'s array. */
    int offset(int ordinal) {
        return (ordinal & (CHUNK - 1)) * numPerm;
    }

    /** The array of a row already written (no locking: called after the writing threads have finished). */
    int[] array(int ordinal) {
        return chunks[ordinal >>> CHUNK_BITS];
    }

    double similarity(int x, int y) {
        return MinHash.estimatedJaccard(array(x), offset(x), array(y), offset(y), numPerm);
    }

    /** A 64-bit key of values {@code [from, from + count)} of a signature: equal values give equal keys. */
    static long bandKey(int[] sig, int off, int from, int count) {
        long h = 0x9E3779B97F4A7C15L * (from + 1);
        for (int k = 0; k < count; k++) {
            h = (h ^ (sig[off + from + k] & 0xFFFFFFFFL)) * 0xBF58476D1CE4E5B9L;
            h ^= h >>> 31;
        }
        h *= 0x94D049BB133111EBL;
        return h ^ (h >>> 29);
    }

    long bandKey(int ordinal, int from, int count) {
        return bandKey(array(ordinal), offset(ordinal), from, count);
    }
}
