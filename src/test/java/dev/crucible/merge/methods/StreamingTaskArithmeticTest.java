package dev.crucible.merge.methods;

import dev.crucible.merge.MergeInputs;
import dev.crucible.merge.MergeMethods;
import dev.crucible.tensor.CounterRandom;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static dev.crucible.merge.methods.MergekitFixtures.p;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** The chunked path of ties/dare/task_arithmetic equals the whole-tensor sparsify-then-combine computation. */
class StreamingTaskArithmeticTest {
    static final long[] SHAPE = {300, 301}; // several chunks, not a multiple of the chunk

    @Test
    void chunkedMergesEqualWholeTensorReference() {
        for (DType dt : new DType[] {DType.BF16, DType.F32}) {
            for (String method : new String[] {"ties", "dare_ties", "dare_linear", "task_arithmetic"}) {
                for (boolean rescale : new boolean[] {false, true}) {
                    check(method, dt, rescale);
                }
            }
        }
    }

    static void check(String method, DType dt, boolean rescale) {
        int n = (int) (SHAPE[0] * SHAPE[1]);
        Random r = new Random(method.hashCode() + dt.ordinal());
        List<float[]> in = new ArrayList<>();
        for (int m = 0; m < 3; m++) {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = Rounding.round(dt, (float) r.nextGaussian() * (m == 0 ? 0.02f : 0.01f) + (m == 0 ? 0 : 0.001f));
            }
            if (m > 0) {
                for (int i = 0; i < n; i++) {
                    v[i] = Rounding.round(dt, in.get(0)[i] + v[i]);
                }
            }
            in.add(v);
        }
        double[] density = {1, 0.4, 0.65};
        float[] weight = {0, Rounding.scalar(dt, 0.6), Rounding.scalar(dt, -0.3)};
        var method0 = MergeMethods.get(method);
        List<Map<String, Object>> mp = new ArrayList<>();
        List<Tensor> tensors = new ArrayList<>();
        for (int m = 0; m < 3; m++) {
            mp.add(MergekitFixtures.withDefaults(method0.modelParameters(),
                    m == 0 ? p() : p("weight", m == 1 ? 0.6 : -0.3, "density", density[m])));
            tensors.add(Tensor.fromFloats(dt, in.get(m), SHAPE));
        }
        Map<String, Object> global = MergekitFixtures.withDefaults(method0.globalParameters(),
                p("rescale", rescale, "lambda", 0.75, "normalize", true));
        float[] actual = method0.merge(new MergeInputs("w", List.of("b", "x", "y"), tensors, 0, mp, global, dt, 5))
                .toFloatArray();

        boolean consensus = method.contains("ties");
        float[][] weighted = new float[2][];
        for (int m = 1; m < 3; m++) {
            float[] d = new float[n];
            for (int i = 0; i < n; i++) {
                d[i] = Rounding.round(dt, in.get(m)[i] - in.get(0)[i]);
            }
            if (method.equals("ties")) {
                Sparsify.magnitude(d, n, density[m], rescale, dt);
            } else if (method.startsWith("dare")) {
                Sparsify.bernoulli(d, n, density[m], rescale, dt, CounterRandom.streamKey(5, "w", m));
            }
            for (int i = 0; i < n; i++) {
                d[i] = Rounding.round(dt, d[i] * weight[m]);
            }
            weighted[m - 1] = d;
        }
        var settings = new GeneralizedTaskArithmetic.Settings(0, new int[] {1, 2}, new float[] {weight[1], weight[2]},
                new double[] {density[1], density[2]}, new double[2], true, rescale, 0.75);
        float[] expected = new float[n];
        GeneralizedTaskArithmetic.combine(dt, settings, consensus, in.get(0), weighted, 0, n, expected);
        assertArrayEquals(expected, actual, method + " " + dt + " rescale=" + rescale);
    }
}
