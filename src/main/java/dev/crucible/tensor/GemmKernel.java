package dev.crucible.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * The one float32 microkernel behind every matrix product: {@code C[r, j] (+)= Σ_p A[r, p] · B[p, j]} for a tile of
 * six rows of C by one panel of {@link #NR} = four vectors of columns. Each step of p loads four vectors of B,
 * broadcasts one value of A per row and issues four FMAs per row into 24 register accumulators. Edges are masked
 * outside the tiles: rows past a tile's count are computed on a copy of its last row and not stored, and a panel
 * narrower than NR runs on a zero-padded copy of its C rows (a staging tile), copied back column by column. B always
 * supplies NR readable columns (a full panel of the operand, or a zero-padded scratch copy). A product of a single
 * row (a decode step) uses {@link #tile1}, the same chain for one row.
 *
 * <p>Every element of C is one FMA chain over p in increasing order, started from C's previous value (accumulating)
 * or from zero: which rows share a tile, how the columns are split into panels and the rows into tasks, and how
 * many threads run them never change a result. So a token gets the same bits alone or in a batch, and products
 * split over a depth in slices (continuing through C) equal the unsplit ones.
 *
 * <p>Few kernels, each hot and small: until C2 compiles a Vector API method it runs the API's Java fallback, about a
 * hundred times slower (C1 cannot compile the six-row tile at all). A tile used only for leftover rows stays cold for
 * seconds and then dominates, so every multi-row product, edges included, goes through the one six-row tile. And
 * C2 stops intrinsifying a method that inlines too much: with masked loads and stores of its 24 accumulators the tile
 * compiled to 170 KB of fallback calls allocating gigabytes per second, hence the staging tile instead of masks.
 */
final class GemmKernel {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    static final int L = F.length();
    /** Columns of C per panel: four vectors. */
    static final int NR = 4 * L;
    /** Rows of C per tile. */
    static final int MR = 6;

    private GemmKernel() {
    }

    private static final ThreadLocal<float[]> STAGE = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * Rows [0, rows) of C against one panel: {@code A[r, p] = a[aOff + r·lda + p]}, {@code B[p, j] = b[bOff + p·ldb
     * + j]}, {@code C[r, j] = c[cOff + r·ldc + j]}, p < depth, j < width (columns from width to NR untouched).
     * Callers keep a single row for products of one row ({@link Gemm} never hands a multi-row product a task of one).
     *
     * @param load start from C's values; else from zero (C is only written)
     */
    static void rows(int rows, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, int depth, float[] c,
                     int cOff, int ldc, int width, boolean load) {
        if (width < NR) {
            float[] stage = stageIn(rows, c, cOff, ldc, width, load);
            rows(rows, a, aOff, lda, b, bOff, ldb, depth, stage, 0, NR, NR, load);
            stageOut(rows, stage, c, cOff, ldc, width);
            return;
        }
        if (rows == 1) {
            tile1(a, aOff, b, bOff, ldb, depth, c, cOff, load);
            return;
        }
        for (int r = 0; r < rows; r += MR) {
            tile6(Math.min(MR, rows - r), a, aOff + r * lda, lda, b, bOff, ldb, depth, c, cOff + r * ldc, ldc, load);
        }
    }

    /** {@link #tile1Bf16} for {@code rows} rows (a few: a decode step), staged where the panel is narrower than NR. */
    static void rowsBf16(int rows, float[] a, int aOff, int lda, MemorySegment b, long b0, int depth, float[] c,
                         int cOff, int ldc, int width, boolean load) {
        if (width < NR) {
            float[] stage = stageIn(rows, c, cOff, ldc, width, load);
            rowsBf16(rows, a, aOff, lda, b, b0, depth, stage, 0, NR, NR, load);
            stageOut(rows, stage, c, cOff, ldc, width);
            return;
        }
        for (int r = 0; r < rows; r++) {
            tile1Bf16(a, aOff + r * lda, b, b0, depth, c, cOff + r * ldc, load);
        }
    }

    /** A [rows, NR] staging tile holding C's first {@code width} columns (when {@code load}), zeros beyond. */
    private static float[] stageIn(int rows, float[] c, int cOff, int ldc, int width, boolean load) {
        float[] stage = STAGE.get();
        if (stage.length < rows * NR) {
            stage = new float[rows * NR];
            STAGE.set(stage);
        }
        for (int r = 0; r < rows && load; r++) {
            System.arraycopy(c, cOff + r * ldc, stage, r * NR, width);
            java.util.Arrays.fill(stage, r * NR + width, (r + 1) * NR, 0f);
        }
        return stage;
    }

    private static void stageOut(int rows, float[] stage, float[] c, int cOff, int ldc, int width) {
        for (int r = 0; r < rows; r++) {
            System.arraycopy(stage, r * NR, c, cOff + r * ldc, width);
        }
    }

    private static FloatVector in(float[] c, int o, boolean load) {
        return load ? FloatVector.fromArray(F, c, o) : FloatVector.zero(F);
    }

    /**
     * Six rows, of which the first {@code count} are real: rows past it repeat the last real row of A and C and are
     * not stored. Stores are written out: a helper taking vectors as arguments would box them wherever C2 declines
     * to inline it.
     */
    private static void tile6(int count, float[] a, int a0, int lda, float[] b, int b0, int ldb, int depth, float[] c,
                              int c0, int ldc, boolean load) {
        int last = count - 1;
        int c1 = c0 + Math.min(1, last) * ldc, c2 = c0 + Math.min(2, last) * ldc, c3 = c0 + Math.min(3, last) * ldc;
        int c4 = c0 + Math.min(4, last) * ldc, c5 = c0 + Math.min(5, last) * ldc;
        int a1 = a0 + Math.min(1, last) * lda, a2 = a0 + Math.min(2, last) * lda, a3 = a0 + Math.min(3, last) * lda;
        int a4 = a0 + Math.min(4, last) * lda, a5 = a0 + Math.min(5, last) * lda;
        FloatVector s00 = in(c, c0, load), s01 = in(c, c0 + L, load);
        FloatVector s02 = in(c, c0 + 2 * L, load), s03 = in(c, c0 + 3 * L, load);
        FloatVector s10 = in(c, c1, load), s11 = in(c, c1 + L, load);
        FloatVector s12 = in(c, c1 + 2 * L, load), s13 = in(c, c1 + 3 * L, load);
        FloatVector s20 = in(c, c2, load), s21 = in(c, c2 + L, load);
        FloatVector s22 = in(c, c2 + 2 * L, load), s23 = in(c, c2 + 3 * L, load);
        FloatVector s30 = in(c, c3, load), s31 = in(c, c3 + L, load);
        FloatVector s32 = in(c, c3 + 2 * L, load), s33 = in(c, c3 + 3 * L, load);
        FloatVector s40 = in(c, c4, load), s41 = in(c, c4 + L, load);
        FloatVector s42 = in(c, c4 + 2 * L, load), s43 = in(c, c4 + 3 * L, load);
        FloatVector s50 = in(c, c5, load), s51 = in(c, c5 + L, load);
        FloatVector s52 = in(c, c5 + 2 * L, load), s53 = in(c, c5 + 3 * L, load);
        for (int p = 0; p < depth; p++) {
            int bo = b0 + p * ldb;
            FloatVector y0 = FloatVector.fromArray(F, b, bo);
            FloatVector y1 = FloatVector.fromArray(F, b, bo + L);
            FloatVector y2 = FloatVector.fromArray(F, b, bo + 2 * L);
            FloatVector y3 = FloatVector.fromArray(F, b, bo + 3 * L);
            FloatVector x = FloatVector.broadcast(F, a[a0 + p]);
            s00 = y0.fma(x, s00);
            s01 = y1.fma(x, s01);
            s02 = y2.fma(x, s02);
            s03 = y3.fma(x, s03);
            x = FloatVector.broadcast(F, a[a1 + p]);
            s10 = y0.fma(x, s10);
            s11 = y1.fma(x, s11);
            s12 = y2.fma(x, s12);
            s13 = y3.fma(x, s13);
            x = FloatVector.broadcast(F, a[a2 + p]);
            s20 = y0.fma(x, s20);
            s21 = y1.fma(x, s21);
            s22 = y2.fma(x, s22);
            s23 = y3.fma(x, s23);
            x = FloatVector.broadcast(F, a[a3 + p]);
            s30 = y0.fma(x, s30);
            s31 = y1.fma(x, s31);
            s32 = y2.fma(x, s32);
            s33 = y3.fma(x, s33);
            x = FloatVector.broadcast(F, a[a4 + p]);
            s40 = y0.fma(x, s40);
            s41 = y1.fma(x, s41);
            s42 = y2.fma(x, s42);
            s43 = y3.fma(x, s43);
            x = FloatVector.broadcast(F, a[a5 + p]);
            s50 = y0.fma(x, s50);
            s51 = y1.fma(x, s51);
            s52 = y2.fma(x, s52);
            s53 = y3.fma(x, s53);
        }
        s00.intoArray(c, c0);
        s01.intoArray(c, c0 + L);
        s02.intoArray(c, c0 + 2 * L);
        s03.intoArray(c, c0 + 3 * L);
        if (count > 1) {
            s10.intoArray(c, c1);
            s11.intoArray(c, c1 + L);
            s12.intoArray(c, c1 + 2 * L);
            s13.intoArray(c, c1 + 3 * L);
        }
        if (count > 2) {
            s20.intoArray(c, c2);
            s21.intoArray(c, c2 + L);
            s22.intoArray(c, c2 + 2 * L);
            s23.intoArray(c, c2 + 3 * L);
        }
        if (count > 3) {
            s30.intoArray(c, c3);
            s31.intoArray(c, c3 + L);
            s32.intoArray(c, c3 + 2 * L);
            s33.intoArray(c, c3 + 3 * L);
        }
        if (count > 4) {
            s40.intoArray(c, c4);
            s41.intoArray(c, c4 + L);
            s42.intoArray(c, c4 + 2 * L);
            s43.intoArray(c, c4 + 3 * L);
        }
        if (count > 5) {
            s50.intoArray(c, c5);
            s51.intoArray(c, c5 + L);
            s52.intoArray(c, c5 + 2 * L);
            s53.intoArray(c, c5 + 3 * L);
        }
    }

    /** One row: the same FMA chain per element as {@link #tile6}, so a row's result does not depend on its tile. */
    private static void tile1(float[] a, int a0, float[] b, int b0, int ldb, int depth, float[] c, int c0,
                              boolean load) {
        FloatVector s0 = in(c, c0, load), s1 = in(c, c0 + L, load);
        FloatVector s2 = in(c, c0 + 2 * L, load), s3 = in(c, c0 + 3 * L, load);
        for (int p = 0; p < depth; p++) {
            int bo = b0 + p * ldb;
            FloatVector x = FloatVector.broadcast(F, a[a0 + p]);
            s0 = FloatVector.fromArray(F, b, bo).fma(x, s0);
            s1 = FloatVector.fromArray(F, b, bo + L).fma(x, s1);
            s2 = FloatVector.fromArray(F, b, bo + 2 * L).fma(x, s2);
            s3 = FloatVector.fromArray(F, b, bo + 3 * L).fma(x, s3);
        }
        s0.intoArray(c, c0);
        s1.intoArray(c, c0 + L);
        s2.intoArray(c, c0 + 2 * L);
        s3.intoArray(c, c0 + 3 * L);
    }

    /**
     * {@link #tile1} with B read from {@link PackedWeight}'s bf16 panels and widened in registers (a shift gives the
     * first value of each int lane, a mask the second): the same FMA chain on the same values, so the same bits as
     * converting the panel first, without the round trip through a scratch. A decode step streams each weight once,
     * so this is its whole cost. {@code b0} is the byte offset of panel row p = 0.
     */
    private static void tile1Bf16(float[] a, int a0, MemorySegment b, long b0, int depth, float[] c, int c0,
                                  boolean load) {
        FloatVector s0 = in(c, c0, load), s1 = in(c, c0 + L, load);
        FloatVector s2 = in(c, c0 + 2 * L, load), s3 = in(c, c0 + 3 * L, load);
        for (int p = 0; p < depth; p++) {
            long o = b0 + (long) p * (2 * NR);
            IntVector lo = IntVector.fromMemorySegment(I, b, o, ByteOrder.LITTLE_ENDIAN);
            IntVector hi = IntVector.fromMemorySegment(I, b, o + 4L * L, ByteOrder.LITTLE_ENDIAN);
            FloatVector x = FloatVector.broadcast(F, a[a0 + p]);
            s0 = lo.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(x, s0);
            s1 = lo.and(0xFFFF0000).reinterpretAsFloats().fma(x, s1);
            s2 = hi.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(x, s2);
            s3 = hi.and(0xFFFF0000).reinterpretAsFloats().fma(x, s3);
        }
        s0.intoArray(c, c0);
        s1.intoArray(c, c0 + L);
        s2.intoArray(c, c0 + 2 * L);
        s3.intoArray(c, c0 + 3 * L);
    }
}
