package dev.crucible.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Every entry point of the GEMM against double-precision sums, on shapes that hit full and masked panels. */
class GemmTest {
    static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return v;
    }

    /** a [m, k] · b [k, n] in double. */
    static double[] product(float[] a, float[] b, int m, int k, int n) {
        double[] out = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    s += (double) a[i * k + p] * b[p * n + j];
                }
                out[i * n + j] = s;
            }
        }
        return out;
    }

    static float[] transpose(float[] x, int rows, int cols) {
        float[] t = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                t[j * rows + i] = x[i * cols + j];
            }
        }
        return t;
    }

    private static void check(double[] want, float[] before, boolean accumulate, float[] got, int k, String what) {
        for (int i = 0; i < want.length; i++) {
            double w = want[i] + (accumulate ? before[i] : 0);
            assertEquals(w, got[i], 2e-6 * Math.sqrt(k) * (1 + Math.abs(w)), what + " at " + i);
        }
    }

    @ParameterizedTest
    @CsvSource({"37,150,83", "5,16,3", "130,300,70", "16,2048,64", "64,20,17", "1,577,129", "3,1,65", "9,0,5"})
    void theThreeTrainingProductsMatchDirectSums(int m, int k, int n) {
        float[] a = random(m * k, 1);
        float[] b = random(k * n, 2);
        float[] c0 = random(m * n, 3);
        double[] want = product(a, b, m, k, n);
        for (boolean accumulate : new boolean[] {false, true}) {
            float[] c = c0.clone();
            Gemm.ab(a, b, c, m, k, n, accumulate);
            check(want, c0, accumulate, c, k, "ab " + m + "x" + k + "x" + n);
            c = c0.clone();
            Gemm.abT(a, transpose(b, k, n), c, m, k, n, accumulate);
            check(want, c0, accumulate, c, k, "abT");
            c = c0.clone();
            Gemm.aTb(transpose(a, m, k), b, c, m, k, n, accumulate);
            check(want, c0, accumulate, c, k, "aTb");
        }
    }

    /** The three products give the same bits: one FMA chain per element whichever way the operands are stored. */
    @Test
    void allLayoutsGiveTheSameBits() {
        int m = 70, k = 300, n = 131;
        float[] a = random(m * k, 4);
        float[] b = random(k * n, 5);
        float[] ab = new float[m * n], abT = new float[m * n], aTb = new float[m * n];
        Gemm.ab(a, b, ab, m, k, n, false);
        Gemm.abT(a, transpose(b, k, n), abT, m, k, n, false);
        Gemm.aTb(transpose(a, m, k), b, aTb, m, k, n, false);
        assertArrayEquals(ab, abT, 0f);
        assertArrayEquals(ab, aTb, 0f);
    }

    /** A row's result does not depend on the other rows of the call: one token alone equals that token in a batch. */
    @ParameterizedTest
    @CsvSource({"BF16,37,200,45", "BF16,3,96,1001", "F32,19,576,130", "F16,6,31,9"})
    void aRowGetsTheSameBitsAloneOrInABatch(DType dtype, int m, int k, int n) {
        float[] x = random(m * k, 7);
        PackedWeight w = PackedWeight.of(Tensor.fromFloats(dtype, random(n * k, 8), n, k), Arena.ofAuto());
        float[] batch = new float[m * n];
        Gemm.linear(x, m, w, null, batch);
        for (int t = 0; t < m; t++) {
            float[] one = new float[n];
            Gemm.linear(Arrays.copyOfRange(x, t * k, (t + 1) * k), 1, w, null, one);
            assertArrayEquals(Arrays.copyOfRange(batch, t * n, (t + 1) * n), one, 0f, "row " + t);
        }
        float[] wf = w.toFloats();
        float[] dense = new float[m * n];
        Gemm.abT(x, wf, dense, m, k, n, false);
        assertArrayEquals(batch, dense, 0f, "packed weights give the bits of the float product");
    }

    @ParameterizedTest
    @CsvSource({"BF16,1,1,1,true", "BF16,7,33,5,true", "BF16,5,100,67,true", "BF16,70,64,129,true",
            "BF16,1,577,31,true", "BF16,1,100,9,false", "F32,9,45,13,true", "F32,66,130,37,false",
            "F16,4,31,9,false", "F16,1,200,5,true"})
    void packedWeightsMatchTheProductOfTheStoredValues(DType dtype, int n, int k, int m, boolean nativeWeights) {
        float[] x = random(n * k, 1);
        Tensor w = Tensor.fromFloats(dtype, random(m * k, 2), m, k);
        if (nativeWeights) {
            Tensor copy = Tensor.allocate(w.dtype(), w.shape(), Arena.ofAuto());
            copy.data().copyFrom(w.data());
            w = copy;
        }
        float[] stored = w.toFloatArray();
        float[] bias = random(m, 3);
        float[] out = new float[n * m];
        PackedWeight packed = PackedWeight.of(w, Arena.ofAuto());
        assertArrayEquals(stored, packed.toFloats(), 0f, "packing is lossless");
        Gemm.linear(x, n, packed, bias, out);
        double[] ref = product(x, transpose(stored, m, k), n, k, m);
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < m; r++) {
                assertEquals(ref[t * m + r] + bias[r], out[t * m + r], 1e-5 * Math.sqrt(k), dtype + " element " + t + "," + r);
            }
        }
    }

    @Test
    void stackedWeightsWriteTheirOutputsSideBySide() {
        int n = 6, k = 48, m1 = 10, m2 = 7;
        float[] x = random(n * k, 3);
        Tensor w1 = Tensor.fromFloats(DType.BF16, random(m1 * k, 4), m1, k);
        Tensor w2 = Tensor.fromFloats(DType.BF16, random(m2 * k, 5), m2, k);
        PackedWeight both = PackedWeight.stacked(Arena.ofAuto(), w1, w2);
        float[] out = new float[n * (m1 + m2)];
        Gemm.linear(x, n, both, null, out);
        float[] o1 = new float[n * m1], o2 = new float[n * m2];
        Gemm.linear(x, n, PackedWeight.of(w1, Arena.ofAuto()), null, o1);
        Gemm.linear(x, n, PackedWeight.of(w2, Arena.ofAuto()), null, o2);
        for (int t = 0; t < n; t++) {
            assertArrayEquals(Arrays.copyOfRange(o1, t * m1, (t + 1) * m1), Arrays.copyOfRange(out, t * (m1 + m2), t * (m1 + m2) + m1), 0f);
            assertArrayEquals(Arrays.copyOfRange(o2, t * m2, (t + 1) * m2), Arrays.copyOfRange(out, t * (m1 + m2) + m1, (t + 1) * (m1 + m2)), 0f);
        }
    }

    /** The serial product on strided blocks (attention's use) equals the parallel one on the extracted blocks. */
    @Test
    void serialProductOnStridedBlocks() {
        int lda = 50, ldb = 90, ldc = 77, m = 13, k = 37, n = 70;
        float[] a = random(m * lda + 5, 11);
        float[] b = random(k * ldb + 9, 12);
        float[] c = random(m * ldc + 3, 13);
        float[] before = c.clone();
        Gemm.serial(m, n, k, a, 5, lda, b, 9, ldb, c, 3, ldc, true);
        float[] aBlock = new float[m * k], bBlock = new float[k * n], cBlock = new float[m * n];
        for (int i = 0; i < m; i++) {
            System.arraycopy(a, 5 + i * lda, aBlock, i * k, k);
            System.arraycopy(before, 3 + i * ldc, cBlock, i * n, n);
        }
        for (int p = 0; p < k; p++) {
            System.arraycopy(b, 9 + p * ldb, bBlock, p * n, n);
        }
        Gemm.ab(aBlock, bBlock, cBlock, m, k, n, true);
        for (int i = 0; i < m; i++) {
            assertArrayEquals(Arrays.copyOfRange(cBlock, i * n, (i + 1) * n), Arrays.copyOfRange(c, 3 + i * ldc, 3 + i * ldc + n), 0f);
            assertEquals(before[3 + i * ldc + n], c[3 + i * ldc + n], "columns past n untouched");
        }
    }

    @Test
    void mismatchedSizesAreRefused() {
        PackedWeight w = PackedWeight.of(Tensor.fromFloats(DType.BF16, random(20, 1), 4, 5), Arena.ofAuto());
        assertThrows(IllegalArgumentException.class, () -> Gemm.linear(new float[5], 1, w, null, new float[3]));
        assertThrows(IllegalArgumentException.class, () -> Gemm.linear(new float[5], 1, w, new float[3], new float[4]));
        assertThrows(IllegalArgumentException.class, () -> Gemm.ab(new float[5], new float[5], new float[1], 1, 5, 2, false));
    }
}
