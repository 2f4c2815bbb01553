package dev.crucible.tensor;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MatMulTest {
    static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return v;
    }

    /** Double-precision reference on the weights as stored (after rounding to their dtype). */
    static double[] naive(float[] x, int n, int k, float[] w, int m) {
        double[] out = new double[n * m];
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < m; r++) {
                double s = 0;
                for (int c = 0; c < k; c++) {
                    s += (double) x[t * k + c] * w[r * k + c];
                }
                out[t * m + r] = s;
            }
        }
        return out;
    }

    /** A copy in native memory, as memory-mapped weights are (the vectorised bf16 paths need it). */
    static Tensor offHeap(Tensor t) {
        Tensor copy = Tensor.allocate(t.dtype(), t.shape(), Arena.ofAuto());
        copy.data().copyFrom(t.data());
        return copy;
    }

    @ParameterizedTest
    @CsvSource({"BF16,1,1,1,true", "BF16,7,33,5,true", "BF16,5,100,67,true", "BF16,70,64,129,true",
            "BF16,1,577,31,true", "BF16,3,577,31,true", "BF16,1,100,9,false", "BF16,70,64,13,false",
            "F32,9,45,13,true", "F32,66,130,37,false", "F16,4,31,9,false", "F16,1,200,5,true"})
    void matchesNaiveProductOnOddSizes(DType dtype, int n, int k, int m, boolean nativeWeights) {
        float[] x = random(n * k, 1);
        Tensor w = Tensor.fromFloats(dtype, random(m * k, 2), m, k);
        if (nativeWeights) {
            w = offHeap(w);
        }
        float[] stored = w.toFloatArray();
        float[] out = new float[n * m];
        MatMul.multiply(x, n, k, w, out);
        double[] ref = naive(x, n, k, stored, m);
        for (int i = 0; i < out.length; i++) {
            assertEquals(ref[i], out[i], 1e-5 * Math.sqrt(k), dtype + " element " + i);
        }
    }

    @Test
    void projectionsWriteBiasedColumnsOfOneBuffer() {
        int n = 6, k = 48, m1 = 10, m2 = 7;
        float[] x = random(n * k, 3);
        Tensor w1 = offHeap(Tensor.fromFloats(DType.BF16, random(m1 * k, 4), m1, k));
        Tensor w2 = Tensor.fromFloats(DType.F32, random(m2 * k, 5), m2, k);
        float[] bias = random(m2, 6);
        int stride = m1 + m2 + 1;
        float[] out = new float[n * stride];
        Arrays.fill(out, 42f);
        MatMul.multiply(x, n, k, new MatMul.Projection(w1, null, out, stride, 0),
                new MatMul.Projection(w2, bias, out, stride, m1));
        double[] r1 = naive(x, n, k, w1.toFloatArray(), m1);
        double[] r2 = naive(x, n, k, w2.toFloatArray(), m2);
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < m1; r++) {
                assertEquals(r1[t * m1 + r], out[t * stride + r], 1e-4);
            }
            for (int r = 0; r < m2; r++) {
                assertEquals(r2[t * m2 + r] + bias[r], out[t * stride + m1 + r], 1e-4);
            }
            assertEquals(42f, out[t * stride + stride - 1], "column past the projections untouched");
        }
    }

    @Test
    void heapAndNativeBf16WeightsGiveIdenticalResults() {
        int n = 5, k = 300, m = 11;
        float[] x = random(n * k, 10);
        Tensor heap = Tensor.fromFloats(DType.BF16, random(m * k, 11), m, k);
        for (int tokens : new int[] {1, n}) {
            float[] a = new float[tokens * m], b = new float[tokens * m];
            MatMul.multiply(x, tokens, k, heap, a);
            MatMul.multiply(x, tokens, k, offHeap(heap), b);
            assertArrayEquals(a, b, 0f);
        }
    }

    @ParameterizedTest
    @CsvSource({"37,200,45", "3,96,1001"}) // the second gives one-token tasks of several strided tiles
    void aTokenGetsBitIdenticalResultsAloneOrInABatch(int n, int k, int m) {
        float[] x = random(n * k, 7);
        Tensor w = offHeap(Tensor.fromFloats(DType.BF16, random(m * k, 8), m, k));
        float[] batch = new float[n * m];
        MatMul.multiply(x, n, k, w, batch);
        for (int t = 0; t < n; t += 5) {
            float[] one = new float[m];
            MatMul.multiply(Arrays.copyOfRange(x, t * k, (t + 1) * k), 1, k, w, one);
            assertArrayEquals(Arrays.copyOfRange(batch, t * m, (t + 1) * m), one, 0f, "token " + t);
        }
    }

    @Test
    void fourLaneSumsAtOnceAreBitIdenticalToSeparateOnes() {
        var species = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
        float[] data = random(4 * species.length() * 50, 12);
        float[] out = new float[species.length()];
        for (int i = 0; i < 50; i++) {
            int o = i * 4 * species.length();
            var a = jdk.incubator.vector.FloatVector.fromArray(species, data, o);
            var b = jdk.incubator.vector.FloatVector.fromArray(species, data, o + species.length());
            var c = jdk.incubator.vector.FloatVector.fromArray(species, data, o + 2 * species.length());
            var d = jdk.incubator.vector.FloatVector.fromArray(species, data, o + 3 * species.length());
            VectorMath.sumLanes4(a, b, c, d, out);
            assertArrayEquals(new float[] {VectorMath.sumLanes(a), VectorMath.sumLanes(b), VectorMath.sumLanes(c),
                    VectorMath.sumLanes(d)}, Arrays.copyOf(out, 4), 0f);
        }
    }

    @Test
    void dotWithOnesSumsEveryElement() {
        float[] v = random(1000, 9);
        double ref = 0;
        for (float f : v) {
            ref += f;
        }
        float[] ones = new float[1000];
        Arrays.fill(ones, 1f);
        float s = VectorMath.dot(v, 0, ones, 0, 1000);
        assertTrue(Math.abs(s - ref) < 1e-3, s + " vs " + ref);
    }
}
