package dev.crucible.tensor;

/**
 * Linear-time selection by magnitude (no sort): the bits of {@code |x|} order like the values, so a two-pass
 * radix select (high 16 bits, then low 16 bits inside one bucket) finds the element of any rank. For bf16
 * values the second pass is trivial. NaN magnitudes order above infinity.
 */
public final class MagnitudeSelection {
    private MagnitudeSelection() {
    }

    static int key(float v) {
        return Float.floatToRawIntBits(v) & 0x7FFFFFFF;
    }

    /** The magnitude {@code |x|} at ascending rank {@code rank} (0 = smallest) among {@code x[0..n)}. */
    public static float magnitudeAtRank(float[] x, int n, int rank) {
        return Float.intBitsToFloat(keyAtRank(x, n, rank));
    }

    /** The k-th largest magnitude (k >= 1). */
    public static float kthLargestMagnitude(float[] x, int n, int k) {
        return magnitudeAtRank(x, n, n - k);
    }

    static int keyAtRank(float[] x, int n, int rank) {
        if (rank < 0 || rank >= n) {
            throw new IllegalArgumentException("rank " + rank + " outside [0, " + n + ")");
        }
        int[] hist = new int[1 << 15];
        for (int i = 0; i < n; i++) {
            hist[key(x[i]) >>> 16]++;
        }
        int bucket = 0;
        int below = 0;
        while (below + hist[bucket] <= rank) {
            below += hist[bucket++];
        }
        int[] low = new int[1 << 16];
        for (int i = 0; i < n; i++) {
            int k = key(x[i]);
            if (k >>> 16 == bucket) {
                low[k & 0xFFFF]++;
            }
        }
        int sub = 0;
        while (below + low[sub] <= rank) {
            below += low[sub++];
        }
        return bucket << 16 | sub;
    }

    /**
     * Marks {@code keep[i] = 1} for the elements whose ascending rank by magnitude lies in {@code [lo, hi)};
     * elements of equal magnitude are ranked by index. Others get 0.
     */
    public static void keepRankRange(float[] x, int n, int lo, int hi, byte[] keep) {
        if (lo >= hi) {
            java.util.Arrays.fill(keep, 0, n, (byte) 0);
            return;
        }
        int a = keyAtRank(x, n, lo);
        int b = keyAtRank(x, n, hi - 1);
        int lessA = 0;
        int lessB = 0;
        for (int i = 0; i < n; i++) {
            int k = key(x[i]);
            lessA += k < a ? 1 : 0;
            lessB += k < b ? 1 : 0;
        }
        int seenA = 0;
        int seenB = 0;
        for (int i = 0; i < n; i++) {
            int k = key(x[i]);
            boolean in;
            if (k > a && k < b) {
                in = true;
            } else if (k == a) {
                int rank = lessA + seenA++;
                in = rank >= lo && rank < hi;
            } else if (k == b) {
                int rank = lessB + seenB++;
                in = rank >= lo && rank < hi;
            } else {
                in = false;
            }
            keep[i] = (byte) (in ? 1 : 0);
        }
    }
}
