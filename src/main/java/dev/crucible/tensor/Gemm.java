package dev.crucible.tensor;

/**
 * The one home of matrix products: {@code C (+)= A · B} on row-major float32 arrays, for the runtime (activations
 * times {@link PackedWeight}s), training (the three products of a linear layer), QLoRA ({@link Nf4Weight}) and the
 * randomized SVD. Everything runs through {@link GemmKernel}'s six-row by four-vector microkernel; operands differ only in
 * where B's panels come from ({@link GemmPanels}).
 *
 * <p>C is cut into tasks of (rows, panels) on {@link Parallel}; each task sweeps the depth in slices of {@link #KC}
 * (one slice of a panel stays in L1/L2 while every row of the task uses it). Each element of C is one FMA chain over
 * the depth in order, so results are bit-identical whatever the thread count, the tiling, or how many rows a call
 * has (a one-token decode step gives the bits of the same token in a prefill).
 */
public final class Gemm {
    /** Depth of a panel slice: KC x NR floats of B (32 KiB with 16-lane vectors) stay in L1 while the rows use them. */
    static final int KC = 128;
    private static final int NR = GemmKernel.NR;
    /** Rows per task when B is read in place (eleven six-row tiles): A's slice stays in L1/L2 and tasks stay many. */
    private static final int DIRECT_ROWS = 66;
    /** Rows of A per block sweeping a panel's slices: the block's A (MC x k) and C (MC x NR) stay in L2 and L1. */
    private static final int MC = 96;
    /** Fewest rows a task converting B gets when rows are split: converting a panel costs about one row. */
    private static final int CONVERTED_MIN_ROWS = 128;
    /** Most rows a task converting B gets: their A (192 x 576 floats: 432 KiB) stays in L2 from panel to panel. */
    private static final int CONVERTED_MAX_ROWS = 192;
    private static final ThreadLocal<GemmPanels.View> VIEW = ThreadLocal.withInitial(GemmPanels.View::new);
    private static final ThreadLocal<float[]> A_SCRATCH = ThreadLocal.withInitial(() -> new float[0]);

    private Gemm() {
    }

    /** {@code c[m, n] (+)= a[m, k] · b[k, n]}: e.g. a linear layer's input gradient {@code dy W}. */
    public static void ab(float[] a, float[] b, float[] c, int m, int k, int n, boolean accumulate) {
        check(a, m * k, b, k * n, c, m * n);
        run(a, k, false, m, new GemmPanels.Rows(b, 0, n, k, n), c, null, accumulate);
    }

    /** {@code c[m, n] (+)= a[k, m]ᵀ · b[k, n]}: a weight gradient {@code dyᵀ x}. */
    public static void aTb(float[] a, float[] b, float[] c, int m, int k, int n, boolean accumulate) {
        check(a, k * m, b, k * n, c, m * n);
        run(a, m, true, m, new GemmPanels.Rows(b, 0, n, k, n), c, null, accumulate);
    }

    /** {@code c[m, n] (+)= a[m, k] · b[n, k]ᵀ}: a linear layer's forward {@code x Wᵀ} with a float32 W. */
    public static void abT(float[] a, float[] b, float[] c, int m, int k, int n, boolean accumulate) {
        check(a, m * k, b, n * k, c, m * n);
        run(a, k, false, m, new GemmPanels.Transposed(b, 0, k, k, n), c, null, accumulate);
    }

    /**
     * {@code out[m, w.rows()] = x[m, w.cols()] · Wᵀ (+ bias)}: the runtime's linear layer. {@code bias} (null for
     * none) is added to each finished sum.
     */
    public static void linear(float[] x, int m, PackedWeight w, float[] bias, float[] out) {
        check(x, m * w.cols(), null, 0, out, m * w.rows());
        if (bias != null && bias.length != w.rows()) {
            throw new IllegalArgumentException("bias of " + bias.length + " for " + w.rows() + " outputs");
        }
        if (w.isBlocks()) {
            runBlocks(x, m, w, bias, out);
            return;
        }
        run(x, w.cols(), false, m, w.panels(), out, bias, false);
    }

    /** {@code y[m, w.rows()] = x[m, w.cols()] · Wᵀ} with an NF4 weight, dequantised panel by panel. */
    public static void abT(float[] x, int m, Nf4Weight w, float[] y) {
        check(x, m * w.cols(), null, 0, y, m * w.rows());
        run(x, w.cols(), false, m, new GemmPanels.Nf4(w, true), y, null, false);
    }

    /** {@code dx[m, w.cols()] (+)= dy[m, w.rows()] · W} with an NF4 weight: its input gradient. */
    public static void ab(float[] dy, int m, Nf4Weight w, float[] dx, boolean accumulate) {
        check(dy, m * w.rows(), null, 0, dx, m * w.cols());
        run(dy, w.rows(), false, m, new GemmPanels.Nf4(w, false), dx, null, accumulate);
    }

    /**
     * The serial product on strided sub-matrices, for kernels that already run inside a parallel task (attention
     * per head): {@code C[i, j] (+)= Σ_{p < k} A[i, p]·B[p, j]} for i < m, j < n, with
     * {@code A[i, p] = a[aOff + i·lda + p]}, {@code B[p, j] = b[bOff + p·ldb + j]}, {@code C[i, j] = c[cOff + i·ldc + j]}.
     */
    public static void serial(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                              float[] c, int cOff, int ldc, boolean accumulate) {
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0) {
            for (int i = 0; i < m && !accumulate; i++) {
                java.util.Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + n, 0f);
            }
            return;
        }
        GemmPanels panels = new GemmPanels.Rows(b, bOff, ldb, k, n);
        GemmPanels.View v = VIEW.get();
        for (int p0 = 0; p0 < k; p0 += KC) {
            int depth = Math.min(KC, k - p0);
            boolean load = accumulate || p0 > 0;
            for (int j0 = 0; j0 < n; j0 += NR) {
                panels.panel(j0, p0, depth, v);
                GemmKernel.rows(m, a, aOff + p0, lda, v.array, v.offset, v.stride, depth, c, cOff + j0, ldc,
                        Math.min(NR, n - j0), load);
            }
        }
    }

    private static void check(float[] a, long aSize, float[] b, long bSize, float[] c, long cSize) {
        if (a.length < aSize || (b != null && b.length < bSize) || c.length < cSize) {
            throw new IllegalArgumentException("matrix product: arrays of " + a.length + (b == null ? "" : ", " + b.length)
                    + " and " + c.length + " floats for operands of " + aSize + (b == null ? "" : ", " + bSize)
                    + " and " + cSize);
        }
    }

    /**
     * {@code c[m, n] (+)= A[m, k] · B} with n = b.n, k = b.k; A is {@code a} [m, k] (row stride {@code lda}), or
     * {@code aTransposed}: a [k, lda] holding Aᵀ, whose rows each task first copies into a scratch.
     */
    private static void run(float[] a, int lda, boolean aTransposed, int m, GemmPanels b, float[] c, float[] bias,
                            boolean accumulate) {
        int n = b.n;
        int k = b.k;
        if (m == 0 || n == 0) {
            return;
        }
        int panels = (n + NR - 1) / NR;
        long work = (long) m * n * Math.max(k, 1);
        // about eight tasks per thread, so the last ones even out: converted operands split the rows only as far as
        // that needs (each row block converts its panels again), operands read in place take row blocks of 66
        int target = 8 * Parallel.threads();
        int rowsPerTask;
        if (b.converts() && !aTransposed) {
            int split = Math.clamp((target + panels - 1) / panels, 1, Math.max(1, m / CONVERTED_MIN_ROWS));
            // and no more than CONVERTED_MAX_ROWS each: a task streams its whole A once per panel, which for
            // thousands of rows (a DPO batch: 4,096) comes from memory every time instead of from cache
            split = Math.max(split, (m + CONVERTED_MAX_ROWS - 1) / CONVERTED_MAX_ROWS);
            rowsPerTask = (m + split - 1) / split;
        } else {
            rowsPerTask = Math.clamp(m / target / 6 * 6, 6, DIRECT_ROWS);
        }
        // a last task of one row would run the one-row tile, which a multi-row product leaves cold: fold it in
        int rowTasks = m > 1 && m % rowsPerTask == 1 ? m / rowsPerTask : (m + rowsPerTask - 1) / rowsPerTask;
        int perGroup = Math.max(1, panels * rowTasks / target);
        int groups = (panels + perGroup - 1) / perGroup;
        int taskRows = rowsPerTask;
        int lastRowTask = rowTasks - 1;
        int taskPanels = perGroup;
        int panelGroups = groups;
        Parallel.forEach(rowTasks * panelGroups, work, task -> {
            int i0 = task / panelGroups * taskRows;
            int i1 = task / panelGroups == lastRowTask ? m : i0 + taskRows;
            int q0 = task % panelGroups * taskPanels;
            int q1 = Math.min(panels, q0 + taskPanels);
            float[] aa = a;
            int aOff = i0 * lda;
            int ld = lda;
            if (aTransposed) {
                aa = transposedRows(a, i0, i1 - i0, lda, k);
                aOff = 0;
                ld = k;
            }
            GemmPanels.View v = VIEW.get();
            int rows = i1 - i0;
            boolean inPlace = b.feedsInPlace(rows);
            int slices = (k + KC - 1) / KC;
            float[][] sliceArray = new float[slices][];
            int[] sliceOffset = new int[slices];
            int[] sliceStride = new int[slices];
            if (!inPlace) {
                v.reserve(slices * KC * NR); // converted slices, or an edge panel's padded copy
            }
            // panel by panel: a weight panel is one sequential stream (decode reads each byte once); a converted
            // panel is converted whole, once; then blocks of MC rows sweep its slices, so that a block's C stays
            // in L1/L2 from the first slice to the bias
            for (int q = q0; q < q1; q++) {
                int j0 = q * NR;
                int width = Math.min(NR, n - j0);
                if (inPlace) {
                    for (int s = 0; s < slices; s++) {
                        int p0 = s * KC;
                        b.multiplyInPlace(rows, aa, aOff + p0, ld, j0, p0, Math.min(KC, k - p0), c, i0 * n + j0, n,
                                width, accumulate || s > 0);
                    }
                } else {
                    for (int s = 0; s < slices; s++) {
                        v.base = s * KC * NR;
                        b.panel(j0, s * KC, Math.min(KC, k - s * KC), v);
                        sliceArray[s] = v.array;
                        sliceOffset[s] = v.offset;
                        sliceStride[s] = v.stride;
                    }
                    for (int r0 = 0, r1; r0 < rows; r0 = r1) {
                        r1 = rows - r0 <= MC + 1 ? rows : r0 + MC; // no block of one row
                        for (int s = 0; s < slices; s++) {
                            int p0 = s * KC;
                            GemmKernel.rows(r1 - r0, aa, aOff + r0 * ld + p0, ld, sliceArray[s], sliceOffset[s],
                                    sliceStride[s], Math.min(KC, k - p0), c, (i0 + r0) * n + j0, n, width,
                                    accumulate || s > 0);
                        }
                    }
                }
                for (int i = i0; i < i1; i++) {
                    if (k == 0 && !accumulate) {
                        java.util.Arrays.fill(c, i * n + j0, i * n + j0 + width, 0f);
                    }
                    for (int j = 0; bias != null && j < width; j++) {
                        c[i * n + j0 + j] += bias[j0 + j];
                    }
                }
            }
        });
    }

    /**
     * Which kernels multiply GGUF block weights: the native k-quant kernels (which instruction set) or the Java ones
     * alone, and why ({@link NativeBlockKernels}).
     */
    public static String blockKernels() {
        return NativeBlockKernels.status();
    }

    /** Whether block weights of format {@code f} run on the native kernels (activations rounded to 8 bits). */
    public static boolean nativeBlockKernel(BlockFormat f) {
        return NativeBlockKernels.handles(f);
    }

    /** Output rows per task of a block weight's product: enough that the split costs little against the rows. */
    private static final int BLOCK_ROWS_MIN = 16;

    /**
     * {@code out = x Wᵀ (+ bias)} for a weight kept in ggml blocks: tasks of contiguous output rows (each streams
     * its share of W once, whatever m), about eight per thread.
     */
    private static void runBlocks(float[] x, int m, PackedWeight w, float[] bias, float[] out) {
        int n = w.rows();
        int k = w.cols();
        if (m == 0 || n == 0) {
            return;
        }
        // the native kernels' activations, rounded once for all rows (null with a non-finite value: Java kernels)
        Int8Activations rounded = w.usesNativeKernels(256) ? Int8Activations.of(x, m, k) : null;
        Int8Activations rounded32 = w.usesNativeKernels(32) ? Int8Activations.of(x, m, k, 32) : null;
        float[] sums = w.needsSubBlockSums(rounded != null) ? GemmBlockKernel.subBlockSums(x, m, k) : null;
        int per = Math.max(BLOCK_ROWS_MIN, (n + 8 * Parallel.threads() - 1) / (8 * Parallel.threads()));
        int tasks = (n + per - 1) / per;
        Parallel.forEach(tasks, (long) m * n * k, t -> w.multiplyBlocks(t * per, Math.min(n, (t + 1) * per), x, m, sums,
                rounded, rounded32, bias, out));
    }

    /** Rows [i0, i0 + rows) of A = aᵀ, where a is [k, width]: columns of a copied out as rows, into a scratch. */
    private static float[] transposedRows(float[] a, int i0, int rows, int width, int k) {
        float[] at = A_SCRATCH.get();
        if (at.length < rows * k) {
            at = new float[rows * k];
            A_SCRATCH.set(at);
        }
        for (int p0 = 0; p0 < k; p0 += 16) {
            int p1 = Math.min(k, p0 + 16);
            for (int r = 0; r < rows; r++) {
                int src = i0 + r;
                int d = r * k;
                for (int p = p0; p < p1; p++) {
                    at[d + p] = a[p * width + src];
                }
            }
        }
        return at;
    }
}
