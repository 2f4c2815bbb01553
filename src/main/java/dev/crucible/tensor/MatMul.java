package dev.crucible.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * {@code out = x · Wᵀ (+ bias)} for float32 activations {@code x} [n, k] and a weight matrix W [m, k] kept in
 * its stored dtype (usually a memory-mapped bf16 tensor). bf16 weights are widened inside the kernel: one
 * int lane holds two bf16 values, a shift gives the even column and a mask the odd one, so the activations
 * are permuted once per call to match and no weight is ever copied. Tiles are four rows by one or two
 * tokens: larger tiles exceed what C2 inlines and the vectors get boxed. Other dtypes are widened four rows at a
 * time into a small scratch buffer.
 *
 * <p>Work is split into fixed (token block, row chunk) tasks and every output is computed by one thread in
 * one fixed order, so results are bit-identical whatever the thread count and whatever n is (a token gets
 * the same logits in a batched prefill as in a one-token decode step).
 */
public final class MatMul {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** bf16 columns decoded per int-vector load. */
    private static final int PAIR_BLOCK = 2 * L;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int TOKEN_BLOCK = 64;
    private static final int ROW_CHUNK = 32;
    /** Rows per task a one-token bf16 product aims for (measured: 128 rows is 13% slower, 512 no faster). */
    private static final int DECODE_CHUNK = 256;
    private static final ThreadLocal<float[]> PERMUTED = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> ROWS = ThreadLocal.withInitial(() -> new float[0]);

    private MatMul() {
    }

    /**
     * One weight matrix applied to the shared input: output row t of this projection goes to
     * {@code out[t * outStride + outOffset ..+ m]}, so fused and separate projections write into one buffer.
     *
     * @param bias null, or m values added to every output row
     */
    public record Projection(Tensor weight, float[] bias, float[] out, int outStride, int outOffset) {
        public Projection {
            if (weight.rank() != 2) {
                throw new IllegalArgumentException("weight must be a matrix, got " + weight);
            }
            if (bias != null && bias.length != weight.dim(0)) {
                throw new IllegalArgumentException("bias of " + bias.length + " for weight " + weight);
            }
        }

        public int rows() {
            return (int) weight.dim(0);
        }
    }

    /** {@code out[t, r] = Σ_c x[t, c] · W[r, c]} for one weight, written densely into {@code out} [n, m]. */
    public static void multiply(float[] x, int n, int k, Tensor weight, float[] out) {
        multiply(x, n, k, new Projection(weight, null, out, (int) weight.dim(0), 0));
    }

    /** Applies every projection to the same input [n, k] in one parallel region. */
    public static void multiply(float[] x, int n, int k, Projection... projections) {
        boolean anyBf16 = false;
        int[] chunkStart = new int[projections.length + 1];
        int[] chunkRows = new int[projections.length];
        for (int p = 0; p < projections.length; p++) {
            Projection pr = projections[p];
            if (pr.weight.dim(1) != k) {
                throw new IllegalArgumentException("weight " + pr.weight + " does not take inputs of width " + k);
            }
            if ((long) (n - 1) * pr.outStride + pr.outOffset + pr.rows() > pr.out.length) {
                throw new IllegalArgumentException("output buffer too small for " + n + " rows of " + pr.weight);
            }
            anyBf16 |= pr.weight.dtype() == DType.BF16;
            chunkRows[p] = n == 1 && pr.weight.dtype() == DType.BF16 && pr.weight.data().isNative()
                    ? decodeChunkRows(pr.rows()) : ROW_CHUNK;
            chunkStart[p + 1] = chunkStart[p] + (pr.rows() + chunkRows[p] - 1) / chunkRows[p];
        }
        float[] xp = anyBf16 ? permuteForBf16(x, n, k) : null;
        int tokenBlocks = (n + TOKEN_BLOCK - 1) / TOKEN_BLOCK;
        int chunks = chunkStart[projections.length];
        long work = 0;
        for (Projection pr : projections) {
            work += (long) n * k * pr.rows();
        }
        Parallel.forEach(tokenBlocks * chunks, work, task -> {
            int tb = task / chunks;
            int chunk = task % chunks;
            int p = 0;
            while (chunkStart[p + 1] <= chunk) {
                p++;
            }
            Projection pr = projections[p];
            int r0 = (chunk - chunkStart[p]) * chunkRows[p];
            int r1 = Math.min(pr.rows(), r0 + chunkRows[p]);
            int t0 = tb * TOKEN_BLOCK;
            int t1 = Math.min(n, t0 + TOKEN_BLOCK);
            if (pr.weight.dtype() != DType.BF16) {
                floatRows(pr, x, k, k / L * L, r0, r1, t0, t1);
            } else if (t1 - t0 == 1 && pr.weight.data().isNative()) {
                bf16Rows(pr, xp, k, r0, r1, t0, t1); // decode: stream the weights once, no scratch
            } else {
                floatRows(pr, xp, k, k / PAIR_BLOCK * PAIR_BLOCK, r0, r1, t0, t1);
            }
        });
    }

    /**
     * Rows per task of a one-token bf16 product: long runs, so the four load streams of a tile stay long
     * enough for the prefetchers, but a multiple of the thread count of tasks, so no thread idles at the end.
     */
    private static int decodeChunkRows(int rows) {
        int threads = Parallel.threads();
        int chunks = threads * Math.max(1, Math.round(rows / (float) (threads * DECODE_CHUNK)));
        return ((rows + chunks - 1) / chunks + 3) / 4 * 4;
    }

    /** Within each block of 2L columns: the even columns first, then the odd ones, matching the bf16 decode. */
    private static float[] permuteForBf16(float[] x, int n, int k) {
        float[] xp = PERMUTED.get();
        if (xp.length < n * k) {
            xp = new float[n * k];
            PERMUTED.set(xp);
        }
        int full = k / PAIR_BLOCK * PAIR_BLOCK;
        for (int t = 0; t < n; t++) {
            int base = t * k;
            for (int c = 0; c < full; c += PAIR_BLOCK) {
                for (int i = 0; i < L; i++) {
                    xp[base + c + i] = x[base + c + 2 * i];
                    xp[base + c + L + i] = x[base + c + 2 * i + 1];
                }
            }
            System.arraycopy(x, base + full, xp, base + full, k - full);
        }
        return xp;
    }

    /**
     * The four rows of a tile are a quarter of the chunk apart, so each of the four load streams runs
     * sequentially through a quarter of the chunk: adjacent rows would give four short streams per tile that
     * the hardware prefetchers never lock on to. A row's sum does not depend on its tile-mates.
     */
    private static void bf16Rows(Projection pr, float[] xp, int k, int r0, int r1, int t0, int t1) {
        MemorySegment w = pr.weight.data();
        long rowBytes = 2L * k;
        int q = (r1 - r0 + 3) / 4;
        for (int j = 0; j < q; j++) {
            // a short chunk repeats its last row in the missing tile slots; those results are not stored
            int ra = r0 + j, rb = Math.min(ra + q, r1 - 1), rc = Math.min(ra + 2 * q, r1 - 1), rd = Math.min(ra + 3 * q, r1 - 1);
            for (int t = t0; t < t1; t++) {
                bf16Tile4x1(w, ra * rowBytes, rb * rowBytes, rc * rowBytes, rd * rowBytes, xp, k, t, pr, ra, q, r1);
            }
        }
    }

    private static void store(Projection pr, int t, int r, int rowsHere, float s0, float s1, float s2, float s3) {
        int o = t * pr.outStride + pr.outOffset + r;
        float[] b = pr.bias;
        pr.out[o] = b == null ? s0 : s0 + b[r];
        if (rowsHere > 1) {
            pr.out[o + 1] = b == null ? s1 : s1 + b[r + 1];
        }
        if (rowsHere > 2) {
            pr.out[o + 2] = b == null ? s2 : s2 + b[r + 2];
        }
        if (rowsHere > 3) {
            pr.out[o + 3] = b == null ? s3 : s3 + b[r + 3];
        }
    }

    private static float bf16Tail(MemorySegment w, long rowOff, float[] xp, int xOff, int from, int k) {
        float s = 0;
        for (int c = from; c < k; c++) {
            s += FloatFormats.bf16ToFloat(w.get(Tensor.SHORT, rowOff + 2L * c)) * xp[xOff + c];
        }
        return s;
    }

    private static void bf16Tile4x1(MemorySegment w, long o0, long o1, long o2, long o3, float[] xp, int k, int t,
                                    Projection pr, int r, int stride, int r1) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int x0 = t * k;
        int full = k / PAIR_BLOCK * PAIR_BLOCK;
        for (int c = 0; c < full; c += PAIR_BLOCK) {
            long bo = 2L * c;
            FloatVector xe = FloatVector.fromArray(F, xp, x0 + c);
            FloatVector xo = FloatVector.fromArray(F, xp, x0 + c + L);
            IntVector i0 = IntVector.fromMemorySegment(I, w, o0 + bo, LE);
            IntVector i1 = IntVector.fromMemorySegment(I, w, o1 + bo, LE);
            IntVector i2 = IntVector.fromMemorySegment(I, w, o2 + bo, LE);
            IntVector i3 = IntVector.fromMemorySegment(I, w, o3 + bo, LE);
            a0 = even(i0).fma(xe, a0);
            a1 = even(i1).fma(xe, a1);
            a2 = even(i2).fma(xe, a2);
            a3 = even(i3).fma(xe, a3);
            a0 = odd(i0).fma(xo, a0);
            a1 = odd(i1).fma(xo, a1);
            a2 = odd(i2).fma(xo, a2);
            a3 = odd(i3).fma(xo, a3);
        }
        float[] sums = new float[L];
        VectorMath.sumLanes4(a0, a1, a2, a3, sums);
        storeStrided(pr, t, r, stride, r1, sums[0] + bf16Tail(w, o0, xp, x0, full, k),
                sums[1] + bf16Tail(w, o1, xp, x0, full, k), sums[2] + bf16Tail(w, o2, xp, x0, full, k),
                sums[3] + bf16Tail(w, o3, xp, x0, full, k));
    }

    /** Stores rows r, r + stride, r + 2·stride, r + 3·stride of token t, those below r1. */
    private static void storeStrided(Projection pr, int t, int r, int stride, int r1, float s0, float s1, float s2,
                                     float s3) {
        storeOne(pr, t, r, s0);
        if (r + stride < r1) {
            storeOne(pr, t, r + stride, s1);
        }
        if (r + 2 * stride < r1) {
            storeOne(pr, t, r + 2 * stride, s2);
        }
        if (r + 3 * stride < r1) {
            storeOne(pr, t, r + 3 * stride, s3);
        }
    }

    private static void storeOne(Projection pr, int t, int r, float s) {
        pr.out[t * pr.outStride + pr.outOffset + r] = pr.bias == null ? s : s + pr.bias[r];
    }

    private static FloatVector even(IntVector pair) {
        return pair.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    private static FloatVector odd(IntVector pair) {
        return pair.and(0xFFFF0000).reinterpretAsFloats();
    }

    /**
     * Four rows at a time widened into scratch, then tiles over the tokens. bf16 rows are widened in the
     * permuted order of the fused kernel and {@code full} is the fused kernel's vector span, so a token gets
     * bit-identical results on either path.
     */
    private static void floatRows(Projection pr, float[] x, int k, int full, int r0, int r1, int t0, int t1) {
        float[] ws = ROWS.get();
        if (ws.length < 4 * k) {
            ws = new float[4 * k];
            ROWS.set(ws);
        }
        for (int r = r0; r < r1; r += 4) {
            int rowsHere = Math.min(4, r1 - r);
            for (int j = 0; j < 4; j++) {
                widenRow(pr.weight, Math.min(r + j, r1 - 1), k, ws, j * k);
            }
            int t = t0;
            for (; t + 2 <= t1; t += 2) {
                floatTile4x2(ws, x, k, full, t, pr, r, rowsHere);
            }
            for (; t < t1; t++) {
                floatTile4x1(ws, x, k, full, t, pr, r, rowsHere);
            }
        }
    }

    private static void widenRow(Tensor w, int row, int k, float[] dst, int off) {
        if (w.dtype() != DType.BF16 || !w.data().isNative()) {
            // vector loads from heap segments over long[] are not intrinsified; the scalar widening is
            w.readFloats((long) row * k, dst, off, k);
            if (w.dtype() == DType.BF16) {
                permuteRow(dst, off, k);
            }
            return;
        }
        MemorySegment seg = w.data();
        long base = 2L * row * k;
        int full = k / PAIR_BLOCK * PAIR_BLOCK;
        for (int c = 0; c < full; c += PAIR_BLOCK) {
            IntVector pair = IntVector.fromMemorySegment(I, seg, base + 2L * c, LE);
            even(pair).intoArray(dst, off + c);
            odd(pair).intoArray(dst, off + c + L);
        }
        for (int c = full; c < k; c++) {
            dst[off + c] = FloatFormats.bf16ToFloat(seg.get(Tensor.SHORT, base + 2L * c));
        }
    }

    private static void permuteRow(float[] row, int off, int k) {
        float[] block = new float[PAIR_BLOCK];
        for (int c = 0; c + PAIR_BLOCK <= k; c += PAIR_BLOCK) {
            for (int i = 0; i < L; i++) {
                block[i] = row[off + c + 2 * i];
                block[L + i] = row[off + c + 2 * i + 1];
            }
            System.arraycopy(block, 0, row, off + c, PAIR_BLOCK);
        }
    }

    private static float floatTail(float[] ws, int wOff, float[] x, int xOff, int from, int k) {
        float s = 0;
        for (int c = from; c < k; c++) {
            s += ws[wOff + c] * x[xOff + c];
        }
        return s;
    }

    /** Reduces one token's four row accumulators, adds the scalar tails and stores the outputs. */
    private static void storeSums(Projection pr, int t, int r, int rowsHere, FloatVector a0, FloatVector a1,
                                  FloatVector a2, FloatVector a3, float[] ws, float[] x, int xOff, int full, int k,
                                  float[] sums) {
        VectorMath.sumLanes4(a0, a1, a2, a3, sums);
        store(pr, t, r, rowsHere, sums[0] + floatTail(ws, 0, x, xOff, full, k),
                sums[1] + floatTail(ws, k, x, xOff, full, k), sums[2] + floatTail(ws, 2 * k, x, xOff, full, k),
                sums[3] + floatTail(ws, 3 * k, x, xOff, full, k));
    }

    private static void floatTile4x1(float[] ws, float[] x, int k, int full, int t, Projection pr, int r,
                                     int rowsHere) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int x0 = t * k;
        for (int c = 0; c < full; c += L) {
            FloatVector xv = FloatVector.fromArray(F, x, x0 + c);
            a0 = FloatVector.fromArray(F, ws, c).fma(xv, a0);
            a1 = FloatVector.fromArray(F, ws, k + c).fma(xv, a1);
            a2 = FloatVector.fromArray(F, ws, 2 * k + c).fma(xv, a2);
            a3 = FloatVector.fromArray(F, ws, 3 * k + c).fma(xv, a3);
        }
        float[] sums = new float[L];
        storeSums(pr, t, r, rowsHere, a0, a1, a2, a3, ws, x, x0, full, k, sums);
    }

    private static void floatTile4x2(float[] ws, float[] x, int k, int full, int t, Projection pr, int r,
                                     int rowsHere) {
        FloatVector z = FloatVector.zero(F);
        FloatVector a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z;
        int x0 = t * k, x1 = x0 + k;
        for (int c = 0; c < full; c += L) {
            FloatVector w0 = FloatVector.fromArray(F, ws, c), w1 = FloatVector.fromArray(F, ws, k + c);
            FloatVector w2 = FloatVector.fromArray(F, ws, 2 * k + c), w3 = FloatVector.fromArray(F, ws, 3 * k + c);
            FloatVector xa = FloatVector.fromArray(F, x, x0 + c);
            FloatVector xb = FloatVector.fromArray(F, x, x1 + c);
            a00 = w0.fma(xa, a00); a10 = w1.fma(xa, a10); a20 = w2.fma(xa, a20); a30 = w3.fma(xa, a30);
            a01 = w0.fma(xb, a01); a11 = w1.fma(xb, a11); a21 = w2.fma(xb, a21); a31 = w3.fma(xb, a31);
        }
        float[] sums = new float[L];
        storeSums(pr, t, r, rowsHere, a00, a10, a20, a30, ws, x, x0, full, k, sums);
        storeSums(pr, t + 1, r, rowsHere, a01, a11, a21, a31, ws, x, x1, full, k, sums);
    }
}
