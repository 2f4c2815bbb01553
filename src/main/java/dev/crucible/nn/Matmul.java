package dev.crucible.nn;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.stream.IntStream;

/**
 * The three matrix products a linear layer's forward and backward need, on row-major float arrays, Vector API
 * inner loops and rows split over threads. Plain kernels for training; they should later share the runtime's
 * tuned GEMM.
 */
final class Matmul {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Below this many multiply-adds a product runs on the calling thread. */
    private static final long PARALLEL_WORK = 1 << 18;

    private Matmul() {
    }

    private static IntStream rows(int m, long work) {
        IntStream s = IntStream.range(0, m);
        return work >= PARALLEL_WORK ? s.parallel() : s;
    }

    /**
     * {@code c[m, n] (+)= a[m, k] · b[n, k]^T}: the forward of {@code x W^T}. Blocks of 4 rows of a by 4 rows of b
     * keep 16 vector accumulators in registers, so each loaded vector feeds four FMAs.
     */
    static void abT(float[] a, float[] b, float[] c, int m, int k, int n, boolean accumulate) {
        int blocks = (m + 3) / 4;
        rows(blocks, (long) m * n * k).forEach(bi -> {
            int i0 = bi * 4;
            for (int j0 = 0; j0 < n; j0 += 4) {
                if (i0 + 4 <= m && j0 + 4 <= n) {
                    block4x4(a, b, c, i0, j0, k, n, accumulate);
                } else {
                    for (int i = i0; i < Math.min(m, i0 + 4); i++) {
                        for (int j = j0; j < Math.min(n, j0 + 4); j++) {
                            float s = dot(a, i * k, b, j * k, k);
                            c[i * n + j] = accumulate ? c[i * n + j] + s : s;
                        }
                    }
                }
            }
        });
    }

    private static void block4x4(float[] a, float[] b, float[] c, int i0, int j0, int k, int n, boolean accumulate) {
        FloatVector c00 = FloatVector.zero(F), c01 = FloatVector.zero(F), c02 = FloatVector.zero(F), c03 = FloatVector.zero(F);
        FloatVector c10 = FloatVector.zero(F), c11 = FloatVector.zero(F), c12 = FloatVector.zero(F), c13 = FloatVector.zero(F);
        FloatVector c20 = FloatVector.zero(F), c21 = FloatVector.zero(F), c22 = FloatVector.zero(F), c23 = FloatVector.zero(F);
        FloatVector c30 = FloatVector.zero(F), c31 = FloatVector.zero(F), c32 = FloatVector.zero(F), c33 = FloatVector.zero(F);
        int a0 = i0 * k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k;
        int b0 = j0 * k, b1 = b0 + k, b2 = b1 + k, b3 = b2 + k;
        int bound = F.loopBound(k);
        int p = 0;
        for (; p < bound; p += F.length()) {
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
        finish(a, b, c, i0, j0, p, k, n, accumulate, c00.reduceLanes(VectorOperators.ADD));
        finish(a, b, c, i0, j0 + 1, p, k, n, accumulate, c01.reduceLanes(VectorOperators.ADD));
        finish(a, b, c, i0, j0 + 2, p, k, n, accumulate, c02.reduceLanes(VectorOperators.ADD));
        finish(a, b, c, i0, j0 + 3, p, k, n, accumulate, c03.reduceLanes(VectorOperators.ADD));
        finish(a, b, c, i0 + 1, j0, p, k, n, accumulate, c10.reduceLanes(VectorOperators.ADD));
        finish(a, b, c, i0 + 1, j0 + 1, p, k, n, accumulate, c11.reduceLanes(VectorOperators.ADD));
        finish(a, b, c, i0 + 1, j0 + 2, p, k, n, accumulate, c12.reduceLanes(VectorOperators.ADD));
        finish(a, b, c, i0 + 1, j0 + 3, p, k, n, accumulate, c13.reduceLanes(VectorOperators.ADD));
        finish(a, b, c, i0 + 2, j0, p, k, n, accumulate, c20.reduceLanes(VectorOperators.ADD));
        finish(a, b, c, i0 + 2, j0 + 1, p, k, n, accumulate, c21.reduceLanes(VectorOperators.ADD));
        finish(a, b, c, i0 + 2, j0 + 2, p, k, n, accumulate, c22.reduceLanes(VectorOperators.ADD));
        finish(a, b, c, i0 + 2, j0 + 3, p, k, n, accumulate, c23.reduceLanes(VectorOperators.ADD));
        finish(a, b, c, i0 + 3, j0, p, k, n, accumulate, c30.reduceLanes(VectorOperators.ADD));
        finish(a, b, c, i0 + 3, j0 + 1, p, k, n, accumulate, c31.reduceLanes(VectorOperators.ADD));
        finish(a, b, c, i0 + 3, j0 + 2, p, k, n, accumulate, c32.reduceLanes(VectorOperators.ADD));
        finish(a, b, c, i0 + 3, j0 + 3, p, k, n, accumulate, c33.reduceLanes(VectorOperators.ADD));
    }

    /** Adds the scalar tail {@code [from, k)} of row i · row j to the vector part and stores c[i, j]. */
    private static void finish(float[] a, float[] b, float[] c, int i, int j, int from, int k, int n, boolean accumulate,
                               float s) {
        for (int t = from; t < k; t++) {
            s += a[i * k + t] * b[j * k + t];
        }
        c[i * n + j] = accumulate ? c[i * n + j] + s : s;
    }

    /**
     * {@code c[m, n] (+)= a[m, k] · b[k, n]}: the input gradient {@code dy W}. Four rows of c share each loaded row
     * vector of b.
     */
    static void ab(float[] a, float[] b, float[] c, int m, int k, int n, boolean accumulate) {
        rows4(m, k, n, accumulate, c, (i, p) -> a[i * k + p], b);
    }

    /** {@code c[m, n] (+)= a[k, m]^T · b[k, n]}: the weight gradient {@code dy^T x}. */
    static void aTb(float[] a, float[] b, float[] c, int m, int k, int n, boolean accumulate) {
        rows4(m, k, n, accumulate, c, (i, p) -> a[p * m + i], b);
    }

    /** Element (i, p) of the left operand, whichever way it is stored. */
    private interface Left {
        float at(int i, int p);
    }

    /** {@code c[i, :] (+)= Σ_p left(i, p) · b[p, :]}, four rows of c per task sharing each vector of b. */
    private static void rows4(int m, int k, int n, boolean accumulate, float[] c, Left left, float[] b) {
        int blocks = (m + 3) / 4;
        rows(blocks, (long) m * n * k).forEach(bi -> {
            int i0 = bi * 4;
            int count = Math.min(4, m - i0);
            if (!accumulate) {
                java.util.Arrays.fill(c, i0 * n, (i0 + count) * n, 0f);
            }
            float[] s = new float[4];
            int bound = F.loopBound(n);
            for (int j = 0; j < bound; j += F.length()) {
                FloatVector c0 = FloatVector.fromArray(F, c, i0 * n + j);
                FloatVector c1 = count > 1 ? FloatVector.fromArray(F, c, (i0 + 1) * n + j) : null;
                FloatVector c2 = count > 2 ? FloatVector.fromArray(F, c, (i0 + 2) * n + j) : null;
                FloatVector c3 = count > 3 ? FloatVector.fromArray(F, c, (i0 + 3) * n + j) : null;
                for (int p = 0; p < k; p++) {
                    FloatVector y = FloatVector.fromArray(F, b, p * n + j);
                    c0 = y.fma(FloatVector.broadcast(F, left.at(i0, p)), c0);
                    if (c1 != null) {
                        c1 = y.fma(FloatVector.broadcast(F, left.at(i0 + 1, p)), c1);
                    }
                    if (c2 != null) {
                        c2 = y.fma(FloatVector.broadcast(F, left.at(i0 + 2, p)), c2);
                    }
                    if (c3 != null) {
                        c3 = y.fma(FloatVector.broadcast(F, left.at(i0 + 3, p)), c3);
                    }
                }
                c0.intoArray(c, i0 * n + j);
                if (c1 != null) {
                    c1.intoArray(c, (i0 + 1) * n + j);
                }
                if (c2 != null) {
                    c2.intoArray(c, (i0 + 2) * n + j);
                }
                if (c3 != null) {
                    c3.intoArray(c, (i0 + 3) * n + j);
                }
            }
            for (int j = bound; j < n; j++) {
                for (int r = 0; r < count; r++) {
                    s[r] = 0;
                    for (int p = 0; p < k; p++) {
                        s[r] += left.at(i0 + r, p) * b[p * n + j];
                    }
                    c[(i0 + r) * n + j] += s[r];
                }
            }
        });
    }

    static float dot(float[] a, int aOff, float[] b, int bOff, int len) {
        FloatVector acc = FloatVector.zero(F);
        int bound = F.loopBound(len);
        int i = 0;
        for (; i < bound; i += F.length()) {
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
        for (; i < bound; i += F.length()) {
            FloatVector.fromArray(F, x, xOff + i).fma(sv, FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < len; i++) {
            y[yOff + i] += s * x[xOff + i];
        }
    }
}
