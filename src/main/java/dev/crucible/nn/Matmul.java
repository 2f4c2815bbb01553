package dev.crucible.nn;

import dev.crucible.tensor.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * The three matrix products a linear layer's forward and backward need, on row-major float arrays. One serial
 * kernel family does the work: {@link #nn} ({@code C += A·B}, vectorised along C's rows, 4 rows x 4 vectors of
 * accumulators so each loaded vector of B feeds four FMAs and each broadcast of A four more) and the dot-product
 * tile of {@link #abT} ({@code C = A·Bᵀ} with long rows, 4x4 row pairs). {@link #ab}, {@link #aTb} and
 * {@link #abT} split C into tiles over {@link Parallel}; a tile covers many rows so that B, streamed once per
 * tile, is reused from cache. Transposed operands that the kernels cannot stream are copied per tile into a
 * scratch, which costs a small fraction of the product.
 */
public final class Matmul {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Columns of C per register tile. */
    private static final int NR = 4 * L;
    /** Depth of the slice of A and B a tile sweeps before moving on: keeps B's panel [KC, NR] in L1/L2. */
    private static final int KC = 256;
    /** abT with inner dimension below this transposes B and runs {@link #nn}: short dot products waste reductions. */
    private static final int SHORT_DOT = 128;
    /** Bytes of b's rows one abT tile sweeps (half of a 1 MiB L2). */
    private static final int NT_B_BYTES = 512 * 1024;
    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[0]);

    private Matmul() {
    }

    private static float[] scratch(int size) {
        float[] s = SCRATCH.get();
        if (s.length < size) {
            s = new float[size];
            SCRATCH.set(s);
        }
        return s;
    }

    /** Tiles of C: rows per tile and columns per tile (a multiple of NR), enough tiles to keep every thread busy. */
    private record Tiling(int rows, int cols, int rowTiles, int colTiles) {
        static Tiling of(int m, int n) {
            int threads = Parallel.threads();
            int rows = Math.max(4, Math.min(64, roundUp4(m / (8 * threads))));
            int rowTiles = (m + rows - 1) / rows;
            int colTiles = 1;
            // few rows (e.g. LoRA's r): split the columns too
            while (rowTiles * colTiles < 4 * threads && n / (colTiles * 2) >= NR) {
                colTiles *= 2;
            }
            int cols = roundUp(n / colTiles, NR);
            colTiles = (n + cols - 1) / cols;
            return new Tiling(rows, cols, rowTiles, colTiles);
        }

        int count() {
            return rowTiles * colTiles;
        }
    }

    private static int roundUp4(int x) {
        return (x + 3) & ~3;
    }

    private static int roundUp(int x, int to) {
        return Math.max(to, (x + to - 1) / to * to);
    }

    /** {@code c[m, n] (+)= a[m, k] · b[k, n]}: e.g. the input gradient {@code dy W}. */
    public static void ab(float[] a, float[] b, float[] c, int m, int k, int n, boolean accumulate) {
        forEachTile(c, m, k, n, accumulate,
                (i0, i1, j0, j1) -> nn(i1 - i0, j0, j1, 0, k, a, i0 * k, k, b, 0, n, c, i0 * n, n));
    }

    /** {@code c[m, n] (+)= a[k, m]ᵀ · b[k, n]}: the weight gradient {@code dyᵀ x}. Each tile transposes its rows of aᵀ. */
    public static void aTb(float[] a, float[] b, float[] c, int m, int k, int n, boolean accumulate) {
        forEachTile(c, m, k, n, accumulate, (i0, i1, j0, j1) -> {
            float[] at = scratch((i1 - i0) * k);
            transpose(a, i0, m, k, i1 - i0, at);
            nn(i1 - i0, j0, j1, 0, k, at, 0, k, b, 0, n, c, i0 * n, n);
        });
    }

    private interface TileBody {
        void run(int i0, int i1, int j0, int j1);
    }

    /** Runs {@code body} on every {@link Tiling} tile of c [m, n] over {@link Parallel}; zeroes each tile unless accumulating. */
    private static void forEachTile(float[] c, int m, int k, int n, boolean accumulate, TileBody body) {
        Tiling t = Tiling.of(m, n);
        Parallel.forEach(t.count(), (long) m * n * k, task -> {
            int i0 = task / t.colTiles() * t.rows();
            int i1 = Math.min(m, i0 + t.rows());
            int j0 = task % t.colTiles() * t.cols();
            int j1 = Math.min(n, j0 + t.cols());
            if (!accumulate) {
                zero(c, i0, i1, j0, j1, n);
            }
            body.run(i0, i1, j0, j1);
        });
    }

    /** {@code dst[r, p] = a[p, col0 + r]} for r < rows, p < k: columns of a [k, width] as rows. */
    private static void transpose(float[] a, int col0, int width, int k, int rows, float[] dst) {
        for (int p0 = 0; p0 < k; p0 += 16) {
            int p1 = Math.min(k, p0 + 16);
            for (int r = 0; r < rows; r++) {
                int src = col0 + r;
                int d = r * k;
                for (int p = p0; p < p1; p++) {
                    dst[d + p] = a[p * width + src];
                }
            }
        }
    }

    private static void zero(float[] c, int i0, int i1, int j0, int j1, int ldc) {
        for (int i = i0; i < i1; i++) {
            Arrays.fill(c, i * ldc + j0, i * ldc + j1, 0f);
        }
    }

    /**
     * {@code c[m, n] (+)= a[m, k] · b[n, k]ᵀ}: the forward of {@code x Wᵀ}. Long rows use 4x4 dot-product tiles
     * (16 accumulators, each loaded vector feeds four FMAs); short ones transpose b and run {@link #nn}.
     */
    static void abT(float[] a, float[] b, float[] c, int m, int k, int n, boolean accumulate) {
        if (k < SHORT_DOT) {
            float[] bt = new float[k * n];
            transpose(b, 0, k, n, k, bt); // b [n, k] -> bt [k, n]
            ab(a, bt, c, m, k, n, accumulate);
            return;
        }
        // a tile's rows of b stay in L2 while each group of four rows of a sweeps them
        int cols = Math.max(4, Math.min(n, NT_B_BYTES / (4 * k)) & ~3);
        int colTiles = (n + cols - 1) / cols;
        int rows = Math.max(4, Math.min(64, roundUp4(m / (8 * Parallel.threads()))));
        int rowTiles = (m + rows - 1) / rows;
        Parallel.forEach(rowTiles * colTiles, (long) m * n * k, task -> {
            int i0 = task / colTiles * rows;
            int j0 = task % colTiles * cols;
            nt(i0, Math.min(m, i0 + rows), j0, Math.min(n, j0 + cols), k, a, k, b, k, c, n, accumulate);
        });
    }

    /** Rows [i0, i1) x columns [j0, j1) of {@code c = a bᵀ}: four rows of a at a time against every row of b. */
    static void nt(int i0, int i1, int j0, int j1, int k, float[] a, int lda, float[] b, int ldb, float[] c, int ldc,
                   boolean accumulate) {
        for (int i = i0; i < i1; i += 4) {
            for (int j = j0; j < j1; j += 4) {
                if (i + 4 <= i1 && j + 4 <= j1) {
                    block4x4(a, lda, b, ldb, c, ldc, i, j, k, accumulate);
                } else {
                    for (int ii = i; ii < Math.min(i1, i + 4); ii++) {
                        for (int jj = j; jj < Math.min(j1, j + 4); jj++) {
                            float s = dot(a, ii * lda, b, jj * ldb, k);
                            c[ii * ldc + jj] = accumulate ? c[ii * ldc + jj] + s : s;
                        }
                    }
                }
            }
        }
    }

    private static void block4x4(float[] a, int lda, float[] b, int ldb, float[] c, int ldc, int i0, int j0, int k,
                                 boolean accumulate) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        int a0 = i0 * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
        int b0 = j0 * ldb, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
        int bound = F.loopBound(k);
        int p = 0;
        for (; p < bound; p += L) {
            FloatVector x0 = FloatVector.fromArray(F, a, a0 + p);
            FloatVector x1 = FloatVector.fromArray(F, a, a1 + p);
            FloatVector x2 = FloatVector.fromArray(F, a, a2 + p);
            FloatVector x3 = FloatVector.fromArray(F, a, a3 + p);
            FloatVector y = FloatVector.fromArray(F, b, b0 + p);
            c00 = x0.fma(y, c00);
            c10 = x1.fma(y, c10);
            c20 = x2.fma(y, c20);
            c30 = x3.fma(y, c30);
            y = FloatVector.fromArray(F, b, b1 + p);
            c01 = x0.fma(y, c01);
            c11 = x1.fma(y, c11);
            c21 = x2.fma(y, c21);
            c31 = x3.fma(y, c31);
            y = FloatVector.fromArray(F, b, b2 + p);
            c02 = x0.fma(y, c02);
            c12 = x1.fma(y, c12);
            c22 = x2.fma(y, c22);
            c32 = x3.fma(y, c32);
            y = FloatVector.fromArray(F, b, b3 + p);
            c03 = x0.fma(y, c03);
            c13 = x1.fma(y, c13);
            c23 = x2.fma(y, c23);
            c33 = x3.fma(y, c33);
        }
        // reduce in place: an array of vectors would force them out of registers
        finish(a, lda, b, ldb, c, ldc, i0, j0, p, k, accumulate, c00.reduceLanes(VectorOperators.ADD));
        finish(a, lda, b, ldb, c, ldc, i0, j0 + 1, p, k, accumulate, c01.reduceLanes(VectorOperators.ADD));
        finish(a, lda, b, ldb, c, ldc, i0, j0 + 2, p, k, accumulate, c02.reduceLanes(VectorOperators.ADD));
        finish(a, lda, b, ldb, c, ldc, i0, j0 + 3, p, k, accumulate, c03.reduceLanes(VectorOperators.ADD));
        finish(a, lda, b, ldb, c, ldc, i0 + 1, j0, p, k, accumulate, c10.reduceLanes(VectorOperators.ADD));
        finish(a, lda, b, ldb, c, ldc, i0 + 1, j0 + 1, p, k, accumulate, c11.reduceLanes(VectorOperators.ADD));
        finish(a, lda, b, ldb, c, ldc, i0 + 1, j0 + 2, p, k, accumulate, c12.reduceLanes(VectorOperators.ADD));
        finish(a, lda, b, ldb, c, ldc, i0 + 1, j0 + 3, p, k, accumulate, c13.reduceLanes(VectorOperators.ADD));
        finish(a, lda, b, ldb, c, ldc, i0 + 2, j0, p, k, accumulate, c20.reduceLanes(VectorOperators.ADD));
        finish(a, lda, b, ldb, c, ldc, i0 + 2, j0 + 1, p, k, accumulate, c21.reduceLanes(VectorOperators.ADD));
        finish(a, lda, b, ldb, c, ldc, i0 + 2, j0 + 2, p, k, accumulate, c22.reduceLanes(VectorOperators.ADD));
        finish(a, lda, b, ldb, c, ldc, i0 + 2, j0 + 3, p, k, accumulate, c23.reduceLanes(VectorOperators.ADD));
        finish(a, lda, b, ldb, c, ldc, i0 + 3, j0, p, k, accumulate, c30.reduceLanes(VectorOperators.ADD));
        finish(a, lda, b, ldb, c, ldc, i0 + 3, j0 + 1, p, k, accumulate, c31.reduceLanes(VectorOperators.ADD));
        finish(a, lda, b, ldb, c, ldc, i0 + 3, j0 + 2, p, k, accumulate, c32.reduceLanes(VectorOperators.ADD));
        finish(a, lda, b, ldb, c, ldc, i0 + 3, j0 + 3, p, k, accumulate, c33.reduceLanes(VectorOperators.ADD));
    }

    /** Adds the scalar tail {@code [from, k)} of row i · row j to the vector part and stores c[i, j]. */
    private static void finish(float[] a, int lda, float[] b, int ldb, float[] c, int ldc, int i, int j, int from,
                               int k, boolean accumulate, float s) {
        for (int t = from; t < k; t++) {
            s += a[i * lda + t] * b[j * ldb + t];
        }
        c[i * ldc + j] = accumulate ? c[i * ldc + j] + s : s;
    }

    /**
     * The serial core: {@code C[r, j] += Σ_{p in [k0, k1)} A[r, p] · B[p, j]} for rows r < rows and columns
     * [j0, j1), where A[r, p] = a[aOff + r·lda + p], B[p, j] = b[bOff + p·ldb + j], C[r, j] = c[cOff + r·ldc + j].
     * Sweeps k in slices of KC so the panel of B a column block reads stays cached while every row block uses it.
     */
    static void nn(int rows, int j0, int j1, int k0, int k1, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                   float[] c, int cOff, int ldc) {
        for (int kk = k0; kk < k1; kk += KC) {
            int ke = Math.min(k1, kk + KC);
            int j = j0;
            for (; j + NR <= j1; j += NR) {
                int r = 0;
                for (; r + 4 <= rows; r += 4) {
                    tile4x4v(a, aOff + r * lda + kk, lda, b, bOff + kk * ldb + j, ldb, c, cOff + r * ldc + j, ldc, ke - kk);
                }
                for (; r < rows; r++) {
                    for (int v = 0; v < NR; v += L) {
                        row1v(a, aOff + r * lda + kk, b, bOff + kk * ldb + j + v, ldb, c, cOff + r * ldc + j + v, ke - kk);
                    }
                }
            }
            for (; j + L <= j1; j += L) {
                int r = 0;
                for (; r + 4 <= rows; r += 4) {
                    tile4x1v(a, aOff + r * lda + kk, lda, b, bOff + kk * ldb + j, ldb, c, cOff + r * ldc + j, ldc, ke - kk);
                }
                for (; r < rows; r++) {
                    row1v(a, aOff + r * lda + kk, b, bOff + kk * ldb + j, ldb, c, cOff + r * ldc + j, ke - kk);
                }
            }
            for (; j < j1; j++) {
                for (int r = 0; r < rows; r++) {
                    float s = 0;
                    int ao = aOff + r * lda;
                    for (int p = kk; p < ke; p++) {
                        s += a[ao + p] * b[bOff + p * ldb + j];
                    }
                    c[cOff + r * ldc + j] += s;
                }
            }
        }
    }

    /** Four rows x four vectors of C: 16 accumulators, per step of p four loads of B and four broadcasts of A. */
    private static void tile4x4v(float[] a, int a0, int lda, float[] b, int b0, int ldb, float[] c, int c0, int ldc,
                                 int k) {
        int c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        FloatVector s00 = FloatVector.fromArray(F, c, c0), s01 = FloatVector.fromArray(F, c, c0 + L);
        FloatVector s02 = FloatVector.fromArray(F, c, c0 + 2 * L), s03 = FloatVector.fromArray(F, c, c0 + 3 * L);
        FloatVector s10 = FloatVector.fromArray(F, c, c1), s11 = FloatVector.fromArray(F, c, c1 + L);
        FloatVector s12 = FloatVector.fromArray(F, c, c1 + 2 * L), s13 = FloatVector.fromArray(F, c, c1 + 3 * L);
        FloatVector s20 = FloatVector.fromArray(F, c, c2), s21 = FloatVector.fromArray(F, c, c2 + L);
        FloatVector s22 = FloatVector.fromArray(F, c, c2 + 2 * L), s23 = FloatVector.fromArray(F, c, c2 + 3 * L);
        FloatVector s30 = FloatVector.fromArray(F, c, c3), s31 = FloatVector.fromArray(F, c, c3 + L);
        FloatVector s32 = FloatVector.fromArray(F, c, c3 + 2 * L), s33 = FloatVector.fromArray(F, c, c3 + 3 * L);
        int a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
        for (int p = 0; p < k; p++) {
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
        }
        s00.intoArray(c, c0);
        s01.intoArray(c, c0 + L);
        s02.intoArray(c, c0 + 2 * L);
        s03.intoArray(c, c0 + 3 * L);
        s10.intoArray(c, c1);
        s11.intoArray(c, c1 + L);
        s12.intoArray(c, c1 + 2 * L);
        s13.intoArray(c, c1 + 3 * L);
        s20.intoArray(c, c2);
        s21.intoArray(c, c2 + L);
        s22.intoArray(c, c2 + 2 * L);
        s23.intoArray(c, c2 + 3 * L);
        s30.intoArray(c, c3);
        s31.intoArray(c, c3 + L);
        s32.intoArray(c, c3 + 2 * L);
        s33.intoArray(c, c3 + 3 * L);
    }

    private static void tile4x1v(float[] a, int a0, int lda, float[] b, int b0, int ldb, float[] c, int c0, int ldc,
                                 int k) {
        int c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        FloatVector s0 = FloatVector.fromArray(F, c, c0), s1 = FloatVector.fromArray(F, c, c1);
        FloatVector s2 = FloatVector.fromArray(F, c, c2), s3 = FloatVector.fromArray(F, c, c3);
        int a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
        for (int p = 0; p < k; p++) {
            FloatVector y = FloatVector.fromArray(F, b, b0 + p * ldb);
            s0 = y.fma(FloatVector.broadcast(F, a[a0 + p]), s0);
            s1 = y.fma(FloatVector.broadcast(F, a[a1 + p]), s1);
            s2 = y.fma(FloatVector.broadcast(F, a[a2 + p]), s2);
            s3 = y.fma(FloatVector.broadcast(F, a[a3 + p]), s3);
        }
        s0.intoArray(c, c0);
        s1.intoArray(c, c1);
        s2.intoArray(c, c2);
        s3.intoArray(c, c3);
    }

    private static void row1v(float[] a, int a0, float[] b, int b0, int ldb, float[] c, int c0, int k) {
        FloatVector s = FloatVector.fromArray(F, c, c0);
        for (int p = 0; p < k; p++) {
            s = FloatVector.fromArray(F, b, b0 + p * ldb).fma(FloatVector.broadcast(F, a[a0 + p]), s);
        }
        s.intoArray(c, c0);
    }

    static float dot(float[] a, int aOff, float[] b, int bOff, int len) {
        FloatVector acc = FloatVector.zero(F);
        int bound = F.loopBound(len);
        int i = 0;
        for (; i < bound; i += L) {
            acc = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < len; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    /** {@code y[yOff..] += s · x[xOff..]} over {@code len} elements. */
    static void axpy(float s, float[] x, int xOff, float[] y, int yOff, int len) {
        FloatVector sv = FloatVector.broadcast(F, s);
        int bound = F.loopBound(len);
        int i = 0;
        for (; i < bound; i += L) {
            FloatVector.fromArray(F, x, xOff + i).fma(sv, FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < len; i++) {
            y[yOff + i] += s * x[xOff + i];
        }
    }
}
