package dev.crucible.merge.methods;

import dev.crucible.tensor.CounterRandom;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.TorchSortOrder;

import java.util.Arrays;

/**
 * mergekit's sparsification of one task vector, in place: magnitude top-k (TIES), magnitude with outliers
 * removed (breadcrumbs), Bernoulli (DARE) and rank-dependent Bernoulli (DELLA), each optionally followed by the
 * whole-tensor L1 rescale. Values are in {@code dtype}; every step is rounded as torch rounds it.
 */
final class Sparsify {
    private Sparsify() {
    }

    /** Marks the elements torch's sort of the magnitudes puts at positions {@code [from, to)}. */
    static void keepSortedRange(float[] d, int n, int from, int to, boolean descending, byte[] keep) {
        if (from >= to) {
            return;
        }
        try (TorchSortOrder.Entries entries = new TorchSortOrder.Entries(n, descending)) {
            for (int i = 0; i < n; i++) {
                entries.put(i, Math.abs(d[i]));
            }
            entries.selectSortedRange(from, to);
            for (int r = from; r < to; r++) {
                keep[entries.indexAt(r)] = 1;
            }
        }
    }

    /** Keeps the {@code int(density·n)} largest magnitudes. With k = 0 (mergekit asserts) the delta is dropped. */
    static void magnitude(float[] d, int n, double density, boolean rescale, DType dtype) {
        if (density >= 1) {
            return;
        }
        int k = (int) (density * n);
        byte[] keep = new byte[n];
        keepSortedRange(d, n, 0, k, true, keep);
        applyMask(d, n, keep, rescale, dtype);
    }

    /**
     * Breadcrumbs: drops the {@code int(gamma·n)} largest magnitudes and as many of the smallest as needed to keep
     * {@code int(density·n)}. As upstream (Python slice {@code [n_bot:-0]}), no outlier to drop keeps nothing.
     */
    static void magnitudeOutliers(float[] d, int n, double density, double gamma, boolean rescale, DType dtype) {
        if (density >= 1) {
            return;
        }
        int target = (int) (density * n);
        int nTop = (int) (gamma * n);
        int nBot = n - target - nTop;
        if (nBot < 0) {
            nTop += nBot;
            nBot = 0;
        }
        byte[] keep = new byte[n];
        if (nTop > 0) {
            keepSortedRange(d, n, nBot, n - nTop, false, keep);
        }
        applyMask(d, n, keep, rescale, dtype);
    }

    /** DARE: keeps each element with probability {@code density} (itself rounded to the work dtype, as torch). */
    static void bernoulli(float[] d, int n, double density, boolean rescale, DType dtype, long streamKey) {
        if (density >= 1) {
            return;
        }
        DType work = workDtype(dtype);
        float p = Rounding.scalar(work, density);
        byte[] keep = new byte[n];
        for (int i = 0; i < n; i++) {
            keep[i] = (byte) (CounterRandom.uniform(streamKey, i) < p ? 1 : 0);
        }
        applyMask(d, n, keep, rescale, work);
        Rounding.roundInPlace(dtype, d, 0, n);
    }

    /**
     * DELLA's MagPrune: along dim 1 (a 1-D tensor is one row) each element's keep probability grows linearly with
     * its magnitude rank, from {@code density - epsilon} to {@code density + epsilon}.
     */
    static void della(float[] d, long[] shape, double density, double epsilon, boolean rescale, DType dtype,
                      long streamKey) {
        int n = d.length;
        if (density >= 1) {
            return;
        }
        if (density <= 0) {
            Arrays.fill(d, 0f);
            return;
        }
        DType work = workDtype(dtype);
        int outer = shape.length < 2 ? 1 : (int) shape[0];
        int len = shape.length < 2 ? n : (int) shape[1];
        int inner = n / Math.max(1, outer * len);
        float minRank = Rounding.round(work, 1f);
        float maxRank = Rounding.round(work, Rounding.round(work, len - 1) + 1f);
        float span = Rounding.round(work, maxRank - minRank);
        float low = (float) (density - epsilon);
        float eps = (float) epsilon;
        byte[] keep = new byte[n];
        long[] order = new long[len];
        for (int o = 0; o < outer; o++) {
            for (int in = 0; in < inner; in++) {
                int start = o * len * inner + in;
                for (int m = 0; m < len; m++) {
                    int idx = start + m * inner;
                    order[m] = (long) (Float.floatToRawIntBits(d[idx]) & 0x7FFFFFFF) << 32 | m;
                }
                Arrays.sort(order);
                for (int rank = 0; rank < len; rank++) {
                    int m = (int) order[rank];
                    int idx = start + m * inner;
                    float r = Rounding.round(work, Rounding.round(work, rank) + 1f);
                    float norm = span == 0 ? Float.NaN : Rounding.round(work, Rounding.round(work, r - minRank) / span);
                    norm = Math.min(1f, Math.max(0f, norm));
                    float p = Rounding.round(work, low + Rounding.round(work, Rounding.round(work, norm * 2f) * eps));
                    keep[idx] = (byte) (CounterRandom.uniform(streamKey, idx) < p ? 1 : 0);
                }
            }
        }
        applyMask(d, n, keep, rescale, work);
        Rounding.roundInPlace(dtype, d, 0, n);
    }

    /** torch works in float32 for f16 on CPU and in the tensor's dtype otherwise. */
    static DType workDtype(DType dtype) {
        return dtype == DType.F16 ? DType.F32 : dtype;
    }

    /** {@code d·mask}, then with {@code rescale} multiplied by {@code Σ|d| / Σ|d·mask|} (skipped if either < 1e-7). */
    static void applyMask(float[] d, int n, byte[] keep, boolean rescale, DType dtype) {
        double before = 0;
        double after = 0;
        for (int i = 0; i < n; i++) {
            float v = d[i];
            before += Math.abs(v);
            float m = keep[i] != 0 ? v : v * 0f;
            after += Math.abs(m);
            d[i] = m;
        }
        if (!rescale) {
            return;
        }
        float b = Rounding.round(dtype, (float) before);
        float a = Rounding.round(dtype, (float) after);
        if (b < 1e-7f || a < 1e-7f) {
            return;
        }
        float ratio = Rounding.round(dtype, b / a);
        for (int i = 0; i < n; i++) {
            d[i] *= ratio;
        }
        Rounding.roundInPlace(dtype, d, 0, n);
    }
}
