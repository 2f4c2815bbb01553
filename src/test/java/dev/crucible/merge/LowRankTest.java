package dev.crucible.merge;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The randomized truncated SVD against matrices built from known singular triplets: it finds the same singular
 * values and top-r subspace as the exact Jacobi path, is reproducible from its seed, and reports the zero tail of
 * a low-rank matrix as zero so that --sv-epsilon cuts the rank there.
 */
class LowRankTest {

    @Test
    void randomizedPathReproducesTheExactTopSubspace() {
        int rows = 300;
        int cols = 200;
        int rank = 8;
        double[] sigma = new double[cols];
        for (int k = 0; k < cols; k++) {
            sigma[k] = 3 * Math.pow(0.85, k);
        }
        float[] a = fromTriplets(rows, cols, sigma, new Random(11));
        LowRank fast = LowRank.truncated(a, rows, cols, rank, 42);
        LowRank exact = LowRank.of(a, rows, cols, rank);
        assertEquals(rank, fast.rank());
        for (int k = 0; k < rank; k++) {
            assertEquals(sigma[k], fast.s()[k], 1e-5 * sigma[0], "singular value " + k);
            assertEquals(exact.s()[k], fast.s()[k], 1e-5 * sigma[0], "singular value " + k + " vs exact");
            // vectors agree up to sign: |<u, u_exact>| and |<v, v_exact>| are 1
            assertEquals(1, Math.abs(dot(column(fast.u(), rows, rank, k), column(exact.u(), rows, rank, k))), 1e-5);
            assertEquals(1, Math.abs(dot(row(fast.vh(), cols, k), row(exact.vh(), cols, k))), 1e-5);
        }
        double diff = 0;
        double norm = 0;
        double[] p = product(fast);
        double[] q = product(exact);
        for (int i = 0; i < p.length; i++) {
            diff += (p[i] - q[i]) * (p[i] - q[i]);
            norm += q[i] * q[i];
        }
        assertTrue(Math.sqrt(diff / norm) < 1e-5, "rank-8 products differ by " + Math.sqrt(diff / norm));
    }

    @Test
    void seedMakesTheResultReproducible() {
        float[] a = fromTriplets(260, 180, decaying(180), new Random(3));
        LowRank first = LowRank.truncated(a, 260, 180, 16, 7);
        LowRank again = LowRank.truncated(a, 260, 180, 16, 7);
        LowRank other = LowRank.truncated(a, 260, 180, 16, 8);
        assertArrayEquals(first.s(), again.s());
        assertArrayEquals(first.u(), again.u());
        assertArrayEquals(first.vh(), again.vh());
        assertArrayEquals(first.s(), other.s(), 1e-5);
    }

    @Test
    void lowRankMatrixHasAZeroTailThatEpsilonCuts() {
        double[] sigma = new double[200];
        sigma[0] = 2;
        sigma[1] = 1;
        sigma[2] = 0.5;
        float[] a = fromTriplets(300, 200, sigma, new Random(5));
        LowRank svd = LowRank.truncated(a, 300, 200, 8, 0);
        int above = 0;
        for (double s : svd.s()) {
            above += s > 1e-4 ? 1 : 0;
        }
        assertEquals(3, above, java.util.Arrays.toString(svd.s()));
        for (int k = 0; k < 3; k++) {
            assertEquals(sigma[k], svd.s()[k], 1e-5);
        }
    }

    @Test
    void narrowOrNearlyFullRankMatricesStayExact() {
        float[] a = fromTriplets(100, 90, decaying(90), new Random(1));
        LowRank exact = LowRank.of(a, 100, 90, 8);
        assertArrayEquals(exact.s(), LowRank.truncated(a, 100, 90, 8, 0).s());
        float[] wide = fromTriplets(300, 200, decaying(200), new Random(2));
        assertArrayEquals(LowRank.of(wide, 300, 200, 90).s(), LowRank.truncated(wide, 300, 200, 90, 0).s());
    }

    private static double[] decaying(int n) {
        double[] s = new double[n];
        for (int k = 0; k < n; k++) {
            s[k] = Math.pow(0.9, k);
        }
        return s;
    }

    /** U diag(sigma) Vᵀ for random orthonormal U [rows, n] and V [cols, n], n = sigma.length <= min(rows, cols). */
    private static float[] fromTriplets(int rows, int cols, double[] sigma, Random rnd) {
        int n = sigma.length;
        double[][] u = orthonormal(n, rows, rnd);
        double[][] v = orthonormal(n, cols, rnd);
        float[] a = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                double s = 0;
                for (int k = 0; k < n; k++) {
                    s += u[k][i] * sigma[k] * v[k][j];
                }
                a[i * cols + j] = (float) s;
            }
        }
        return a;
    }

    /** n orthonormal vectors of length len (Gram-Schmidt twice over Gaussian ones). */
    private static double[][] orthonormal(int n, int len, Random rnd) {
        double[][] q = new double[n][len];
        for (int k = 0; k < n; k++) {
            for (int i = 0; i < len; i++) {
                q[k][i] = rnd.nextGaussian();
            }
            for (int pass = 0; pass < 2; pass++) {
                for (int p = 0; p < k; p++) {
                    double d = dot(q[p], q[k]);
                    for (int i = 0; i < len; i++) {
                        q[k][i] -= d * q[p][i];
                    }
                }
            }
            double norm = Math.sqrt(dot(q[k], q[k]));
            for (int i = 0; i < len; i++) {
                q[k][i] /= norm;
            }
        }
        return q;
    }

    private static double[] column(double[] m, int rows, int width, int k) {
        double[] c = new double[rows];
        for (int i = 0; i < rows; i++) {
            c[i] = m[i * width + k];
        }
        return c;
    }

    private static double[] row(double[] m, int cols, int k) {
        double[] r = new double[cols];
        System.arraycopy(m, k * cols, r, 0, cols);
        return r;
    }

    private static double dot(double[] x, double[] y) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += x[i] * y[i];
        }
        return s;
    }

    /** U diag(S) Vh of the stored triplets, [rows * cols]. */
    private static double[] product(LowRank svd) {
        double[] out = new double[svd.rows() * svd.cols()];
        for (int i = 0; i < svd.rows(); i++) {
            for (int k = 0; k < svd.rank(); k++) {
                double us = svd.u()[i * svd.rank() + k] * svd.s()[k];
                for (int j = 0; j < svd.cols(); j++) {
                    out[i * svd.cols() + j] += us * svd.vh()[k * svd.cols() + j];
                }
            }
        }
        return out;
    }
}
