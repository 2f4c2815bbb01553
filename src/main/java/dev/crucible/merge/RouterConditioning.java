package dev.crucible.merge;

/**
 * The condition number (largest over smallest singular value) of a layer's router matrix, the measure mergekit
 * uses to warn about prompts too similar to tell experts apart. The singular values come from the eigenvalues
 * of the smaller Gram matrix, found by cyclic Jacobi rotations (the matrix is at most experts x experts).
 */
final class RouterConditioning {
    private RouterConditioning() {
    }

    /** cond of the row-major [rows, values.length / rows] matrix; infinite when it is rank-deficient. */
    static double conditionNumber(float[] values, int rows) {
        int cols = values.length / rows;
        boolean byRows = rows <= cols;
        int n = byRows ? rows : cols;
        double[][] g = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                double s = 0;
                int len = byRows ? cols : rows;
                for (int k = 0; k < len; k++) {
                    s += byRows ? (double) values[i * cols + k] * values[j * cols + k]
                            : (double) values[k * cols + i] * values[k * cols + j];
                }
                g[i][j] = s;
                g[j][i] = s;
            }
        }
        double[] eig = symmetricEigenvalues(g);
        double max = 0;
        double min = Double.POSITIVE_INFINITY;
        for (double e : eig) {
            max = Math.max(max, e);
            min = Math.min(min, e);
        }
        return min <= max * 1e-14 ? Double.POSITIVE_INFINITY : Math.sqrt(max / min);
    }

    static double[] symmetricEigenvalues(double[][] a) {
        int n = a.length;
        for (int sweep = 0; sweep < 100; sweep++) {
            double off = 0;
            for (int p = 0; p < n; p++) {
                for (int q = p + 1; q < n; q++) {
                    off += a[p][q] * a[p][q];
                }
            }
            if (off < 1e-30) {
                break;
            }
            for (int p = 0; p < n; p++) {
                for (int q = p + 1; q < n; q++) {
                    if (Math.abs(a[p][q]) < 1e-300) {
                        continue;
                    }
                    double theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
                    double t = Math.signum(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
                    if (theta == 0) {
                        t = 1;
                    }
                    double c = 1 / Math.sqrt(t * t + 1);
                    double s = t * c;
                    for (int k = 0; k < n; k++) { // columns p, q
                        double akp = a[k][p];
                        double akq = a[k][q];
                        a[k][p] = c * akp - s * akq;
                        a[k][q] = s * akp + c * akq;
                    }
                    for (int k = 0; k < n; k++) { // rows p, q
                        double apk = a[p][k];
                        double aqk = a[q][k];
                        a[p][k] = c * apk - s * aqk;
                        a[q][k] = s * apk + c * aqk;
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
