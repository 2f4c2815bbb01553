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

    /** {@code c[m, n] (+)= a[m, k] · b[n, k]^T}: the forward of {@code x W^T}. */
    static void abT(float[] a, float[] b, float[] c, int m, int k, int n, boolean accumulate) {
        rows(m, (long) m * n * k).forEach(i -> {
            int aOff = i * k;
            for (int j = 0; j < n; j++) {
                float s = dot(a, aOff, b, j * k, k);
                c[i * n + j] = accumulate ? c[i * n + j] + s : s;
            }
        });
    }

    /** {@code c[m, n] (+)= a[m, k] · b[k, n]}: the input gradient {@code dy W}. */
    static void ab(float[] a, float[] b, float[] c, int m, int k, int n, boolean accumulate) {
        rows(m, (long) m * n * k).forEach(i -> {
            int cOff = i * n;
            if (!accumulate) {
                java.util.Arrays.fill(c, cOff, cOff + n, 0f);
            }
            for (int p = 0; p < k; p++) {
                float s = a[i * k + p];
                if (s != 0f) {
                    axpy(s, b, p * n, c, cOff, n);
                }
            }
        });
    }

    /** {@code c[m, n] (+)= a[k, m]^T · b[k, n]}: the weight gradient {@code dy^T x}. */
    static void aTb(float[] a, float[] b, float[] c, int m, int k, int n, boolean accumulate) {
        rows(m, (long) m * n * k).forEach(i -> {
            int cOff = i * n;
            if (!accumulate) {
                java.util.Arrays.fill(c, cOff, cOff + n, 0f);
            }
            for (int p = 0; p < k; p++) {
                float s = a[p * m + i];
                if (s != 0f) {
                    axpy(s, b, p * n, c, cOff, n);
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
