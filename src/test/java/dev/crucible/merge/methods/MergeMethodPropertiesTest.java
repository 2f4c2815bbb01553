package dev.crucible.merge.methods;

import dev.crucible.CrucibleException;
import dev.crucible.merge.MergeInputs;
import dev.crucible.merge.MergeMethod;
import dev.crucible.merge.MergeMethods;
import dev.crucible.tensor.CounterRandom;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static dev.crucible.merge.methods.MergekitFixtures.p;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Mathematical properties of the methods on random tensors. */
class MergeMethodPropertiesTest {
    static final long[] SHAPE = {48, 40};
    static final int N = 48 * 40;

    static float[] gaussian(long seed, float mean, float std, DType dtype) {
        Random r = new Random(seed);
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = Rounding.round(dtype, mean + std * (float) r.nextGaussian());
        }
        return v;
    }

    static float[] plus(float[] a, float[] b, DType dtype) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = Rounding.round(dtype, a[i] + b[i]);
        }
        return out;
    }

    /** Merges: {@code tensors[baseIndex]} is the base; {@code modelParams} parallel to tensors. */
    static float[] merge(String method, DType dtype, int baseIndex, List<float[]> tensors,
                         List<Map<String, Object>> modelParams, Map<String, Object> global) {
        return run(method, dtype, baseIndex, tensors, modelParams, global, "t").toFloatArray();
    }

    static Tensor run(String method, DType dtype, int baseIndex, List<float[]> tensors,
                      List<Map<String, Object>> modelParams, Map<String, Object> global, String name) {
        MergeMethod m = MergeMethods.get(method);
        List<Tensor> ts = new ArrayList<>();
        List<String> names = new ArrayList<>();
        List<Map<String, Object>> mp = new ArrayList<>();
        for (int i = 0; i < tensors.size(); i++) {
            ts.add(Tensor.fromFloats(dtype, tensors.get(i), SHAPE));
            names.add("m" + i);
            mp.add(MergekitFixtures.withDefaults(m.modelParameters(), modelParams.get(i)));
        }
        return m.merge(new MergeInputs(name, names, ts, baseIndex, mp,
                MergekitFixtures.withDefaults(m.globalParameters(), global), dtype, 7));
    }

    @Test
    void registryHasEveryMergekitMethodAndRejectsUnknownNames() {
        assertEquals(List.of("linear", "slerp", "model_stock", "nearswap", "passthrough", "ram", "ramplus_tl", "sce",
                "nuslerp", "multislerp", "karcher", "arcee_fusion", "task_arithmetic", "ties", "dare_ties",
                "dare_linear", "breadcrumbs", "breadcrumbs_ties", "della", "della_linear").stream().sorted().toList(),
                MergeMethods.names().stream().sorted().toList());
        CrucibleException e = assertThrows(CrucibleException.class, () -> MergeMethods.get("tie"));
        assertTrue(e.getMessage().contains("'tie'") && e.getMessage().contains("dare_ties"), e.getMessage());
    }

    @Test
    void slerpAtTheEndsReturnsTheEndpoints() {
        for (DType dt : new DType[] {DType.BF16, DType.F32}) {
            float[] a = gaussian(1, 0, 0.02f, dt);
            float[] b = gaussian(2, 0, 0.02f, dt);
            assertArrayEquals(a, merge("slerp", dt, 0, List.of(a, b), List.of(p(), p()), p("t", 0.0)));
            assertArrayEquals(b, merge("slerp", dt, 0, List.of(a, b), List.of(p(), p()), p("t", 1.0)));
            // near-colinear inputs take the lerp path; it has the same ends
            float[] c = plus(a, gaussian(3, 0, 1e-5f, DType.F32), DType.F32);
            if (dt == DType.F32) {
                assertArrayEquals(c, merge("slerp", dt, 0, List.of(a, c), List.of(p(), p()), p("t", 1.0)));
            }
        }
    }

    @Test
    void slerpIsSymmetricAndKeepsTheNormBetweenOrthogonalUnitVectors() {
        float[] a = new float[N];
        float[] b = new float[N];
        a[0] = 1;
        b[1] = 1;
        float[] mid = merge("slerp", DType.F32, 0, List.of(a, b), List.of(p(), p()), p("t", 0.5));
        assertEquals(Math.sqrt(0.5), mid[0], 1e-6);
        assertEquals(Math.sqrt(0.5), mid[1], 1e-6);
    }

    @Test
    void linearWithOneModelIsThatModel() {
        float[] a = gaussian(4, 0, 0.02f, DType.BF16);
        assertArrayEquals(a, merge("linear", DType.BF16, -1, List.of(a), List.of(p("weight", 1.0)), p()));
        assertArrayEquals(a, merge("linear", DType.BF16, -1, List.of(a), List.of(p("weight", 0.25)), p()));
        float[] half = merge("linear", DType.F32, -1, List.of(a), List.of(p("weight", 0.5)), p("normalize", false));
        for (int i = 0; i < N; i++) {
            assertEquals(a[i] * 0.5f, half[i]);
        }
    }

    @Test
    void tiesWithIdenticalInputsReturnsTheInput() {
        float[] a = gaussian(5, 0, 0.02f, DType.BF16);
        float[] out = merge("ties", DType.BF16, 0, List.of(a, a, a),
                List.of(p(), p("weight", 0.6, "density", 0.5), p("weight", 0.4, "density", 0.3)), p());
        assertArrayEquals(a, out);
        // identical fine-tunes, full density: the normalised merge is that fine-tune
        float[] base = gaussian(6, 0, 0.02f, DType.F32);
        float[] ft = plus(base, gaussian(7, 0, 0.01f, DType.F32), DType.F32);
        float[] merged = merge("ties", DType.F32, 0, List.of(base, ft, ft),
                List.of(p(), p("weight", 0.5), p("weight", 0.5)), p());
        for (int i = 0; i < N; i++) {
            assertEquals(ft[i], merged[i], 1e-7f);
        }
    }

    @Test
    void tiesElectsTheSignOfTheWeightedSumAndKeepsTopKByMagnitude() {
        float[] base = new float[N];
        float[] x = new float[N];
        float[] y = new float[N];
        x[0] = 1f;
        y[0] = -3f; // weighted: 0.9·1 vs 0.1·(-3) → + wins although |y| is larger
        x[1] = 2f;
        y[1] = -2f; // weighted sum 0.9·2 − 0.1·2 > 0
        float[] out = merge("ties", DType.F32, 0, List.of(base, x, y),
                List.of(p(), p("weight", 0.9), p("weight", 0.1)), p("normalize", false));
        assertEquals(0.9f, out[0], 1e-6f);
        assertEquals(1.8f, out[1], 1e-6f);
        float[] d = gaussian(8, 0, 1, DType.F32);
        float[] kept = merge("ties", DType.F32, 0, List.of(base, d), List.of(p(), p("weight", 1.0, "density", 0.25)), p());
        long nonzero = 0;
        float smallestKept = Float.MAX_VALUE;
        float largestDropped = 0;
        for (int i = 0; i < N; i++) {
            if (kept[i] != 0) {
                nonzero++;
                assertEquals(d[i], kept[i]);
                smallestKept = Math.min(smallestKept, Math.abs(d[i]));
            } else {
                largestDropped = Math.max(largestDropped, Math.abs(d[i]));
            }
        }
        assertEquals(N / 4, nonzero);
        assertTrue(smallestKept >= largestDropped);
    }

    @Test
    void modelStockWithOrthogonalDeltasKeepsTheBaseAndWithEqualDeltasTakesTheirMean() {
        float[] base = gaussian(9, 0, 0.02f, DType.F32);
        List<float[]> in = new ArrayList<>(List.of(base));
        for (int m = 0; m < 3; m++) {
            float[] d = new float[N];
            for (int i = m; i < N; i += 3) {
                d[i] = 0.01f; // disjoint supports: exactly orthogonal
            }
            in.add(plus(base, d, DType.F32));
        }
        float[] out = merge("model_stock", DType.F32, 0, in, List.of(p(), p(), p(), p()), p());
        assertArrayEquals(base, out);
        float[] ft = plus(base, gaussian(10, 0, 0.01f, DType.F32), DType.F32);
        float[] same = merge("model_stock", DType.F32, 0, List.of(base, ft, ft, ft), List.of(p(), p(), p(), p()), p());
        for (int i = 0; i < N; i++) {
            assertEquals(ft[i], same[i], 1e-6f);
        }
    }

    @Test
    void taskArithmeticWithWeightZeroIsTheBase() {
        float[] base = gaussian(11, 0, 0.02f, DType.BF16);
        float[] ft = gaussian(12, 0, 0.02f, DType.BF16);
        assertArrayEquals(base, merge("task_arithmetic", DType.BF16, 0, List.of(base, ft),
                List.of(p(), p("weight", 0.0)), p()));
        float[] lambda = merge("task_arithmetic", DType.F32, 0, List.of(base, ft), List.of(p(), p("weight", 1.0)),
                p("lambda", 0.5));
        for (int i = 0; i < N; i++) {
            assertEquals(base[i] + (ft[i] - base[i]) * 0.5f, lambda[i], 1e-7f);
        }
    }

    @Test
    void passthroughScalesAndNearswapWithTZeroIsTheBase() {
        float[] a = gaussian(13, 0, 0.02f, DType.BF16);
        float[] scaled = merge("passthrough", DType.BF16, -1, List.of(a), List.of(p("scale", 0.5)), p());
        for (int i = 0; i < N; i++) {
            assertEquals(a[i] * 0.5f, scaled[i]);
        }
        float[] b = gaussian(14, 0, 0.02f, DType.BF16);
        assertArrayEquals(a, merge("nearswap", DType.BF16, 0, List.of(a, b), List.of(p(), p()), p("t", 0.0)));
        assertArrayEquals(b, merge("nearswap", DType.BF16, 0, List.of(a, b), List.of(p(), p()), p("t", 10.0)));
    }

    @Test
    void interpolationMethodsBetweenIdenticalModelsReturnThem() {
        float[] a = gaussian(15, 0, 0.02f, DType.F32);
        float[] b = gaussian(16, 0, 0.02f, DType.F32);
        float[] nu = merge("nuslerp", DType.F32, -1, List.of(a, a), List.of(p("weight", 0.3), p("weight", 0.7)), p());
        float[] ms = merge("multislerp", DType.F32, -1, List.of(a, a), List.of(p("weight", 0.3), p("weight", 0.7)), p());
        float[] ka = merge("karcher", DType.F32, -1, List.of(a, a, a), List.of(p(), p(), p()), p());
        for (int i = 0; i < N; i++) {
            assertEquals(a[i], nu[i], 1e-6f);
            assertEquals(a[i], ms[i], 1e-6f);
            assertEquals(a[i], ka[i], 1e-6f);
        }
        // nuslerp's t = w2/(w1+w2): weight only on the first model returns it
        assertArrayEquals(a, merge("nuslerp", DType.F32, -1, List.of(a, b), List.of(p("weight", 1.0), p("weight", 0.0)), p()));
    }

    @Test
    void ramTakesUniqueDeltasWholeAndAveragesSharedOnes() {
        float[] base = new float[N];
        float[] x = new float[N];
        float[] y = new float[N];
        x[0] = 0.5f;
        x[1] = 0.25f;
        y[1] = 0.75f;
        float[] out = merge("ram", DType.F32, 0, List.of(base, x, y), List.of(p(), p(), p()), p());
        assertEquals(0.5f, out[0]);
        assertEquals(0.5f, out[1]);
        assertEquals(0f, out[2]);
        Tensor plus = run("ramplus_tl", DType.BF16, 0, List.of(base, x, y), List.of(p(), p(), p()),
                p("r", 0.1, "alpha", 0.2), "t");
        assertEquals(DType.F32, plus.dtype());
        assertEquals(0.5f * 1.02f, plus.getFloat(0), 1e-6f); // x: 1 shared / 1 unique → rho 1 → λ = 1 + 0.1·0.2
    }

    @Test
    void randomMasksAreReproducibleAndIndependentOfChunkingAndThreads() throws Exception {
        long key = CounterRandom.streamKey(42, "model.layers.0.mlp.up_proj.weight", 1);
        assertNotEquals(key, CounterRandom.streamKey(42, "model.layers.0.mlp.up_proj.weight", 2));
        assertNotEquals(key, CounterRandom.streamKey(43, "model.layers.0.mlp.up_proj.weight", 1));
        float[] whole = new float[10000];
        for (int i = 0; i < whole.length; i++) {
            whole[i] = CounterRandom.uniform(key, i);
        }
        float[] chunked = new float[whole.length];
        for (int start = whole.length - 999; start > -999; start -= 999) { // backwards, uneven chunks
            for (int i = Math.max(0, start); i < Math.min(whole.length, start + 999); i++) {
                chunked[i] = CounterRandom.uniform(key, i);
            }
        }
        assertArrayEquals(whole, chunked);
        long below = (long) Math.ceil(0.53125 * (1 << 24));
        float[] vectorMask = new float[1003];
        CounterRandom.keepMask(key, 77, below, vectorMask, vectorMask.length);
        for (int j = 0; j < vectorMask.length; j++) {
            assertEquals(CounterRandom.uniform(key, 77 + j) < 0.53125f ? 1f : 0f, vectorMask[j], "entry " + j);
        }
        float[] base = gaussian(18, 0, 0.02f, DType.BF16);
        float[] ft = gaussian(19, 0, 0.02f, DType.BF16);
        List<Map<String, Object>> mp = List.of(p(), p("weight", 1.0, "density", 0.3));
        float[] first = merge("dare_ties", DType.BF16, 0, List.of(base, ft), mp, p());
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<float[]>> results = new ArrayList<>();
            for (int k = 0; k < 8; k++) {
                results.add(pool.submit(() -> merge("dare_ties", DType.BF16, 0, List.of(base, ft), mp, p())));
            }
            for (Future<float[]> f : results) {
                assertArrayEquals(first, f.get());
            }
        } finally {
            pool.shutdown();
        }
        float[] otherTensor = run("dare_ties", DType.BF16, 0, List.of(base, ft), mp, p(), "other").toFloatArray();
        assertTrue(!Arrays.equals(first, otherTensor), "streams are keyed by tensor name");
    }

    @Test
    void dareKeepsTheDtypeRoundedDensityAndPreservesTheL1Norm() {
        int n = 1 << 22;
        float[] d = new float[n];
        Random r = new Random(20);
        double l1 = 0;
        for (int i = 0; i < n; i++) {
            d[i] = Rounding.bf16((float) r.nextGaussian() * 0.01f);
            l1 += Math.abs(d[i]);
        }
        float[] x = d.clone();
        Sparsify.bernoulli(x, n, 0.53, true, DType.BF16, CounterRandom.streamKey(1, "w", 0));
        long kept = 0;
        double l1After = 0;
        for (int i = 0; i < n; i++) {
            kept += x[i] != 0 ? 1 : 0;
            l1After += Math.abs(x[i]);
        }
        // bf16(0.53) = 0.53125; the standard error at 4M draws is 0.00025
        assertEquals(0.53125, (double) kept / n, 0.001);
        assertEquals(1.0, l1After / l1, 0.01);
        float[] again = d.clone();
        Sparsify.bernoulli(again, n, 0.53, true, DType.BF16, CounterRandom.streamKey(1, "w", 0));
        assertArrayEquals(x, again);
    }

    @Test
    void dellaKeepProbabilityGrowsWithMagnitudeRank() {
        int rows = 64;
        int cols = 256;
        float[] d = new float[rows * cols];
        for (int i = 0; i < d.length; i++) {
            d[i] = (i % cols + 1) * 1e-3f; // rank = column
        }
        Sparsify.della(d, new long[] {rows, cols}, 0.5, 0.4, false, DType.F32, CounterRandom.streamKey(3, "w", 0));
        int lowKept = 0;
        int highKept = 0;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < 32; c++) {
                lowKept += d[r * cols + c] != 0 ? 1 : 0;
                highKept += d[r * cols + cols - 1 - c] != 0 ? 1 : 0;
            }
        }
        // expected keep probability ≈ 0.1-0.2 for the 32 smallest, ≈ 0.8-0.9 for the 32 largest
        assertTrue(lowKept < 0.25 * rows * 32, "low " + lowKept);
        assertTrue(highKept > 0.75 * rows * 32, "high " + highKept);
    }

    @Test
    void badParametersNameTheParameter() {
        float[] a = gaussian(21, 0, 0.02f, DType.BF16);
        float[] b = gaussian(22, 0, 0.02f, DType.BF16);
        assertMessage("'weight'", () -> merge("linear", DType.BF16, -1, List.of(a, b), List.of(p("weight", 1.0), p()), p()));
        assertMessage("'density'", () -> merge("ties", DType.BF16, 0, List.of(a, b),
                List.of(p(), p("weight", 1.0, "density", 1.5)), p()));
        assertMessage("'epsilon'", () -> merge("della", DType.BF16, 0, List.of(a, b),
                List.of(p(), p("weight", 1.0, "density", 0.5, "epsilon", 0.6)), p()));
        assertMessage("'gamma'", () -> merge("breadcrumbs", DType.BF16, 0, List.of(a, b),
                List.of(p(), p("weight", 1.0, "density", 0.5, "gamma", -0.1)), p()));
        assertMessage("'t'", () -> merge("slerp", DType.BF16, 0, List.of(a, b), List.of(p(), p()), p()));
        assertMessage("'normalize'", () -> merge("linear", DType.BF16, -1, List.of(a), List.of(p("weight", 1.0)),
                p("normalize", "yes")));
        assertMessage("'max_iter'", () -> merge("karcher", DType.BF16, -1, List.of(a, b), List.of(p(), p()),
                p("max_iter", 2.5)));
        assertMessage("base_model", () -> merge("ties", DType.BF16, -1, List.of(a, b),
                List.of(p("weight", 1.0), p("weight", 1.0)), p()));
        assertMessage("at least 3 models", () -> merge("model_stock", DType.BF16, 0, List.of(a, b),
                List.of(p(), p()), p()));
    }

    static void assertMessage(String fragment, org.junit.jupiter.api.function.Executable e) {
        CrucibleException ex = assertThrows(CrucibleException.class, e);
        assertTrue(ex.getMessage().contains(fragment), ex.getMessage());
    }
}
