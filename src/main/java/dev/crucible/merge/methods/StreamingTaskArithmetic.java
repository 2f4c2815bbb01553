package dev.crucible.merge.methods;

import dev.crucible.merge.methods.GeneralizedTaskArithmetic.Sparsification;
import dev.crucible.tensor.CounterRandom;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Tensor;
import dev.crucible.tensor.TorchSortOrder;

/**
 * Generalized task arithmetic in chunks of the input tensors, for methods whose masks can be recomputed
 * element by element: no sparsification, DARE's counter-based Bernoulli mask, and TIES's top-k (the entries
 * torch's sort keeps, ties included: selected once per model from the streamed magnitudes, kept as the cut's
 * magnitude plus a bit set for the entries tied at it). Memory is a few chunk buffers per model plus one bit per
 * entry and model instead of whole-tensor copies (and, while a model's top-k is selected, 8 bytes per entry in the
 * executor's reused native storage); results equal the whole-tensor path bit for bit.
 */
final class StreamingTaskArithmetic {
    static final int CHUNK = 16384;

    private StreamingTaskArithmetic() {
    }

    /** How one model's delta is masked and rescaled. */
    private static final class Plan {
        final int index;
        boolean keepAll = true;
        // Bernoulli
        boolean random;
        long below; // keep when the 24 random bits are below this: uniform < probability
        long key;
        // magnitude: kept = |δ| above the cut's magnitude, or at it with bit i of {@code tiesKept} set
        int cutKey = Integer.MAX_VALUE;
        long[] tiesKept;
        // L1 rescale in {@code work}; NaN = none
        float ratio = Float.NaN;
        DType work;

        Plan(int index) {
            this.index = index;
        }

        /** {@code mask[j]} = 1 where entry {@code off + j} (delta {@code d[j]}) is kept, else 0. */
        void mask(float[] d, int len, long off, float[] mask) {
            if (random) {
                CounterRandom.keepMask(key, off, below, mask, len);
                return;
            }
            for (int j = 0; j < len; j++) { // branch-free on the (random) magnitudes
                long i = off + j;
                int m = magnitudeKey(d[j]);
                long tie = (tiesKept[(int) (i >>> 6)] >>> i) & (m == cutKey ? 1 : 0); // shift taken mod 64
                mask[j] = ((cutKey - m) >>> 31) | tie;
            }
        }

        /** Mask (and rescale) {@code d[0..len)} of entries {@code off..}; then round to {@code dtype}. */
        void apply(float[] d, int len, long off, DType dtype, float[] mask) {
            if (keepAll) {
                return;
            }
            mask(d, len, off, mask);
            for (int j = 0; j < len; j++) {
                d[j] *= mask[j]; // v or ±0 as torch's v * mask, without a random branch
            }
            if (!Float.isNaN(ratio)) {
                for (int j = 0; j < len; j++) {
                    d[j] *= ratio;
                }
                Rounding.roundInPlace(work, d, 0, len);
            }
            Rounding.roundInPlace(dtype, d, 0, len);
        }
    }

    static Tensor merge(MethodCall c, GeneralizedTaskArithmetic.Settings s, Sparsification sparsification,
                        boolean consensus) {
        DType dt = c.dtype;
        int models = s.others().length;
        Tensor base = c.tensor(s.base());
        int chunk = (int) Math.min(CHUNK, c.numel);
        float[] b = new float[chunk];
        float[] d = new float[chunk];
        Plan[] plans = new Plan[models];
        for (int m = 0; m < models; m++) {
            Plan p = new Plan(s.others()[m]);
            plans[m] = p;
            double density = s.density()[m];
            if (density >= 1 || sparsification == Sparsification.NONE) {
                continue;
            }
            p.keepAll = false;
            if (sparsification == Sparsification.MAGNITUDE) {
                p.work = dt;
                planMagnitude(c, p, (int) (density * c.numel), base, b, d);
            } else {
                p.random = true;
                p.work = Sparsify.workDtype(dt);
                p.below = (long) Math.ceil(Rounding.scalar(p.work, density) * (double) (1 << 24));
                p.key = CounterRandom.streamKey(c.in.seed(), c.in.tensorName(), p.index);
            }
            if (s.rescale()) {
                p.ratio = l1Ratio(c, p, base, b, d);
            }
        }
        float[][] weighted = new float[models][chunk];
        float[] out = new float[chunk];
        float[] mask = new float[chunk];
        Tensor result = c.newOutput(dt);
        for (long off = 0; off < c.numel; off += chunk) {
            int len = (int) Math.min(chunk, c.numel - off);
            base.readFloats(off, b, 0, len);
            for (int m = 0; m < models; m++) {
                float[] w = weighted[m];
                delta(c, plans[m].index, off, len, b, w);
                plans[m].apply(w, len, off, dt, mask);
                float wm = s.weights()[m];
                for (int j = 0; j < len; j++) {
                    w[j] *= wm;
                }
                Rounding.roundInPlace(dt, w, 0, len);
            }
            GeneralizedTaskArithmetic.combine(dt, s, consensus, b, weighted, 0, len, out);
            result.writeFloats(off, out, 0, len);
        }
        return result;
    }

    /** {@code d = round(x - b)} for entries {@code off..off+len} of model {@code index}; {@code b} holds the base. */
    private static void delta(MethodCall c, int index, long off, int len, float[] b, float[] d) {
        c.tensor(index).readFloats(off, d, 0, len);
        for (int j = 0; j < len; j++) {
            d[j] -= b[j];
        }
        Rounding.roundInPlace(c.dtype, d, 0, len);
    }

    /**
     * {@code |δ|} as an int that orders like torch's comparator: the magnitude's bits, every NaN one value above
     * infinity.
     */
    static int magnitudeKey(float v) {
        return Math.min(Float.floatToRawIntBits(v) & 0x7FFFFFFF, 0x7F800001);
    }

    /**
     * Which entries torch's descending sort of {@code |δ|} puts among its first {@code k}: every entry above the
     * k-th largest magnitude (the cut), and those of the entries at the cut that the sort's tie order puts first
     * (a bit set; only the ties at the cut need one).
     */
    private static void planMagnitude(MethodCall c, Plan p, int k, Tensor base, float[] b, float[] d) {
        int n = c.size();
        p.tiesKept = new long[(n + 63) >>> 6];
        if (k <= 0) {
            return; // nothing kept: cutKey stays above every magnitude
        }
        try (TorchSortOrder.Entries entries = c.sortEntries(true)) {
            int[] at = {0};
            stream(c, p, base, b, d, (v, len) -> {
                for (int j = 0; j < len; j++) {
                    entries.put(at[0] + j, Math.abs(v[j]));
                }
                at[0] += len;
            });
            entries.selectSortedRange(0, k);
            int cut = Integer.MAX_VALUE;
            for (int r = 0; r < k; r++) {
                cut = Math.min(cut, magnitudeKey(entries.keyAt(r)));
            }
            for (int r = 0; r < k; r++) {
                if (magnitudeKey(entries.keyAt(r)) == cut) {
                    int i = entries.indexAt(r);
                    p.tiesKept[i >>> 6] |= 1L << i;
                }
            }
            p.cutKey = cut;
        }
    }

    /** {@code Σ|δ| / Σ|δ·mask|} rounded as mergekit's rescale, or NaN when either sum is below 1e-7. */
    private static float l1Ratio(MethodCall c, Plan p, Tensor base, float[] b, float[] d) {
        double[] sums = new double[2];
        long[] at = {0};
        float[] mask = new float[b.length];
        stream(c, p, base, b, d, (v, len) -> {
            p.mask(v, len, at[0], mask);
            for (int j = 0; j < len; j++) {
                float x = Math.abs(v[j]);
                sums[0] += x;
                sums[1] += x * mask[j];
            }
            at[0] += len;
        });
        float before = Rounding.round(p.work, (float) sums[0]);
        float after = Rounding.round(p.work, (float) sums[1]);
        if (before < 1e-7f || after < 1e-7f) {
            return Float.NaN;
        }
        return Rounding.round(p.work, before / after);
    }

    private interface ChunkVisitor {
        void visit(float[] delta, int len);
    }

    private static void stream(MethodCall c, Plan p, Tensor base, float[] b, float[] d, ChunkVisitor visitor) {
        for (long off = 0; off < c.numel; off += b.length) {
            int len = (int) Math.min(b.length, c.numel - off);
            base.readFloats(off, b, 0, len);
            delta(c, p.index, off, len, b, d);
            visitor.visit(d, len);
        }
    }
}
