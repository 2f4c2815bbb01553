package dev.crucible.nn;

import dev.crucible.autograd.FrozenWeight;
import dev.crucible.autograd.LoraOps;
import dev.crucible.autograd.Ops;
import dev.crucible.autograd.Tape;
import dev.crucible.autograd.Var;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every op's backward against central finite differences of its forward (float32, so tolerances are ~1e-3). */
class OpsGradientTest {
    static float[] random(int n, long seed, double scale) {
        Random r = new Random(seed);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) (r.nextGaussian() * scale);
        }
        return out;
    }

    /** {@code sum(y · weights)} as a scalar Var, so that backward seeds y's gradient with {@code weights}. */
    static Var weightedSum(Tape tape, Var y, float[] weights) {
        double s = 0;
        for (int i = 0; i < y.size(); i++) {
            s += (double) y.value()[i] * weights[i];
        }
        Var loss = new Var(new float[]{(float) s}, true, 1);
        tape.record(() -> {
            for (int i = 0; i < y.size(); i++) {
                y.grad()[i] += loss.grad()[0] * weights[i];
            }
        });
        return loss;
    }

    static double weightedSumDouble(Var y, float[] weights) {
        double s = 0;
        for (int i = 0; i < y.size(); i++) {
            s += (double) y.value()[i] * weights[i];
        }
        return s;
    }

    /**
     * Builds the op from {@code inputs} (leaves), backpropagates {@code sum(y·R)}, and compares the gradient of each
     * checked input with central differences.
     */
    static void check(String what, List<Var> inputs, List<Var> checked, Function<Tape, Var> op, double tol) {
        for (Var in : inputs) {
            java.util.Arrays.fill(in.grad(), 0f);
        }
        Tape tape = new Tape();
        Var y = op.apply(tape);
        float[] weights = random(y.size(), 99, 1);
        tape.backward(weightedSum(tape, y, weights));
        float eps = 1e-2f;
        for (Var in : checked) {
            int idx = inputs.indexOf(in);
            float[] v = in.value();
            double maxGrad = 0;
            for (float g : in.grad()) {
                maxGrad = Math.max(maxGrad, Math.abs(g));
            }
            assertTrue(maxGrad > 0, what + " input " + idx + " got no gradient");
            int stride = Math.max(1, v.length / 40);
            for (int i = 0; i < v.length; i += stride) {
                float old = v[i];
                v[i] = old + eps;
                double plus = weightedSumDouble(op.apply(new Tape()), weights);
                v[i] = old - eps;
                double minus = weightedSumDouble(op.apply(new Tape()), weights);
                v[i] = old;
                double numeric = (plus - minus) / (2 * eps);
                double analytic = in.grad()[i];
                assertEquals(numeric, analytic, tol * Math.max(1, maxGrad),
                        what + ": input " + idx + " element " + i);
            }
        }
    }

    @Test
    void embeddingLinearAddSilu() {
        Var table = Var.leaf(random(10 * 6, 1, 1), 10, 6);
        int[] ids = {3, 0, 3, 9};
        check("embedding", List.of(table), List.of(table), t -> Ops.embedding(t, table, ids), 1e-3);

        Var x = Var.leaf(random(5 * 7, 2, 1), 5, 7);
        Var w = Var.leaf(random(4 * 7, 3, 0.5), 4, 7);
        Var b = Var.leaf(random(4, 4, 1), 4);
        check("linear", List.of(x, w, b), List.of(x, w, b), t -> Ops.linear(t, x, w, b), 1e-3);

        Var a = Var.leaf(random(12, 5, 1), 3, 4);
        Var c = Var.leaf(random(12, 6, 1), 3, 4);
        check("add", List.of(a, c), List.of(a, c), t -> Ops.add(t, a, c), 1e-3);
        check("siluMul", List.of(a, c), List.of(a, c), t -> Ops.siluMul(t, a, c), 1e-3);
    }

    @Test
    void scaleSoftCapColumnsAndGeluTanh() {
        Var a = Var.leaf(random(3 * 8, 30, 2), 3, 8);
        Var b = Var.leaf(random(3 * 8, 31, 1), 3, 8);
        check("scale", List.of(a), List.of(a), t -> Ops.scale(t, a, 8f), 1e-3);
        check("softCap", List.of(a), List.of(a), t -> Ops.softCap(t, a, 1.5), 1e-3);
        check("columns", List.of(a), List.of(a), t -> Ops.columns(t, a, 2, 5), 1e-3);
        check("geluTanhMul", List.of(a, b), List.of(a, b), t -> Ops.geluTanhMul(t, a, b), 1e-3);
        // gelu_tanh(1) = 0.8411920
        Var one = Var.constant(new float[]{1f}, 1, 1);
        assertEquals(0.841192, Ops.geluTanhMul(new Tape(), one, one).value()[0], 1e-6);
    }

    @Test
    void moeRoutingGatherAndCombine() {
        int n = 5;
        int h = 4;
        int experts = 3;
        Var logits = Var.leaf(random(n * experts, 40, 1), n, experts);
        Var x = Var.leaf(random(n * h, 41, 1), n, h);
        List<Var> weights = List.of(Var.leaf(random(h * h, 42, 0.5), h, h), Var.leaf(random(h * h, 43, 0.5), h, h),
                Var.leaf(random(h * h, 44, 0.5), h, h));
        Function<Tape, Var> block = t -> {
            MoeOps.Routing r = MoeOps.topKSoftmax(t, logits, 2);
            List<Var> outs = new java.util.ArrayList<>();
            List<int[][]> routes = new java.util.ArrayList<>();
            for (int e = 0; e < experts; e++) {
                int[][] route = r.tokensOf(e);
                outs.add(Ops.linear(t, MoeOps.gatherRows(t, x, route[0]), weights.get(e), null));
                routes.add(route);
            }
            return MoeOps.combine(t, n, h, r.weights(), outs, routes);
        };
        List<Var> all = new java.util.ArrayList<>(List.of(logits, x));
        all.addAll(weights);
        check("moe", all, all, block, 2e-3);
        MoeOps.Routing r = MoeOps.topKSoftmax(new Tape(), logits, 2);
        for (int i = 0; i < n; i++) {
            assertEquals(1.0, r.weights().value()[2 * i] + r.weights().value()[2 * i + 1], 1e-6);
            assertTrue(logits.value()[i * experts + r.experts()[2 * i]] >= logits.value()[i * experts + r.experts()[2 * i + 1]]);
        }
    }

    @Test
    void rmsNormPlainAndOnePlusWeight() {
        Var x = Var.leaf(random(3 * 8, 7, 1), 3, 8);
        Var w = Var.leaf(random(8, 8, 0.3), 8);
        check("rmsNorm", List.of(x, w), List.of(x, w), t -> Ops.rmsNorm(t, x, w, 1e-5, false), 2e-3);
        check("rmsNorm(1+w)", List.of(x, w), List.of(x, w), t -> Ops.rmsNorm(t, x, w, 1e-6, true), 2e-3);
    }

    @Test
    void shiftLabelsPredictsTheNextTokenAndNothingAtTheEnd() {
        assertEquals(List.of(1, 2, -100, 4, 5, -100),
                java.util.Arrays.stream(Ops.shiftLabels(new int[]{0, 1, 2, 3, 4, 5}, 2, 3)).boxed().toList());
    }

    @Test
    void ropeRotatesPairsAndItsBackwardIsTheInverseRotation() {
        int seq = 5;
        int d = 8;
        float[][] tables = RopeTables.of(RotaryEmbedding.fromConfig(dev.crucible.io.ModelConfig.of(com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode().put("rope_theta", 10000.0)), d), seq, d);
        Var x = Var.leaf(random(2 * seq * 2 * d, 10, 1), 2 * seq, 2 * d);
        check("rope", List.of(x), List.of(x), t -> AttentionOps.rope(t, x, seq, d, tables), 1e-3);
        // position 0 is the identity; a rotation keeps each pair's norm
        Var y = AttentionOps.rope(new Tape(), x, seq, d, tables);
        for (int i = 0; i < 2 * d; i++) {
            assertEquals(x.value()[i], y.value()[i], 1e-7);
        }
        int tok = 3;
        double before = Math.hypot(x.value()[tok * 2 * d + 1], x.value()[tok * 2 * d + 1 + d / 2]);
        double after = Math.hypot(y.value()[tok * 2 * d + 1], y.value()[tok * 2 * d + 1 + d / 2]);
        assertEquals(before, after, 1e-5);
    }

    @Test
    void causalGroupedQueryAttentionWithWindowAndSoftCap() {
        int batch = 2;
        int seq = 5;
        int heads = 4;
        int kvHeads = 2;
        int d = 4;
        Var q = Var.leaf(random(batch * seq * heads * d, 11, 1), batch * seq, heads * d);
        Var k = Var.leaf(random(batch * seq * kvHeads * d, 12, 1), batch * seq, kvHeads * d);
        Var v = Var.leaf(random(batch * seq * kvHeads * d, 13, 1), batch * seq, kvHeads * d);
        List<Var> all = List.of(q, k, v);
        check("attention", all, all, t -> AttentionOps.attention(t, q, k, v, batch, seq, heads, kvHeads, d, 0.5, 0, 0), 2e-3);
        check("attention window 2, softcap 3", all, all,
                t -> AttentionOps.attention(t, q, k, v, batch, seq, heads, kvHeads, d, 0.5, 2, 3.0), 2e-3);
        int[] starts = AttentionOps.segmentStarts(new int[]{0, 0, 1, 1, 1, 0, 0, 0, 0, 1}, batch, seq);
        assertArrayEquals(new int[]{0, 0, 2, 2, 2, 0, 0, 0, 0, 4}, starts);
        check("attention, packed segments", all, all,
                t -> AttentionOps.attention(t, q, k, v, batch, seq, heads, kvHeads, d, 0.5, 0, 0, starts), 2e-3);
        // the first position attends only to itself: its output is its value row
        Var o = AttentionOps.attention(new Tape(), q, k, v, batch, seq, heads, kvHeads, d, 0.5, 0, 0);
        for (int i = 0; i < d; i++) {
            assertEquals(v.value()[i], o.value()[d + i], 1e-6, "head 1 uses kv head 0");
            assertEquals(v.value()[d + i], o.value()[2 * d + i], 1e-6, "head 2 uses kv head 1");
        }
    }

    @Test
    void loraAndDoraLinear() {
        int n = 6;
        int in = 10;
        int out = 7;
        int r = 3;
        Var x = Var.leaf(random(n * in, 20, 1), n, in);
        Var w = Var.leaf(random(out * in, 21, 0.3), out, in);
        Var bias = Var.leaf(random(out, 22, 0.1), out);
        Var a = Var.leaf(random(r * in, 23, 0.3), r, in);
        Var b = Var.leaf(random(out * r, 24, 0.3), out, r);
        LoraOps.Adapter lora = new LoraOps.Adapter(a, b, null, 1.5, 0);
        List<Var> all = List.of(x, w, bias, a, b);
        check("lora", all, all, t -> LoraOps.loraLinear(t, x, w, bias, lora, null), 1e-3);
        LoraOps.Adapter dropped = new LoraOps.Adapter(a, b, null, 1.5, 0.3);
        check("lora with dropout", all, List.of(x, a, b),
                t -> LoraOps.loraLinear(t, x, w, bias, dropped, new SplittableRandom(5)), 1e-3);

        // DoRA: PEFT treats the weight norm as a constant, so finite differences apply to x, bias and magnitude
        Var m = Var.leaf(random(out, 25, 0.2), out);
        for (int o = 0; o < out; o++) {
            m.value()[o] += 1.5f;
        }
        Var wFrozen = Var.constant(w.value(), out, in);
        Var aFrozen = Var.constant(a.value(), r, in);
        Var bFrozen = Var.constant(b.value(), out, r);
        LoraOps.Adapter dora = new LoraOps.Adapter(aFrozen, bFrozen, m, 1.5, 0);
        check("dora", List.of(x, bias, m), List.of(x, bias, m), t -> LoraOps.loraLinear(t, x, wFrozen, bias, dora, null), 1e-3);
        LoraOps.Adapter doraDropped = new LoraOps.Adapter(aFrozen, bFrozen, m, 1.5, 0.25);
        check("dora with dropout", List.of(x, m), List.of(x, m),
                t -> LoraOps.loraLinear(t, x, wFrozen, null, doraDropped, new SplittableRandom(8)), 1e-3);
        // with B = 0 LoRA is the identity on the base layer and DoRA with magnitude = ‖W‖ too
        Var zeroB = Var.constant(new float[out * r], out, r);
        float[] norms = LoraOps.adaptedRowNorms(FrozenWeight.dense(w.value(), out, in), a.value(), new float[out * r], 1.5f, r);
        Var base = Ops.linear(new Tape(), x, wFrozen, null);
        Var same = LoraOps.loraLinear(new Tape(), x, wFrozen, null,
                new LoraOps.Adapter(aFrozen, zeroB, Var.constant(norms, out), 1.5, 0), null);
        for (int i = 0; i < base.size(); i++) {
            assertEquals(base.value()[i], same.value()[i], 1e-5);
        }
    }
}
