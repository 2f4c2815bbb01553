package dev.crucible.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Nf4WeightTest {
    static float[] gaussian(int n, long seed, double std) {
        Random r = new Random(seed);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) (r.nextGaussian() * std);
        }
        return out;
    }

    @Test
    void levelsAreBitsandbytesNf4TableAndTheDynamicMapHasItsShape() {
        float[] l = Nf4Weight.levels();
        assertEquals(16, l.length);
        assertEquals(-1f, l[0]);
        assertEquals(0f, l[7]);
        assertEquals(1f, l[15]);
        assertEquals(0.07958029955625534f, l[8]);
        float[] d = Nf4Weight.dynamicMap8();
        assertEquals(256, d.length);
        for (int i = 1; i < 256; i++) {
            assertTrue(d[i - 1] <= d[i]);
        }
        assertEquals(1f, d[255]);
        // largest negative magnitude is the midpoint of the last two points of linspace(0.1, 1, 65)
        assertEquals(-(1 - 0.9 / 128), d[0], 1e-6);
        // 10^-6 * (0.1 + 1) / 2 is the smallest magnitude (exponent 0 has one fraction item)
        assertEquals(0.55e-6, d[Nf4Weight.dynamicMap8().length / 2], 1e-9);
    }

    @Test
    void valuesOnTheLevelsRoundTripExactly() {
        int rows = 8;
        int cols = 96;
        float[] w = new float[rows * cols];
        Random r = new Random(3);
        for (int b = 0; b < w.length / 64; b++) {
            float scale = 0.01f + r.nextFloat();
            for (int i = 0; i < 64; i++) {
                w[b * 64 + i] = Nf4Weight.LEVELS[i == 0 ? 15 : r.nextInt(16)] * scale;
            }
        }
        assertArrayEquals(w, Nf4Weight.quantize(w, rows, cols, false).dequantize());
        // with double quantisation, equal block scales survive exactly (the offset is their mean)
        float[] equal = w.clone();
        for (int i = 0; i < equal.length; i++) {
            equal[i] = Nf4Weight.LEVELS[i % 64 == 0 ? 0 : (i * 7) % 16] * 0.75f;
        }
        assertArrayEquals(equal, Nf4Weight.quantize(equal, rows, cols, true).dequantize());
    }

    @Test
    void codesArePackedTwoPerByteFirstInTheHighNibble() {
        float[] w = new float[64];
        w[0] = 1f;
        w[1] = -1f;
        w[2] = 0.5626170039176941f;
        Nf4Weight q = Nf4Weight.quantize(w, 1, 64, false);
        assertEquals(15, q.code(0));
        assertEquals(0, q.code(1));
        assertEquals(13, q.code(2));
        assertEquals(7, q.code(3));
        assertEquals(-1f, q.dequantize()[1]);
    }

    @Test
    void nearestLevelTiesGoToTheLowerLevelAsTorchArgminDoes() {
        float[] levels = {0f, 1f, 2f};
        assertEquals(0, Nf4Weight.nearest(levels, 0.5f));
        assertEquals(1, Nf4Weight.nearest(levels, 0.5001f));
        assertEquals(2, Nf4Weight.nearest(levels, 7f));
        assertEquals(0, Nf4Weight.nearest(levels, -3f));
    }

    @Test
    void gaussianErrorIsSmallAndBeatsUniform4Bit() {
        int rows = 256;
        int cols = 1024;
        float[] w = gaussian(rows * cols, 11, 0.02);
        float[] plain = Nf4Weight.quantize(w, rows, cols, false).dequantize();
        float[] nested = Nf4Weight.quantize(w, rows, cols, true).dequantize();
        double std = 0.02;
        double errPlain = meanAbsDiff(w, plain) / std;
        double errNested = meanAbsDiff(w, nested) / std;
        // uniform symmetric 4-bit absmax quantisation (levels k/7) over the same blocks, for comparison
        float[] uniform = new float[w.length];
        for (int b = 0; b < w.length / 64; b++) {
            float max = 0;
            for (int i = b * 64; i < b * 64 + 64; i++) {
                max = Math.max(max, Math.abs(w[i]));
            }
            for (int i = b * 64; i < b * 64 + 64; i++) {
                uniform[i] = Math.round(w[i] / max * 7) / 7f * max;
            }
        }
        double errUniform = meanAbsDiff(w, uniform) / std;
        assertTrue(errPlain < 0.08, "NF4 mean |error| / std = " + errPlain);
        assertTrue(errPlain < 0.9 * errUniform, "NF4 " + errPlain + " vs uniform int4 " + errUniform);
        assertTrue(errNested < errPlain * 1.01, "double quantisation costs under 1%: " + errNested + " vs " + errPlain);
        double mean = 0;
        for (int i = 0; i < w.length; i++) {
            mean += nested[i] - w[i];
        }
        assertTrue(Math.abs(mean / w.length) < 1e-3 * std, "unbiased: " + mean / w.length);
    }

    @Test
    void doubleQuantisedScalesStayWithinOneEightBitStep() {
        float[] w = gaussian(64 * 1000, 5, 1);
        Nf4Weight plain = Nf4Weight.quantize(w, 1000, 64, false);
        Nf4Weight nested = Nf4Weight.quantize(w, 1000, 64, true);
        for (int b = 0; b < 1000; b++) {
            float exact = plain.blockScale(b);
            assertEquals(exact, nested.blockScale(b), 0.02 * exact, "block " + b);
        }
    }

    @Test
    void memoryIsAboutAQuarterOfBf16() {
        int rows = 576;
        int cols = 1536;
        Nf4Weight q = Nf4Weight.quantize(gaussian(rows * cols, 2, 0.02), rows, cols, true);
        double ratio = q.byteSize() / (2.0 * rows * cols);
        assertTrue(ratio > 0.25 && ratio < 0.26, "NF4 / bf16 bytes = " + ratio);
        Nf4Weight unnested = Nf4Weight.quantize(gaussian(rows * cols, 2, 0.02), rows, cols, false);
        assertTrue(unnested.byteSize() > q.byteSize(), "double quantisation saves the float32 scales");
    }

    /**
     * The blocked kernels against a double-precision product of the dequantised matrix, on shapes that hit every
     * edge: one row, a row count not a multiple of 4, widths that leave partial panels and partial reduction slices,
     * a single output, and products large enough to run in parallel with rows split over tasks.
     */
    @ParameterizedTest
    @CsvSource({"7, 37, 200", "1, 1, 1", "1, 576, 576", "3, 5, 63", "13, 65, 129", "300, 70, 129", "512, 192, 576",
            "130, 1536, 67"})
    void fusedKernelsEqualDequantiseThenMatmul(int m, int out, int in) {
        float[] wf = gaussian(out * in, 4, 0.05);
        Nf4Weight w = Nf4Weight.quantize(wf, out, in, true);
        float[] dense = w.dequantize();
        float[] x = gaussian(m * in, 9, 1);
        float[] y = new float[m * out];
        java.util.Arrays.fill(y, Float.NaN);
        Gemm.abT(x, m, w, y);
        for (int j = 0; j < m; j++) {
            for (int o = 0; o < out; o++) {
                double s = 0;
                for (int i = 0; i < in; i++) {
                    s += (double) x[j * in + i] * dense[o * in + i];
                }
                assertEquals(s, y[j * out + o], 1e-5 * Math.max(1, Math.abs(s)), "y[" + j + "," + o + "]");
            }
        }
        float[] dy = gaussian(m * out, 10, 1);
        float[] dx = new float[m * in];
        java.util.Arrays.fill(dx, Float.NaN);
        Gemm.ab(dy, m, w, dx, false);
        float[] dxPlus = new float[m * in];
        java.util.Arrays.fill(dxPlus, 123f);
        Gemm.ab(dy, m, w, dxPlus, true);
        for (int j = 0; j < m; j++) {
            for (int i = 0; i < in; i++) {
                double s = 0;
                for (int o = 0; o < out; o++) {
                    s += (double) dy[j * out + o] * dense[o * in + i];
                }
                assertEquals(s, dx[j * in + i], 1e-5 * Math.max(1, Math.abs(s)), "dx[" + j + "," + i + "]");
                assertEquals(s + 123, dxPlus[j * in + i], 1e-5 * Math.max(1, Math.abs(s + 123)), "dx + 123");
            }
        }
    }

    @Test
    void noRowsIsAnEmptyProduct() {
        Nf4Weight w = Nf4Weight.quantize(gaussian(5 * 70, 6, 1), 5, 70, true);
        Gemm.abT(new float[0], 0, w, new float[0]);
        Gemm.ab(new float[0], 0, w, new float[0], true);
        assertThrows(IllegalArgumentException.class, () -> Gemm.abT(new float[70], 1, w, new float[4]));
    }

    @Test
    void dequantisingAnySpanEqualsTheWholeMatrix() {
        Nf4Weight w = Nf4Weight.quantize(gaussian(3 * 101, 5, 1), 3, 101, true);
        float[] all = w.dequantize();
        for (int from : new int[]{0, 1, 63, 64, 65, 100, 201}) {
            for (int count : new int[]{0, 1, 2, 63, 64, 65, 101}) {
                if (from + count > all.length) {
                    continue;
                }
                float[] part = new float[count + 1];
                w.dequantize(from, part, 1, count);
                for (int i = 0; i < count; i++) {
                    assertEquals(all[from + i], part[i + 1], 0f, "from " + from + " count " + count);
                    assertEquals(Nf4Weight.LEVELS[w.code(from + i)] * w.blockScale((from + i) / 64), part[i + 1], 0f);
                }
            }
        }
    }

    static double meanAbsDiff(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += Math.abs(a[i] - b[i]);
        }
        return s / a.length;
    }
}
