package dev.crucible.train;

import dev.crucible.io.SafetensorsFile;
import dev.crucible.autograd.Parameter;
import dev.crucible.peft.LoraAdapter;
import dev.crucible.peft.LoraModule;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AdamWTest {
    static final Path ADAPTERS = Path.of("testdata/hf/adapters");

    /** The adapter's parameters under PEFT's in-memory names, with the fixture's gradients loaded. */
    static List<Parameter> adapterParameters(LoraAdapter adapter, SafetensorsFile ref) {
        List<Parameter> params = new ArrayList<>();
        for (LoraModule m : adapter.modules().values()) {
            params.add(new Parameter(LoraAdapter.parameterName(m.path(), LoraAdapter.Part.A), m.a(), m.r(), m.in()));
            params.add(new Parameter(LoraAdapter.parameterName(m.path(), LoraAdapter.Part.B), m.b(), m.out(), m.r()));
            if (m.isDora()) {
                params.add(new Parameter(LoraAdapter.parameterName(m.path(), LoraAdapter.Part.MAGNITUDE), m.magnitude(), m.out()));
            }
        }
        for (Parameter p : params) {
            float[] g = ref.tensor("grad." + p.name()).toFloatArray();
            System.arraycopy(g, 0, p.grad(), 0, g.length);
        }
        return params;
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora", "rslora", "dora"})
    void oneStepReproducesTorchAdamW(String kind) {
        LoraAdapter adapter = LoraAdapter.load(ADAPTERS.resolve(kind));
        try (SafetensorsFile ref = SafetensorsFile.open(ADAPTERS.resolve(kind).resolve("reference.safetensors"))) {
            List<Parameter> params = adapterParameters(adapter, ref);
            assertEquals(kind.equals("dora") ? 63 : 42, params.size());
            assertEquals(params.size(), ref.tensors().keySet().stream().filter(n -> n.startsWith("grad.")).count());
            new AdamW(0.9, 0.999, 1e-8, 0.01).step(params, 1e-3);
            double worst = 0;
            for (Parameter p : params) {
                float[] want = ref.tensor("after_adamw." + p.name()).toFloatArray();
                for (int i = 0; i < want.length; i++) {
                    double rel = Math.abs(p.data()[i] - want[i]) / Math.max(Math.abs(want[i]), 1e-6);
                    worst = Math.max(worst, rel);
                    assertTrue(rel <= 1e-5, p.name() + "[" + i + "]: " + p.data()[i] + " vs " + want[i]);
                }
            }
            assertTrue(worst < 1e-5, "worst relative error " + worst);
            System.out.println(kind + ": worst relative error after one AdamW step " + worst);
        }
    }

    @Test
    void laterStepsFollowTheAdamRecurrence() {
        // f(w) = 0.5 w^2 has gradient w; check three steps against the formulas evaluated in double
        Parameter p = new Parameter("w", new float[]{1.5f, -0.25f}, 2);
        AdamW opt = new AdamW(0.8, 0.95, 1e-6, 0.1);
        double[] w = {1.5, -0.25};
        double[] m = new double[2];
        double[] v = new double[2];
        for (int t = 1; t <= 3; t++) {
            double lr = 0.05 * t;
            for (int i = 0; i < 2; i++) {
                p.grad()[i] = p.data()[i];
                double g = w[i];
                w[i] *= 1 - lr * 0.1;
                m[i] = 0.8 * m[i] + 0.2 * g;
                v[i] = 0.95 * v[i] + 0.05 * g * g;
                double mHat = m[i] / (1 - Math.pow(0.8, t));
                w[i] -= lr * mHat / (Math.sqrt(v[i]) / Math.sqrt(1 - Math.pow(0.95, t)) + 1e-6);
            }
            opt.step(List.of(p), lr);
            assertEquals(t, opt.state(p).step());
            for (int i = 0; i < 2; i++) {
                assertEquals(w[i], p.data()[i], 1e-6 * Math.abs(w[i]), "step " + t);
            }
        }
    }

    @Test
    void clippingScalesAllGradientsToTheGlobalNorm() {
        Parameter a = new Parameter("a", new float[2], 2);
        Parameter b = new Parameter("b", new float[1], 1);
        a.grad()[0] = 3;
        a.grad()[1] = 0;
        b.grad()[0] = 4;
        double norm = GradientClipping.clip(List.of(a, b), 1.0);
        assertEquals(5.0, norm, 1e-12);
        assertEquals(1.0, GradientClipping.globalNorm(List.of(a, b)), 1e-6);
        assertArrayEquals(new float[]{0.6f, 0f}, a.grad(), 1e-6f);
        assertEquals(0.8f, b.grad()[0], 1e-6f);
        assertEquals(1.0, GradientClipping.clip(List.of(a, b), 10.0), 1e-6);
        assertEquals(0.8f, b.grad()[0], 1e-6f, "below the limit nothing changes");
    }

    @Test
    void accumulationAveragesOverAllTokensOfTheEffectiveBatch() {
        // per-token loss (w - t)^2 / 2 with gradient (w - t); micro-batches of 1, 3 and 2 tokens
        float[][] targets = {{1f}, {2f, 0f, -1f}, {4f, 3f}};
        Parameter w = new Parameter("w", new float[]{0.5f}, 1);
        GradientAccumulation acc = new GradientAccumulation(3);
        boolean due = false;
        for (float[] batch : targets) {
            for (float t : batch) {
                w.grad()[0] += w.data()[0] - t;
            }
            due = acc.record(batch.length);
        }
        assertTrue(due);
        assertEquals(6, acc.finish(List.of(w)));
        assertEquals(0.5 - (1 + 2 + 0 - 1 + 4 + 3) / 6.0, w.grad()[0], 1e-6, "mean over all 6 tokens");
        assertEquals(0, acc.pending());
        assertThrows(IllegalArgumentException.class, () -> new GradientAccumulation(0));
    }

    @Test
    void schedulesMatchTransformersWarmupFormulas() {
        LrSchedule constant = LrSchedule.of("constant", 10, 100);
        LrSchedule linear = LrSchedule.of("linear", 10, 100);
        LrSchedule cosine = LrSchedule.of("cosine", 10, 100);
        assertEquals(0.0, linear.factor(0));
        assertEquals(0.5, constant.factor(5));
        assertEquals(0.5, linear.factor(5));
        assertEquals(0.5, cosine.factor(5));
        assertEquals(1.0, constant.factor(10));
        assertEquals(1.0, constant.factor(99));
        assertEquals(1.0, linear.factor(10));
        assertEquals(0.5, linear.factor(55), 1e-12);
        assertEquals(0.1, linear.factor(91), 1e-12);
        assertEquals(0.0, linear.factor(100));
        assertEquals(0.0, linear.factor(120), "never negative after the end");
        assertEquals(1.0, cosine.factor(10), 1e-12);
        assertEquals(0.5 * (1 + Math.cos(Math.PI / 4)), LrSchedule.of("cosine", 10, 110).factor(35), 1e-12);
        assertEquals((2 + Math.sqrt(2)) / 4, LrSchedule.of("cosine", 0, 4).factor(1), 1e-12);
        assertEquals(0.5, cosine.factor(55), 1e-12);
        assertEquals(0.0, cosine.factor(100), 1e-12);
        assertEquals(1.0, LrSchedule.of("constant", 0, 100).factor(0));
        assertThrows(dev.crucible.CrucibleException.class, () -> LrSchedule.of("polynomial", 0, 10));
    }
}
