package dev.crucible.nn;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The three training products on shapes that hit every tile path (full tiles, vector and scalar tails), vs doubles. */
class MatmulTest {
    @Test
    void productsMatchDirectSumsOnRaggedShapes() {
        int[][] shapes = {{37, 150, 83}, {5, 16, 3}, {130, 300, 70}, {16, 2048, 64}, {64, 20, 17}};
        for (int[] s : shapes) {
            int m = s[0], k = s[1], n = s[2];
            float[] a = OpsGradientTest.random(m * k, m, 1);
            float[] b = OpsGradientTest.random(k * n, n, 1);
            float[] c0 = OpsGradientTest.random(m * n, k, 1);
            float[] bt = new float[n * k];
            float[] at = new float[k * m];
            for (int p = 0; p < k; p++) {
                for (int j = 0; j < n; j++) {
                    bt[j * k + p] = b[p * n + j];
                }
                for (int i = 0; i < m; i++) {
                    at[p * m + i] = a[i * k + p];
                }
            }
            double[] want = new double[m * n];
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    for (int p = 0; p < k; p++) {
                        want[i * n + j] += (double) a[i * k + p] * b[p * n + j];
                    }
                }
            }
            String shape = m + "x" + k + "x" + n;
            for (boolean accumulate : new boolean[]{false, true}) {
                float[] c = c0.clone();
                Matmul.ab(a, b, c, m, k, n, accumulate);
                check(want, c0, accumulate, c, "ab " + shape);
                c = c0.clone();
                Matmul.abT(a, bt, c, m, k, n, accumulate);
                check(want, c0, accumulate, c, "abT " + shape);
                c = c0.clone();
                Matmul.aTb(at, b, c, m, k, n, accumulate);
                check(want, c0, accumulate, c, "aTb " + shape);
            }
        }
    }

    private static void check(double[] product, float[] before, boolean accumulate, float[] got, String what) {
        for (int i = 0; i < product.length; i++) {
            double want = product[i] + (accumulate ? before[i] : 0);
            assertEquals(want, got[i], 1e-4 * (1 + Math.abs(want)), what + (accumulate ? " (accumulate)" : "") + " at " + i);
        }
    }
}
