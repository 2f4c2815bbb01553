package dev.crucible.merge;

/**
 * The leading singular triplets of a matrix, for LoRA extraction: the eigen-decomposition (cyclic Jacobi, in
 * double) of the smaller Gram matrix gives the singular values and one side's vectors, the other side follows
 * as A v / sigma. Squaring the matrix loses the smallest singular values' precision, never the leading ones'
 * that a low-rank factorisation keeps. Cost grows as min(rows, cols)^3 (8 s at 512): small models only.
 *
 * @param s  singular values, descending
 * @param u  left singular vectors, [rows][rank] row-major as u[i * rank + k]
 * @param vh right singular vectors as rows, [rank][cols] row-major
 */
record LowRank(double[] s, double[] u, double[] vh, int rows, int cols, int rank) {

    /** The first {@code maxRank} singular triplets of the row-major [rows, cols] matrix {@code a}. */
    static LowRank of(float[] a, int rows, int cols, int maxRank) {
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
