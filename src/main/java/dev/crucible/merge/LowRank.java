package dev.crucible.merge;

import dev.crucible.tensor.Gemm;
import dev.crucible.tensor.Parallel;

import java.util.SplittableRandom;

/**
 * The leading singular triplets of a matrix, for LoRA extraction. {@link #of} is exact: the eigen-decomposition
 * (cyclic Jacobi, in double) of the smaller Gram matrix gives the singular values and one side's vectors, the
 * other side follows as A v / sigma. Squaring the matrix loses the smallest singular values' precision, never the
 * leading ones' that a low-rank factorisation keeps; its cost grows as min(rows, cols)^3 (8 s at 512).
 * {@link #truncated} keeps it for narrow matrices and otherwise runs a randomized range finder (Halko, Martinsson,
 * Tropp 2011): Q = orth((A Aᵀ)^q A Ω) for a seeded Gaussian Ω with {@value #OVERSAMPLING} extra columns, then the
 * exact SVD of the small B = Qᵀ A and U = Q U_B; its cost is a few passes over A of rank + oversampling columns.
 *
 * @param s  singular values, descending
 * @param u  left singular vectors, [rows][rank] row-major as u[i * rank + k]
 * @param vh right singular vectors as rows, [rank][cols] row-major
 */
public record LowRank(double[] s, double[] u, double[] vh, int rows, int cols, int rank) {
    /** Extra columns of the random test matrix: the subspace error decays with them and with the power iterations. */
    public static final int OVERSAMPLING = 16;
    /** Passes of A Aᵀ: each one raises the spectrum's decay past the rank to a further power of two. */
    public static final int POWER_ITERATIONS = 4;
    /** At or below this width the exact path costs well under a second. */
    static final int EXACT_WIDTH = 128;
    /** Rows per parallel task of the double-precision steps: fixed, so results do not depend on the thread count. */
    private static final int ROW_BLOCK = 256;

    /**
     * The first {@code maxRank} singular triplets: exact for narrow matrices or ranks near the width, randomized
     * (seeded by {@code seed}, deterministic) otherwise.
     */
    public static LowRank truncated(float[] a, int rows, int cols, int maxRank, long seed) {
        int width = Math.min(rows, cols);
        int rank = Math.min(maxRank, width);
        int sample = rank + OVERSAMPLING;
        if (width <= EXACT_WIDTH || 2 * sample >= width) {
            return of(a, rows, cols, rank);
        }
        return randomized(a, rows, cols, rank, sample, POWER_ITERATIONS, seed);
    }

    /** The randomized truncated SVD with {@code sample} >= {@code rank} test vectors (sample < min(rows, cols)). */
    static LowRank randomized(float[] a, int rows, int cols, int rank, int sample, int powerIterations, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] z = new float[cols * sample]; // [cols, sample]
        for (int i = 0; i < z.length; i++) {
            z[i] = (float) random.nextGaussian();
        }
        float[] y = new float[rows * sample]; // [rows, sample]
        multiply(a, rows, cols, z, sample, y);
        double[][] q = orthonormalise(y, rows, sample);
        for (int it = 0; it < powerIterations; it++) { // re-orthonormalised each time: float keeps only ~7 digits
            multiplyTransposed(a, rows, cols, y, sample, z);
            orthonormalise(z, cols, sample);
            multiply(a, rows, cols, z, sample, y);
            q = orthonormalise(y, rows, sample);
        }
        multiplyTransposed(a, rows, cols, y, sample, z); // Bᵀ = Aᵀ Q
        float[] b = new float[sample * cols];
        for (int j = 0; j < cols; j++) {
            for (int k = 0; k < sample; k++) {
                b[k * cols + j] = z[j * sample + k];
            }
        }
        LowRank small = of(b, sample, cols, rank);
        double[] u = new double[rows * rank];
        double[][] qf = q;
        Parallel.forEach((rows + ROW_BLOCK - 1) / ROW_BLOCK, (long) rows * rank * sample, block -> {
            for (int i = block * ROW_BLOCK, end = Math.min(rows, i + ROW_BLOCK); i < end; i++) {
                for (int k = 0; k < rank; k++) {
                    double sum = 0;
                    for (int p = 0; p < sample; p++) {
                        sum += qf[p][i] * small.u()[p * rank + k];
                    }
                    u[i * rank + k] = sum;
                }
            }
        });
        return new LowRank(small.s(), u, small.vh(), rows, cols, rank);
    }

    /** {@code out[rows, l] = a[rows, cols] · x[cols, l]}. */
    public static void multiply(float[] a, int rows, int cols, float[] x, int l, float[] out) {
        Gemm.ab(a, x, out, rows, cols, l, false);
    }

    /** {@code out[cols, l] = a[rows, cols]ᵀ · y[rows, l]}. */
    private static void multiplyTransposed(float[] a, int rows, int cols, float[] y, int l, float[] out) {
        Gemm.aTb(a, y, out, cols, rows, l, false);
    }

    private static double dot(double[] x, double[] y) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += x[i] * y[i];
        }
        return s;
    }

    /**
     * Orthonormalises the l columns of the row-major [n, l] {@code m} in place (classical Gram-Schmidt twice, in
     * double) and returns them as double columns. An exactly zero column (a matrix of lower rank) stays zero.
     */
    private static double[][] orthonormalise(float[] m, int n, int l) {
        double[][] q = new double[l][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < l; j++) {
                q[j][i] = m[i * l + j];
            }
        }
        double[] dots = new double[l];
        int blocks = (n + ROW_BLOCK - 1) / ROW_BLOCK;
        for (int j = 0; j < l; j++) {
            double[] v = q[j];
            int done = j;
            for (int pass = 0; pass < 2 && j > 0; pass++) {
                Parallel.forEach(j, (long) n * j, p -> dots[p] = dot(q[p], v));
                Parallel.forEach(blocks, (long) n * j, block -> { // each element subtracts in p order
                    int i0 = block * ROW_BLOCK;
                    int i1 = Math.min(n, i0 + ROW_BLOCK);
                    for (int p = 0; p < done; p++) {
                        double[] w = q[p];
                        double d = dots[p];
                        for (int i = i0; i < i1; i++) {
                            v[i] -= d * w[i];
                        }
                    }
                });
            }
            double norm = 0;
            for (int i = 0; i < n; i++) {
                norm += v[i] * v[i];
            }
            norm = Math.sqrt(norm);
            for (int i = 0; i < n; i++) {
                v[i] = norm == 0 ? 0 : v[i] / norm;
            }
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < l; j++) {
                m[i * l + j] = (float) q[j][i];
            }
        }
        return q;
    }

    /** The first {@code maxRank} singular triplets of the row-major [rows, cols] matrix {@code a}. */
    public static LowRank of(float[] a, int rows, int cols, int maxRank) {
        boolean colsSide = cols <= rows; // eigenvectors of A^T A are V; of A A^T they are U
        int n = colsSide ? cols : rows;
        int other = colsSide ? rows : cols;
        double[][] g = new double[n][n];
        double[] x = new double[n];
        for (int k = 0; k < other; k++) {
            for (int i = 0; i < n; i++) {
                x[i] = colsSide ? a[k * cols + i] : a[i * cols + k];
            }
            for (int i = 0; i < n; i++) {
                double xi = x[i];
                if (xi == 0) {
                    continue;
                }
                double[] gi = g[i];
                for (int j = i; j < n; j++) {
                    gi[j] += xi * x[j];
                }
            }
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < i; j++) {
                g[i][j] = g[j][i];
            }
        }
        double[][] vectors = new double[n][n];
        double[] eig = jacobi(g, vectors);
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (p, q) -> Double.compare(eig[q], eig[p]));
        int rank = Math.min(maxRank, n);
        double[] s = new double[rank];
        double[] u = new double[rows * rank];
        double[] vh = new double[rank * cols];
        for (int k = 0; k < rank; k++) {
            int e = order[k];
            s[k] = Math.sqrt(Math.max(eig[e], 0));
            for (int i = 0; i < n; i++) { // the eigenvector side
                if (colsSide) {
                    vh[k * cols + i] = vectors[i][e];
                } else {
                    u[i * rank + k] = vectors[i][e];
                }
            }
            if (s[k] == 0) {
                continue; // a zero singular value contributes nothing; its other vector stays zero
            }
            for (int j = 0; j < other; j++) { // the other side: A v / s or A^T u / s
                double sum = 0;
                for (int i = 0; i < n; i++) {
                    sum += (colsSide ? a[j * cols + i] : a[i * cols + j]) * vectors[i][e];
                }
                if (colsSide) {
                    u[j * rank + k] = sum / s[k];
                } else {
                    vh[k * cols + j] = sum / s[k];
                }
            }
        }
        return new LowRank(s, u, vh, rows, cols, rank);
    }

    /** Eigenvalues of the symmetric {@code a} (destroyed); eigenvector e is column e of {@code vectors}. */
    private static double[] jacobi(double[][] a, double[][] vectors) {
        int n = a.length;
        for (int i = 0; i < n; i++) {
            vectors[i][i] = 1;
        }
        double scale = 0;
        for (int i = 0; i < n; i++) {
            scale += a[i][i] * a[i][i];
        }
        for (int sweep = 0; sweep < 60; sweep++) {
            double off = 0;
            for (int p = 0; p < n; p++) {
                for (int q = p + 1; q < n; q++) {
                    off += a[p][q] * a[p][q];
                }
            }
            if (off <= 1e-30 * scale || off == 0) {
                break;
            }
            for (int p = 0; p < n; p++) {
                for (int q = p + 1; q < n; q++) {
                    double apq = a[p][q];
                    if (apq == 0) {
                        continue;
                    }
                    double theta = (a[q][q] - a[p][p]) / (2 * apq);
                    double t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
                    double c = 1 / Math.sqrt(t * t + 1);
                    double sn = t * c;
                    for (int k = 0; k < n; k++) {
                        double akp = a[k][p];
                        double akq = a[k][q];
                        a[k][p] = c * akp - sn * akq;
                        a[k][q] = sn * akp + c * akq;
                    }
                    for (int k = 0; k < n; k++) {
                        double apk = a[p][k];
                        double aqk = a[q][k];
                        a[p][k] = c * apk - sn * aqk;
                        a[q][k] = sn * apk + c * aqk;
                    }
                    for (int k = 0; k < n; k++) {
                        double vkp = vectors[k][p];
                        double vkq = vectors[k][q];
                        vectors[k][p] = c * vkp - sn * vkq;
                        vectors[k][q] = sn * vkp + c * vkq;
                    }
                }
            }
        }
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = a[i][i];
        }
        return out;
    }
}
