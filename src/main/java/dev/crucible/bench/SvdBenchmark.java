package dev.crucible.bench;

import dev.crucible.merge.LowRank;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Times extract-lora's truncated SVD on a synthetic layer delta with a decaying spectrum: A = G diag(s) H plus
 * a small noise floor, G [rows, t] and H [t, cols] Gaussian, s_k = 0.97^k over t = 256 terms. Reports the
 * randomized path's time and relative Frobenius residual, and with {@code exact} the Jacobi path's for comparison.
 */
public final class SvdBenchmark {
    private static final int TERMS = 256;

    private SvdBenchmark() {
    }

    public static void run(int rows, int cols, int rank, boolean exact, long seed, PrintWriter out) {
        float[] a = matrix(rows, cols, seed);
        out.printf(Locale.ROOT, "delta %dx%d, rank %d, %d threads%n", rows, cols, rank,
                dev.crucible.tensor.Parallel.threads());
        LowRank.truncated(a, rows, cols, rank, seed); // warm-up: JIT of the kernels
        LowRank fast = null;
        double fastS = Double.MAX_VALUE;
        for (int run = 0; run < 3; run++) { // best of three
            long t0 = System.nanoTime();
            fast = LowRank.truncated(a, rows, cols, rank, seed);
            fastS = Math.min(fastS, (System.nanoTime() - t0) / 1e9);
        }
        out.printf(Locale.ROOT, "  randomized (oversampling %d, %d power iterations), best of 3: %8.3f s   residual %.6f   "
                        + "factors hash %08x (the same for every thread count)%n", LowRank.OVERSAMPLING,
                LowRank.POWER_ITERATIONS, fastS, residual(a, fast), java.util.Objects.hash(
                        java.util.Arrays.hashCode(fast.s()), java.util.Arrays.hashCode(fast.u()),
                        java.util.Arrays.hashCode(fast.vh())));
        out.flush();
        if (exact) {
            long t0 = System.nanoTime();
            LowRank full = LowRank.of(a, rows, cols, rank);
            double exactS = (System.nanoTime() - t0) / 1e9;
            double worst = 0;
            for (int k = 0; k < rank; k++) {
                worst = Math.max(worst, Math.abs(full.s()[k] - fast.s()[k]) / full.s()[0]);
            }
            out.printf(Locale.ROOT, "  exact Jacobi, one run:                                        %8.3f s   residual %.6f%n",
                    exactS, residual(a, full));
            out.printf(Locale.ROOT, "  speed-up %.1fx; largest singular value difference %.2e of s_1%n",
                    exactS / fastS, worst);
        }
        out.flush();
    }

    private static float[] matrix(int rows, int cols, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed + 1);
        float[] g = new float[rows * TERMS];
        float[] h = new float[TERMS * cols];
        for (int i = 0; i < rows; i++) {
            for (int k = 0; k < TERMS; k++) {
                g[i * TERMS + k] = (float) (rnd.nextGaussian() * Math.pow(0.97, k) / Math.sqrt(rows));
            }
        }
        for (int i = 0; i < h.length; i++) {
            h[i] = (float) (rnd.nextGaussian() / Math.sqrt(cols));
        }
        float[] a = new float[rows * cols];
        LowRank.multiply(g, rows, TERMS, h, cols, a);
        for (int i = 0; i < a.length; i++) {
            a[i] += (float) (rnd.nextGaussian() * 1e-3 / Math.sqrt(Math.max(rows, cols)));
        }
        return a;
    }

    /** ||A - U S Vh||_F / ||A||_F. */
    private static double residual(float[] a, LowRank svd) {
        int rows = svd.rows();
        int cols = svd.cols();
        double diff = 0;
        double norm = 0;
        double[] row = new double[cols];
        for (int i = 0; i < rows; i++) {
            java.util.Arrays.fill(row, 0);
            for (int k = 0; k < svd.rank(); k++) {
                double us = svd.u()[i * svd.rank() + k] * svd.s()[k];
                for (int j = 0; j < cols; j++) {
                    row[j] += us * svd.vh()[k * cols + j];
                }
            }
            for (int j = 0; j < cols; j++) {
                double x = a[i * cols + j];
                diff += (x - row[j]) * (x - row[j]);
                norm += x * x;
            }
        }
        return Math.sqrt(diff / norm);
    }
}
