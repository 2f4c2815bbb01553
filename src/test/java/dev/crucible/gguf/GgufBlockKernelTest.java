package dev.crucible.gguf;

import dev.crucible.tensor.BlockFormat;
import dev.crucible.tensor.BlockMatrix;
import dev.crucible.tensor.Gemm;
import dev.crucible.tensor.PackedWeight;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code tensor.Gemm}'s block kernels on real blocks: every quantised matrix of the kquant fixture's q8_0, q4_0,
 * q4_k_m, q5_k_m and q6_k files (byte-identical to llama.cpp's, see {@link GgufExportTest}; Q8_0, Q4_0, Q4_K, Q5_K
 * and Q6_K blocks, and Q5_0 / Q5_1 where llama-quantize falls back for rows that are not whole super-blocks), and
 * for Q4_1, which no preset writes, the q8_0 file's matrices quantised by the port of ggml's reference quantiser:
 * multiplied in its blocks, against the product of its dequantisation ({@link BlockQuant}, checked against gguf-py
 * by {@link GgufDequantizeTest}) computed in double precision.
 *
 * <p>Tolerance: the kernel sums in float32 (16 lanes, then a pairwise lane sum: chains of cols/16 + 4 roundings,
 * about 24 for these 256- and 320-value rows) and scales each (sub-)block sum once instead of each value, and for
 * Q4_K / Q5_K subtracts the minimum's term (dmin·m·Σx) from the scaled sum, so the error is relative to the sizes of
 * both terms, not to their difference. The bound is 64·2^-24 ≈ 3.8e-6 of Σ_i (|w_i| + μ)·|x_i|, where μ is the
 * largest |dmin·m| of the row's sub-blocks (0 for formats without minimum); the measured worst case is printed.
 *
 * <p>Where the native kernels multiply a format (Q4_K, Q5_K, Q6_K, Q8_0; {@code Gemm.nativeBlockKernel}), the
 * activations are rounded to 8 bits per block of 256 (Q8_0: 32) first (step max|x| / 127), and the result is the
 * dequantised row times the rounded activations: the error adds up to half a step per value, so the bound adds
 * Σ_i |w_i|·step_i / 2.
 */
class GgufBlockKernelTest {
    @TempDir
    Path tmp;

    private static final double TOLERANCE = 64 * 0x1p-24;

    @Test
    void everyKernelMatchesTheDequantisedProductOnRealBlocks() {
        Path model = GgufFixtures.assemble("kquant", tmp.resolve("models"));
        Map<BlockFormat, Integer> checked = new EnumMap<>(BlockFormat.class);
        Map<BlockFormat, Double> worst = new EnumMap<>(BlockFormat.class);
        List<String> wrong = new ArrayList<>();
        for (OutType type : List.of(OutType.Q8_0, OutType.Q4_0, OutType.Q4_K_M, OutType.Q5_K_M, OutType.Q6_K)) {
            Path out = tmp.resolve("kquant." + type + ".gguf");
            GgufExport.export(model, Map.of(type, out), GgufFixtures.pre("kquant"), GgufExportTest.quiet());
            try (GgufModel m = GgufModel.open(out)) {
                for (String name : m.names()) {
                    BlockMatrix b = m.blocks(name);
                    if (b == null) {
                        continue;
                    }
                    float[] w = m.tensor(name).toFloatArray();
                    double ratio = compare(name + " (" + type + ", " + b.format() + ")", b, w, wrong);
                    checked.merge(b.format(), 1, Integer::sum);
                    worst.merge(b.format(), ratio, Math::max);
                }
            }
        }
        // formats no preset writes here (Q4_1): the q8_0 file's matrices quantised by ggml's reference quantiser
        try (GgufModel m = GgufModel.open(tmp.resolve("kquant." + OutType.Q8_0 + ".gguf"))) {
            for (BlockFormat format : EnumSet.complementOf(EnumSet.copyOf(checked.keySet()))) {
                BlockQuant q = BlockQuant.of(GgmlType.valueOf(format.name()));
                for (String name : m.names()) {
                    BlockMatrix source = m.blocks(name);
                    if (source == null) {
                        continue;
                    }
                    float[] values = m.tensor(name).toFloatArray();
                    byte[] bytes = new byte[Math.toIntExact(source.rows() * format.rowBytes(source.cols()))];
                    q.quantize(values, 0, values.length, bytes, 0);
                    float[] w = new float[values.length];
                    q.dequantize(bytes, 0, w, 0, w.length);
                    BlockMatrix b = new BlockMatrix(format, source.rows(), source.cols(), MemorySegment.ofArray(bytes));
                    double ratio = compare(name + " (quantised to " + format + ")", b, w, wrong);
                    checked.merge(format, 1, Integer::sum);
                    worst.merge(format, ratio, Math::max);
                }
            }
        }
        System.out.println("block kernels: matrices checked " + checked + ", worst |error| / bound scale " + worst);
        assertEquals(EnumSet.allOf(BlockFormat.class), checked.keySet(), "every format met on real blocks");
        assertEquals(List.of(), wrong);
    }

    /**
     * Loading a quantised GGUF keeps its matrices in their blocks: the bytes a decode step streams are the file's
     * bytes of those tensors (q4_k_m: Q4_K, Q6_K and the Q5_0 fallback; q5_k_m: Q5_K, Q6_K, Q5_1), not four bytes
     * per weight.
     */
    @Test
    void theRuntimeStreamsTheFilesBlocks() {
        Path model = GgufFixtures.assemble("kquant", tmp.resolve("models"));
        for (OutType type : List.of(OutType.Q8_0, OutType.Q4_K_M, OutType.Q5_K_M)) {
            Path out = tmp.resolve("kquant." + type + ".gguf");
            GgufExport.export(model, Map.of(type, out), GgufFixtures.pre("kquant"), GgufExportTest.quiet());
            long fileBytes = 0;
            long weights = 0;
            try (GgufModel m = GgufModel.open(out)) {
                boolean tied = !m.file().tensors().containsKey("output.weight");
                for (GgufTensorInfo t : m.file().tensors().values()) {
                    if (t.dims().length == 2 && (tied || !t.name().equals("token_embd.weight"))) {
                        assertNotNull(BlockFormat.ofGgmlName(t.type().name()), t.name() + " has a kernel");
                        fileBytes += t.bytes();
                        weights += t.elements();
                    }
                }
            }
            try (dev.crucible.model.Transformer runtime = GgufModel.transformer(out)) {
                assertEquals(fileBytes, runtime.weights().matrixBytes(), type + ": " + weights + " weights");
            }
        }
    }

    /** One matrix against 3 random activation rows; returns the largest |error| / scale. */
    private static double compare(String what, BlockMatrix b, float[] w, List<String> wrong) {
        int n = b.rows();
        int k = b.cols();
        int m = 3;
        SplittableRandom r = new SplittableRandom(n * 31L + k);
        float[] x = new float[m * k];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        PackedWeight packed = PackedWeight.blocks(b);
        assertNotNull(packed, "this machine's vectors suit the kernels");
        float[] y = new float[m * n];
        Gemm.linear(x, m, packed, null, y);
        float[] single = new float[n];
        double worst = 0;
        for (int row = 0; row < m; row++) {
            float[] xr = java.util.Arrays.copyOfRange(x, row * k, (row + 1) * k);
            int block = b.format() == BlockFormat.Q8_0 ? 32 : 256; // the native kernels' activation blocks
            double[] step = new double[(k + block - 1) / block];
            for (int p = 0; Gemm.nativeBlockKernel(b.format()) && p < k; p++) {
                step[p / block] = Math.max(step[p / block], Math.abs(xr[p]) / 127.0);
            }
            Gemm.linear(xr, 1, packed, null, single);
            for (int j = 0; j < n; j++) {
                if (Float.floatToIntBits(single[j]) != Float.floatToIntBits(y[row * n + j])) {
                    wrong.add(what + ": row " + row + " output " + j + " differs alone and in a batch");
                    return worst;
                }
                double exact = 0;
                double scale = 0;
                double rounding = 0;
                double mu = minimumBound(b, j, w, k);
                for (int p = 0; p < k; p++) {
                    exact += (double) w[j * k + p] * x[row * k + p];
                    scale += (Math.abs(w[j * k + p]) + mu) * Math.abs(x[row * k + p]);
                    rounding += Math.abs(w[j * k + p]) * step[p / block] / 2;
                }
                double ratio = Math.abs(y[row * n + j] - exact) / (scale + rounding / TOLERANCE);
                worst = Math.max(worst, ratio);
                if (ratio > TOLERANCE) {
                    wrong.add(what + ": row " + row + " output " + j + " " + y[row * n + j] + " vs " + exact
                            + " (error " + ratio + " of " + scale + ")");
                    return worst;
                }
            }
        }
        assertTrue(worst > 0 || n == 0, what + ": some rounding expected");
        return worst;
    }

    /** For Q4_K / Q5_K about the largest dmin·m of row j: the negated smallest value (at most that, so stricter). */
    private static double minimumBound(BlockMatrix b, int j, float[] w, int k) {
        if (b.format() != BlockFormat.Q4_K && b.format() != BlockFormat.Q5_K) {
            return 0;
        }
        double mu = 0;
        for (int p = 0; p < k; p++) {
            mu = Math.max(mu, -w[j * k + p]); // value = d·sc·q − dmin·m with q ≥ 0: at q = 0 it is −dmin·m
        }
        return Math.max(mu, 0);
    }
}
