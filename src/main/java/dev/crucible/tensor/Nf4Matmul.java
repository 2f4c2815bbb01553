package dev.crucible.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * Matrix products with an NF4 weight that never materialise the float32 matrix. Both are {@code c = a · B} with B a
 * view of W: for the forward ({@code x W^T}) B = W^T, for the input gradient ({@code dy W}) B = W. The output columns
 * are cut into panels four vectors wide and the reduction dimension into slices; each task dequantises one
 * slice x panel tile of B (32 KiB, so it stays in L1) once into a per-thread scratch and runs every token row of its
 * share over it with a 4 x 4-vector register block: each tile vector feeds four FMAs, each broadcast row value four.
 */
public final class Nf4Matmul {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Output columns per panel: four vectors, so the 4 x 4 block holds 16 accumulators. */
    private static final int PANEL = 4 * L;
    /** Reduction steps per tile: PANEL x SLICE floats = 32 KiB. */
    private static final int SLICE = 8192 / PANEL;
    /** Below this many multiply-adds a product runs on the calling thread. */
    private static final long PARALLEL_WORK = 1 << 20;
    /** Fewest token rows a task gets when rows are split to give every thread work: dequantising costs ~ one row. */
    private static final int MIN_ROWS_PER_TASK = 64;
    private static final ThreadLocal<float[][]> SCRATCH =
            ThreadLocal.withInitial(() -> new float[][]{new float[SLICE * PANEL], new float[SLICE]});

    private Nf4Matmul() {
    }

    /** {@code y[m, out] = x[m, in] · W^T} with W [out, in] in NF4; {@code y} is overwritten. */
    public static void matmul(float[] x, int m, Nf4Weight w, float[] y) {
        check(x.length == (long) m * w.cols() && y.length == (long) m * w.rows(), "matmul", m, w);
        product(x, m, w.cols(), w.rows(), y, false, w, true);
    }

    /** {@code dx[m, in] = dy[m, out] · W} with W [out, in] in NF4; {@code dx} is overwritten. */
    public static void matmulTransposed(float[] dy, int m, Nf4Weight w, float[] dx) {
        matmulTransposed(dy, m, w, dx, false);
    }

    /** {@code dx[m, in] (+)= dy[m, out] · W}: added to {@code dx} when {@code accumulate}. */
    public static void matmulTransposed(float[] dy, int m, Nf4Weight w, float[] dx, boolean accumulate) {
        check(dy.length == (long) m * w.rows() && dx.length == (long) m * w.cols(), "matmulTransposed", m, w);
        product(dy, m, w.rows(), w.cols(), dx, accumulate, w, false);
    }

    /**
     * {@code c[m, n] (+)= a[m, k] · B[k, n]}, B = W^T ({@code transposed}) or W. Tasks are (panel, row range) pairs;
     * rows are split only as far as needed to give every thread a few tasks, since each task dequantises its panel.
     */
    private static void product(float[] a, int m, int k, int n, float[] c, boolean accumulate, Nf4Weight w,
                                boolean transposed) {
        if (m == 0) {
            return;
        }
        int panels = (n + PANEL - 1) / PANEL;
        long work = (long) m * k * n;
        int threads = work >= PARALLEL_WORK ? Parallel.threads() : 1;
        int rowSplits = Math.clamp((4L * threads + panels - 1) / panels, 1, Math.max(1, m / MIN_ROWS_PER_TASK));
        int rowsPerTask = (m + rowSplits - 1) / rowSplits;
        rowsPerTask = (rowsPerTask + 3) & ~3;
        int rowTasks = (m + rowsPerTask - 1) / rowsPerTask;
        int perTask = rowsPerTask;
        Parallel.forEach(panels * rowTasks, threads > 1 ? work : 0, t -> {
            int j0 = (t / rowTasks) * PANEL;
            int i0 = (t % rowTasks) * perTask;
            panel(a, k, n, c, accumulate, w, transposed, j0, Math.min(PANEL, n - j0), i0, Math.min(m, i0 + perTask));
        });
    }

    /** Columns [j0, j0 + width) of rows [i0, i1) of c, one reduction slice at a time. */
    private static void panel(float[] a, int k, int n, float[] c, boolean accumulate, Nf4Weight w, boolean transposed,
                              int j0, int width, int i0, int i1) {
        float[][] scratch = SCRATCH.get();
        float[] tile = scratch[0];
        VectorMask<Float>[] masks = masks(width);
        for (int p0 = 0; p0 < k; p0 += SLICE) {
            int depth = Math.min(SLICE, k - p0);
            fillTile(w, transposed, p0, depth, j0, width, tile, scratch[1]);
            boolean add = accumulate || p0 > 0;
            int i = i0;
            for (; i + 4 <= i1; i += 4) {
                block4(a, k, n, c, tile, p0, depth, i, j0, masks, add);
            }
            for (; i < i1; i++) {
                block1(a, k, n, c, tile, p0, depth, i, j0, masks, add);
            }
        }
    }

    /**
     * tile[p][j] = B[p0 + p, j0 + j] for p < depth, j < width. For B = W^T that is W[j0 + j, p0 + p]: each W row
     * segment is dequantised once and spread down a tile column. Columns past {@code width} keep stale values: their
     * lanes are never stored.
     */
    private static void fillTile(Nf4Weight w, boolean transposed, int p0, int depth, int j0, int width, float[] tile,
                                 float[] row) {
        int cols = w.cols();
        if (transposed) {
            for (int j = 0; j < width; j++) {
                w.dequantize((long) (j0 + j) * cols + p0, row, 0, depth);
                for (int p = 0; p < depth; p++) {
                    tile[p * PANEL + j] = row[p];
                }
            }
        } else {
            for (int p = 0; p < depth; p++) {
                w.dequantize((long) (p0 + p) * cols + j0, tile, p * PANEL, width);
            }
        }
    }

    /** Rows i..i+3 of the panel: 16 accumulators, loaded from c when {@code add}. */
    private static void block4(float[] a, int k, int n, float[] c, float[] tile, int p0, int depth, int i, int j0,
                               VectorMask<Float>[] m, boolean add) {
        int r0 = i * n + j0, r1 = r0 + n, r2 = r1 + n, r3 = r2 + n;
        FloatVector c00 = load(c, r0, m[0], add), c01 = load(c, r0 + L, m[1], add);
        FloatVector c02 = load(c, r0 + 2 * L, m[2], add), c03 = load(c, r0 + 3 * L, m[3], add);
        FloatVector c10 = load(c, r1, m[0], add), c11 = load(c, r1 + L, m[1], add);
        FloatVector c12 = load(c, r1 + 2 * L, m[2], add), c13 = load(c, r1 + 3 * L, m[3], add);
        FloatVector c20 = load(c, r2, m[0], add), c21 = load(c, r2 + L, m[1], add);
        FloatVector c22 = load(c, r2 + 2 * L, m[2], add), c23 = load(c, r2 + 3 * L, m[3], add);
        FloatVector c30 = load(c, r3, m[0], add), c31 = load(c, r3 + L, m[1], add);
        FloatVector c32 = load(c, r3 + 2 * L, m[2], add), c33 = load(c, r3 + 3 * L, m[3], add);
        int a0 = i * k + p0, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k;
        for (int p = 0; p < depth; p++) {
            int t = p * PANEL;
            FloatVector b0 = FloatVector.fromArray(F, tile, t);
            FloatVector b1 = FloatVector.fromArray(F, tile, t + L);
            FloatVector b2 = FloatVector.fromArray(F, tile, t + 2 * L);
            FloatVector b3 = FloatVector.fromArray(F, tile, t + 3 * L);
            FloatVector x = FloatVector.broadcast(F, a[a0 + p]);
            c00 = b0.fma(x, c00);
            c01 = b1.fma(x, c01);
            c02 = b2.fma(x, c02);
            c03 = b3.fma(x, c03);
            x = FloatVector.broadcast(F, a[a1 + p]);
            c10 = b0.fma(x, c10);
            c11 = b1.fma(x, c11);
            c12 = b2.fma(x, c12);
            c13 = b3.fma(x, c13);
            x = FloatVector.broadcast(F, a[a2 + p]);
            c20 = b0.fma(x, c20);
            c21 = b1.fma(x, c21);
            c22 = b2.fma(x, c22);
            c23 = b3.fma(x, c23);
            x = FloatVector.broadcast(F, a[a3 + p]);
            c30 = b0.fma(x, c30);
            c31 = b1.fma(x, c31);
            c32 = b2.fma(x, c32);
            c33 = b3.fma(x, c33);
        }
        store(c00, c, r0, m[0]);
        store(c01, c, r0 + L, m[1]);
        store(c02, c, r0 + 2 * L, m[2]);
        store(c03, c, r0 + 3 * L, m[3]);
        store(c10, c, r1, m[0]);
        store(c11, c, r1 + L, m[1]);
        store(c12, c, r1 + 2 * L, m[2]);
        store(c13, c, r1 + 3 * L, m[3]);
        store(c20, c, r2, m[0]);
        store(c21, c, r2 + L, m[1]);
        store(c22, c, r2 + 2 * L, m[2]);
        store(c23, c, r2 + 3 * L, m[3]);
        store(c30, c, r3, m[0]);
        store(c31, c, r3 + L, m[1]);
        store(c32, c, r3 + 2 * L, m[2]);
        store(c33, c, r3 + 3 * L, m[3]);
    }

    /** One leftover row of the panel. */
    private static void block1(float[] a, int k, int n, float[] c, float[] tile, int p0, int depth, int i, int j0,
                               VectorMask<Float>[] m, boolean add) {
        int r0 = i * n + j0;
        FloatVector c0 = load(c, r0, m[0], add), c1 = load(c, r0 + L, m[1], add);
        FloatVector c2 = load(c, r0 + 2 * L, m[2], add), c3 = load(c, r0 + 3 * L, m[3], add);
        int a0 = i * k + p0;
        for (int p = 0; p < depth; p++) {
            int t = p * PANEL;
            FloatVector x = FloatVector.broadcast(F, a[a0 + p]);
            c0 = FloatVector.fromArray(F, tile, t).fma(x, c0);
            c1 = FloatVector.fromArray(F, tile, t + L).fma(x, c1);
            c2 = FloatVector.fromArray(F, tile, t + 2 * L).fma(x, c2);
            c3 = FloatVector.fromArray(F, tile, t + 3 * L).fma(x, c3);
        }
        store(c0, c, r0, m[0]);
        store(c1, c, r0 + L, m[1]);
        store(c2, c, r0 + 2 * L, m[2]);
        store(c3, c, r0 + 3 * L, m[3]);
    }

    /** The lanes of each of the panel's four vectors that lie inside {@code width}; null where all do. */
    @SuppressWarnings("unchecked")
    private static VectorMask<Float>[] masks(int width) {
        VectorMask<Float>[] masks = new VectorMask[4];
        for (int v = 0; v < 4; v++) {
            masks[v] = width >= (v + 1) * L ? null : F.indexInRange(v * L, width);
        }
        return masks;
    }

    private static FloatVector load(float[] c, int offset, VectorMask<Float> mask, boolean add) {
        if (!add) {
            return FloatVector.zero(F);
        }
        return mask == null ? FloatVector.fromArray(F, c, offset) : FloatVector.fromArray(F, c, offset, mask);
    }

    private static void store(FloatVector v, float[] c, int offset, VectorMask<Float> mask) {
        if (mask == null) {
            v.intoArray(c, offset);
        } else {
            v.intoArray(c, offset, mask);
        }
    }

    private static void check(boolean ok, String op, int m, Nf4Weight w) {
        if (!ok) {
            throw new IllegalArgumentException(op + ": array sizes do not match m=" + m + " and W [" + w.rows()
                    + ", " + w.cols() + "]");
        }
    }
}
