package dev.crucible.tensor;

import java.util.Arrays;

/**
 * The right operand B [k, n] of a product as the microkernel reads it: for a panel of {@link GemmKernel#NR} columns
 * starting at j0 and a slice of rows [p0, p0 + depth), a float32 array, an offset and a row stride with NR readable
 * columns per row. Operands already laid out that way are read in place; the others (a transposed matrix, bf16
 * panels, NF4) are converted into a per-thread scratch, a whole panel once per task, and every row of A of the task
 * reuses it. A new storage format (a quantised type, say) is a new subclass that fills the scratch; the kernel
 * stays the same.
 */
abstract class GemmPanels {
    static final int NR = GemmKernel.NR;

    final int k;
    final int n;

    GemmPanels(int k, int n) {
        this.k = k;
        this.n = n;
    }

    /**
     * Where a panel slice lives: {@code B[p0 + p, j0 + j] = array[offset + p·stride + j]}. Converting operands write
     * into the thread's scratch at {@link #base}, so the slices of one panel can sit side by side.
     */
    static final class View {
        float[] array;
        int offset;
        int stride;
        /** Where in the scratch the next converted slice goes. */
        int base;
        private float[] scratch = new float[Gemm.KC * NR];
        /** One dequantised row segment, for formats that decode along W's rows. */
        final float[] row = new float[Gemm.KC];

        void at(float[] array, int offset, int stride) {
            this.array = array;
            this.offset = offset;
            this.stride = stride;
        }

        /** Room for {@code floats} of converted slices from 0. */
        void reserve(int floats) {
            if (scratch.length < floats) {
                scratch = new float[floats];
            }
        }

        /** Points at the scratch from {@link #base}, as a panel slice of NR columns; returns the scratch. */
        float[] scratch() {
            at(scratch, base, NR);
            return scratch;
        }
    }

    /** Points {@code v} at B[p0, p0 + depth) x [j0, j0 + NR); columns past n may hold anything finite. */
    abstract void panel(int j0, int p0, int depth, View v);

    /** Zeroes the columns past {@code width} of the {@code depth} rows of a scratch slice at {@code o}. */
    static void zeroPad(float[] s, int o, int depth, int width) {
        for (int p = 0; p < depth && width < NR; p++) {
            Arrays.fill(s, o + p * NR + width, o + (p + 1) * NR, 0f);
        }
    }

    /** Whether a panel is converted (so a task should give it many rows of A), not read in place. */
    abstract boolean converts();

    /**
     * Whether {@link #multiplyInPlace} serves a product of {@code rows} rows: for a few rows (a decode step) converting
     * a panel costs more than using it, and an operand that can feed the kernel's one-row tile straight from its
     * storage should (bf16 panels widen in registers).
     */
    boolean feedsInPlace(int rows) {
        return false;
    }

    /**
     * One panel slice against {@code rows} rows without converting it, with the bits the converted slice would give.
     * Row r of A is {@code a[aOff + r·lda + p]}, of C {@code c[cOff + r·ldc + j]}.
     */
    void multiplyInPlace(int rows, float[] a, int aOff, int lda, int j0, int p0, int depth, float[] c, int cOff, int ldc,
                         int width, boolean load) {
        throw new UnsupportedOperationException();
    }

    /** B [k, n] as rows of a float array: {@code B[p, j] = b[offset + p·stride + j]}. */
    static final class Rows extends GemmPanels {
        private final float[] b;
        private final int offset;
        private final int stride;

        Rows(float[] b, int offset, int stride, int k, int n) {
            super(k, n);
            this.b = b;
            this.offset = offset;
            this.stride = stride;
        }

        @Override
        void panel(int j0, int p0, int depth, View v) {
            int start = offset + p0 * stride + j0;
            if (j0 + NR <= n) {
                v.at(b, start, stride);
                return;
            }
            // the edge panel: a zero-padded copy, so the kernel never reads past the operand
            float[] s = v.scratch();
            int o = v.offset;
            int width = n - j0;
            for (int p = 0; p < depth; p++) {
                System.arraycopy(b, start + p * stride, s, o + p * NR, width);
            }
            zeroPad(s, o, depth, width);
        }

        @Override
        boolean converts() {
            return false;
        }
    }

    /** B = Wᵀ for W [n, k] stored as rows of a float array: {@code B[p, j] = w[offset + j·stride + p]}. */
    static final class Transposed extends GemmPanels {
        private final float[] w;
        private final int offset;
        private final int stride;

        Transposed(float[] w, int offset, int stride, int k, int n) {
            super(k, n);
            this.w = w;
            this.offset = offset;
            this.stride = stride;
        }

        @Override
        void panel(int j0, int p0, int depth, View v) {
            float[] s = v.scratch();
            int base = v.offset;
            int width = Math.min(NR, n - j0);
            // eight rows of W at a time: eight sequential reads, and each scratch row gets eight adjacent writes
            int j = 0;
            for (; j + 8 <= width; j += 8) {
                int w0 = offset + (j0 + j) * stride + p0;
                for (int p = 0; p < depth; p++) {
                    int o = base + p * NR + j;
                    int wp = w0 + p;
                    s[o] = w[wp];
                    s[o + 1] = w[wp + stride];
                    s[o + 2] = w[wp + 2 * stride];
                    s[o + 3] = w[wp + 3 * stride];
                    s[o + 4] = w[wp + 4 * stride];
                    s[o + 5] = w[wp + 5 * stride];
                    s[o + 6] = w[wp + 6 * stride];
                    s[o + 7] = w[wp + 7 * stride];
                }
            }
            for (; j < width; j++) {
                int w0 = offset + (j0 + j) * stride + p0;
                for (int p = 0; p < depth; p++) {
                    s[base + p * NR + j] = w[w0 + p];
                }
            }
            zeroPad(s, base, depth, width);
        }

        @Override
        boolean converts() {
            return true;
        }
    }

    /**
     * An NF4 weight W [rows, cols]: B = Wᵀ ({@code transposed}, the forward {@code x Wᵀ}) or W (the input gradient
     * {@code dy W}). Dequantised a panel slice at a time; never materialised whole.
     */
    static final class Nf4 extends GemmPanels {
        private final Nf4Weight w;
        private final boolean transposed;

        Nf4(Nf4Weight w, boolean transposed) {
            super(transposed ? w.cols() : w.rows(), transposed ? w.rows() : w.cols());
            this.w = w;
            this.transposed = transposed;
        }

        @Override
        void panel(int j0, int p0, int depth, View v) {
            float[] s = v.scratch();
            int o = v.offset;
            int width = Math.min(NR, n - j0);
            int cols = w.cols();
            if (transposed) {
                float[] row = v.row;
                for (int j = 0; j < width; j++) {
                    w.dequantize((long) (j0 + j) * cols + p0, row, 0, depth);
                    for (int p = 0; p < depth; p++) {
                        s[o + p * NR + j] = row[p];
                    }
                }
            } else {
                for (int p = 0; p < depth; p++) {
                    w.dequantize((long) (p0 + p) * cols + j0, s, o + p * NR, width);
                }
            }
            zeroPad(s, o, depth, width);
        }

        @Override
        boolean converts() {
            return true;
        }
    }
}
