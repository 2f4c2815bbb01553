package dev.crucible.tensor;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The native k-quant kernels against a scalar Java statement of the same arithmetic ({@link #q4K} and {@link #q6K}
 * below: exact integer sums per lane, then the same float operations in the same order), bit for bit, for every
 * instruction set this CPU runs; and {@link Int8Activations}' rounding against {@code Math.rint}. How close the
 * results are to the float product of the dequantised weights is checked on real llama-quantize blocks by
 * {@code GgufBlockKernelTest}.
 */
class NativeBlockKernelsTest {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** The build compiles the library wherever it can: on Linux x86-64 with a C compiler it must be in use. */
    @Test
    void theBuildShipsTheLibraryWhereACompilerIs() {
        boolean buildable = System.getProperty("os.name").equals("Linux") && System.getProperty("os.arch").equals("amd64")
                && (Files.isExecutable(Path.of("/usr/bin/cc")) || Files.isExecutable(Path.of("/usr/bin/gcc")));
        Assumptions.assumeTrue(buildable, "no C compiler or not Linux x86-64: the Java kernels run");
        assertTrue(NativeBlockKernels.class.getResource("/native/linux-x86_64/libcrucible_blocks.so") != null,
                "src/main/c/build.sh built the library into the classes");
        boolean avx2 = cpuFlags().contains(" avx2 ") && cpuFlags().contains(" fma ") && cpuFlags().contains(" f16c ");
        Assumptions.assumeTrue(avx2, "this CPU lacks AVX2, FMA or F16C");
        Assumptions.assumeFalse("off".equals(System.getProperty("crucible.native.kernels")), "turned off for this run");
        assertTrue(Gemm.blockKernels().startsWith("native "), Gemm.blockKernels());
        assertTrue(Gemm.nativeBlockKernel(BlockFormat.Q4_K) && Gemm.nativeBlockKernel(BlockFormat.Q5_K)
                && Gemm.nativeBlockKernel(BlockFormat.Q6_K));
        assertTrue(Gemm.nativeBlockKernel(BlockFormat.Q8_0));
        assertFalse(Gemm.nativeBlockKernel(BlockFormat.Q4_0));
        assertEquals(NativeBlockKernels.Isa.AVX2, NativeBlockKernels.variants().getLast().isa());
    }

    @Test
    void everyVariantComputesTheStatedArithmeticBitForBit() {
        List<NativeBlockKernels.Variant> variants = NativeBlockKernels.variants();
        Assumptions.assumeFalse(variants.isEmpty(), NativeBlockKernels.status());
        SplittableRandom random = new SplittableRandom(7);
        int checked = 0;
        for (BlockFormat f : List.of(BlockFormat.Q4_K, BlockFormat.Q5_K, BlockFormat.Q6_K, BlockFormat.Q8_0)) {
            for (int cols : new int[] {256, 768}) {
                int rows = 5;
                // groups of 4 activation rows (prefill's pass), 2 alone, and more rows than one native call takes
                int m = NativeBlockKernels.CALL_ROWS + 6;
                byte[] w = randomBlocks(f, rows, cols, random);
                float[] x = new float[m * cols];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) (random.nextGaussian() * (i % 256 == 7 ? 9 : 1)); // an outlier per block
                }
                java.util.Arrays.fill(x, cols, cols + 256, 0f); // a block of zeros: scale 0
                Int8Activations a = Int8Activations.of(x, m, cols, NativeBlockKernels.roundingBlock(f));
                float[] expected = new float[m * rows];
                for (int r = 0; r < m; r++) {
                    for (int j = 0; j < rows; j++) {
                        ByteBuffer row = ByteBuffer.wrap(w, Math.toIntExact(j * f.rowBytes(cols)),
                                Math.toIntExact(f.rowBytes(cols))).slice().order(LE);
                        expected[r * rows + j] = f == BlockFormat.Q6_K ? q6K(row, cols, a, r)
                                : f == BlockFormat.Q8_0 ? q80(row, cols, a, r)
                                : q45K(row, cols, a, r, f == BlockFormat.Q5_K);
                    }
                }
                for (NativeBlockKernels.Variant v : variants) {
                    // rows 1-4 into a wider output at an offset, as a task of a bigger product writes them
                    int stride = rows + 3;
                    float[] out = new float[2 + m * stride];
                    long off = f.rowBytes(cols);
                    NativeBlockKernels.rows(v, f, MemorySegment.ofArray(w), off, rows - 1, cols, a, m, out, 2 + 1, stride);
                    for (int r = 0; r < m; r++) {
                        for (int j = 1; j < rows; j++) {
                            assertEquals(Float.floatToIntBits(expected[r * rows + j]),
                                    Float.floatToIntBits(out[2 + r * stride + j]),
                                    v.isa() + " " + f + " cols " + cols + " row " + j + " x row " + r + ": "
                                            + out[2 + r * stride + j] + " vs " + expected[r * rows + j]);
                            checked++;
                        }
                        assertEquals(0f, out[2 + r * stride], "row 0 not asked for, left alone");
                    }
                }
            }
        }
        assertEquals(variants.size() * 4 * 2 * (NativeBlockKernels.CALL_ROWS + 6) * 4, checked);
    }

    @Test
    void activationsAreRoundedToTheNearestStepOfTheirBlock() {
        SplittableRandom random = new SplittableRandom(3);
        int cols = 512;
        float[] x = new float[2 * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        x[300] = -40f;
        for (int block : new int[] {256, 32}) { // the k-quants' blocks, and Q8_0's
            Int8Activations r = Int8Activations.of(x, 2, cols, block);
            for (int b = 0; b < 2 * cols / block; b++) {
                float amax = 0;
                for (int i = 0; i < block; i++) {
                    amax = Math.max(amax, Math.abs(x[block * b + i]));
                }
                float inverse = 127 / amax;
                assertEquals(1 / inverse, r.scales()[b]);
                for (int i = 0; i < block; i++) {
                    int p = block * b + i;
                    assertEquals((byte) Math.rint(x[p] * inverse), r.q()[p], "block of " + block + ", value " + p);
                }
            }
        }
        Int8Activations a = Int8Activations.of(x, 2, cols);
        assertEquals(-127, a.q()[300], "the block's largest magnitude is a full step count");
        for (int group : new int[] {16, 32}) {
            int[] sums = new int[x.length / group];
            for (int i = 0; i < x.length; i++) {
                sums[i / group] += a.q()[i];
            }
            for (int g = 0; g < sums.length; g++) {
                assertEquals(sums[g], group == 16 ? a.sums16()[g] : a.sums32()[g], "sum of " + group + " #" + g);
            }
        }
        float[] zeros = new float[256];
        Int8Activations z = Int8Activations.of(zeros, 1, 256);
        assertArrayEquals(new float[1], z.scales());
        assertArrayEquals(new byte[256], z.q());
        assertArrayEquals(new short[16], z.sums16());
        assertNull(Int8Activations.of(zeros, 1, 256, 32).sums16(), "blocks of 32 (Q8_0) need no sums");
        x[700] = Float.NaN;
        assertNull(Int8Activations.of(x, 2, cols), "a NaN: the Java kernels carry it");
        x[700] = Float.POSITIVE_INFINITY;
        assertNull(Int8Activations.of(x, 2, cols));
        assertNull(Int8Activations.of(new float[320], 1, 320), "not whole blocks of 256");
    }

    /** Random blocks with moderate float16 scales (random bytes as f16 could be NaN or huge). */
    private static byte[] randomBlocks(BlockFormat f, int rows, int cols, SplittableRandom random) {
        byte[] w = new byte[Math.toIntExact(rows * f.rowBytes(cols))];
        random.nextBytes(w);
        ByteBuffer b = ByteBuffer.wrap(w).order(LE);
        for (int p = 0; p < w.length; p += f.typeSize) {
            short d = Float.floatToFloat16((float) (0.001 + 0.02 * random.nextDouble()));
            if (f == BlockFormat.Q8_0) {
                b.putShort(p, d);
            } else if (f != BlockFormat.Q6_K) {
                b.putShort(p, d);
                b.putShort(p + 2, Float.floatToFloat16((float) (0.001 + 0.01 * random.nextDouble())));
            } else {
                b.putShort(p + 208, d);
            }
        }
        return w;
    }

    /** The 8 lanes summed as the kernels do: ((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7)). */
    private static float laneSum(float[] v) {
        return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
    }

    /**
     * Q4_K (Q5_K: with a fifth bit): per super-block, lane l (of 8) sums sc_j · Σ q·xq over values 4l..4l+3 of each
     * 32-value sub-block j (exact integers), converted and multiplied-added with d·scale; the minimums' lane j
     * converts m_j·Σxq of sub-block j and multiplies-adds it with dmin·scale; the result is the lanes' sum minus the
     * minimums' lanes' sum.
     */
    private static float q45K(ByteBuffer row, int cols, Int8Activations a, int r, boolean five) {
        float[] acc = new float[8];
        float[] mins = new float[8];
        int nibbles = five ? 48 : 16;
        for (int k = 0; k < cols / 256; k++) {
            int b = (five ? 176 : 144) * k;
            float d = Float.float16ToFloat(row.getShort(b));
            float dmin = Float.float16ToFloat(row.getShort(b + 2));
            int[] sc = new int[8];
            int[] mn = new int[8];
            for (int j = 0; j < 8; j++) {
                int s = row.get(b + 4 + j) & 0xFF;
                if (j < 4) {
                    sc[j] = s & 63;
                    mn[j] = row.get(b + 8 + j) & 63;
                } else { // ggml's get_scale_min_k4
                    sc[j] = (row.get(b + 8 + j) & 0x0F) | ((row.get(b + j) & 0xFF) >> 6) << 4;
                    mn[j] = ((row.get(b + 8 + j) & 0xFF) >> 4) | ((row.get(b + 4 + j) & 0xFF) >> 6) << 4;
                }
            }
            int[] isum = new int[8];
            for (int i = 0; i < 4; i++) {
                for (int l = 0; l < 8; l++) {
                    int lo = 0;
                    int hi = 0;
                    for (int t = 0; t < 4; t++) {
                        int q = row.get(b + nibbles + 32 * i + 4 * l + t) & 0xFF;
                        int h = five ? row.get(b + 16 + 4 * l + t) & 0xFF : 0; // value 4l + t's fifth bits
                        int xo = r * cols + 256 * k + 64 * i + 4 * l + t;
                        lo += ((q & 0x0F) | (h >> 2 * i & 1) << 4) * a.q()[xo];
                        hi += ((q >> 4) | (h >> 2 * i + 1 & 1) << 4) * a.q()[xo + 32];
                    }
                    isum[l] += lo * sc[2 * i] + hi * sc[2 * i + 1];
                }
            }
            float xscale = a.scales()[r * (cols / 256) + k];
            for (int l = 0; l < 8; l++) {
                mins[l] = Math.fma((float) (mn[l] * a.sums32()[r * (cols / 32) + 8 * k + l]), dmin * xscale, mins[l]);
                acc[l] = Math.fma((float) isum[l], d * xscale, acc[l]);
            }
        }
        return laneSum(acc) - laneSum(mins);
    }

    /**
     * Q6_K: per super-block, lane l (of 8) starts at −32·sc_g times the sum of group g's xq for its two groups of
     * 16, g = 2l and 2l + 1, then adds for each 32 values c its scale times Σ q·xq over values 4l..4l+3 (q the
     * unsigned 6-bit value); the lanes are converted and multiplied-added with d·scale; the result is their sum.
     */
    private static float q6K(ByteBuffer row, int cols, Int8Activations a, int r) {
        float[] acc = new float[8];
        for (int k = 0; k < cols / 256; k++) {
            int b = 210 * k;
            int[] isum = new int[8];
            for (int l = 0; l < 8; l++) {
                for (int g = 2 * l; g < 2 * l + 2; g++) {
                    isum[l] += -32 * row.get(b + 192 + g) * a.sums16()[r * (cols / 16) + 16 * k + g];
                }
            }
            for (int n = 0; n < 2; n++) {
                for (int c = 0; c < 4; c++) {
                    for (int l = 0; l < 8; l++) {
                        int base = r * cols + 256 * k + 128 * n + 32 * c + 4 * l;
                        int lane = 0;
                        for (int t = 0; t < 4; t++) {
                            int e = 4 * l + t; // value e of the 32
                            int low = row.get(b + 64 * n + (c % 2 == 0 ? 0 : 32) + e) & 0xFF;
                            int high = row.get(b + 128 + 32 * n + e) & 0xFF;
                            int q = (c < 2 ? low & 0x0F : low >> 4) | (high >> 2 * c & 3) << 4;
                            lane += q * a.q()[base + t];
                        }
                        isum[l] += lane * row.get(b + 192 + 8 * n + 2 * c + l / 4);
                    }
                }
            }
            float scale = Float.float16ToFloat(row.getShort(b + 208)) * a.scales()[r * (cols / 256) + k];
            for (int l = 0; l < 8; l++) {
                acc[l] = Math.fma((float) isum[l], scale, acc[l]);
            }
        }
        return laneSum(acc);
    }

    /**
     * Q8_0: per block of 32, lane l (of 8) sums w·xq over values 4l..4l+3 (exact integers), converted and
     * multiplied-added with d·scale (one activation scale per 32 values); the result is the lanes' sum.
     */
    private static float q80(ByteBuffer row, int cols, Int8Activations a, int r) {
        float[] acc = new float[8];
        for (int k = 0; k < cols / 32; k++) {
            int b = 34 * k;
            float scale = Float.float16ToFloat(row.getShort(b)) * a.scales()[r * (cols / 32) + k];
            for (int l = 0; l < 8; l++) {
                int lane = 0;
                for (int t = 0; t < 4; t++) {
                    lane += row.get(b + 2 + 4 * l + t) * a.q()[r * cols + 32 * k + 4 * l + t];
                }
                acc[l] = Math.fma((float) lane, scale, acc[l]);
            }
        }
        return laneSum(acc);
    }

    private static String cpuFlags() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("flags")) {
                    return " " + line.substring(line.indexOf(':') + 1).trim() + " ";
                }
            }
        } catch (java.io.IOException e) {
            return "";
        }
        return "";
    }
}
