package dev.crucible.merge.methods;

import dev.crucible.merge.methods.MergekitFixtures.Case;
import dev.crucible.merge.methods.MergekitFixtures.Comparison;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.crucible.merge.methods.MergekitFixtures.p;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Deterministic methods against mergekit's own outputs, tensor by tensor, bit for bit. */
class DeterministicFidelityTest {
    /** Asserts every tensor reaches {@code minFraction} identical entries; prints the case's numbers. */
    static void check(Case c, double minFraction) {
        List<Comparison> results = c.compare();
        long same = 0;
        long total = 0;
        double worst = 1;
        String worstName = "";
        for (Comparison r : results) {
            same += r.identical();
            total += r.total();
            if (r.fraction() < worst) {
                worst = r.fraction();
                worstName = r.tensor();
            }
        }
        System.out.printf("fidelity %-18s identical %.4f%% overall, worst tensor %.4f%% (%s), %d tensors%n",
                c.name, 100.0 * same / total, 100 * worst, worstName, results.size());
        for (Comparison r : results) {
            assertTrue(r.fraction() >= minFraction, c.name + " " + r.tensor() + ": only " + r.identical() + " of "
                    + r.total() + " identical");
        }
        assertEquals(true, total > 0);
    }

    @Test
    void linear() {
        check(new Case("linear", "linear").models("tiny-ft1", "tiny-ft2", "tiny-ft3")
                .modelParams(List.of(p("weight", 0.5), p("weight", 0.3), p("weight", 0.2))), 1.0);
    }

    @Test
    void taskArithmetic() {
        check(new Case("task_arithmetic", "task_arithmetic").base("tiny-base")
                .models("tiny-ft1", "tiny-ft2", "tiny-ft3")
                .modelParams(List.of(p(), p("weight", 0.7), p("weight", 0.5), p("weight", -0.2)))
                .global(p("normalize", false)), 1.0);
    }

    @Test
    void ties() {
        check(new Case("ties", "ties").base("tiny-base").models("tiny-ft1", "tiny-ft2", "tiny-ft3")
                .modelParams(List.of(p(), p("density", 0.5, "weight", 0.6), p("density", 0.7, "weight", 0.4),
                        p("density", 0.3, "weight", 0.3)))
                .global(p("normalize", true, "int8_mask", true)), 0.999);
    }

    @Test
    void breadcrumbs() {
        check(new Case("breadcrumbs", "breadcrumbs").base("tiny-base").models("tiny-ft1", "tiny-ft2")
                .modelParams(List.of(p(), p("density", 0.9, "gamma", 0.01, "weight", 0.5),
                        p("density", 0.8, "gamma", 0.02, "weight", 0.5))), 0.999);
    }

    @Test
    void breadcrumbsTies() {
        check(new Case("breadcrumbs_ties", "breadcrumbs_ties").base("tiny-base")
                .models("tiny-ft1", "tiny-ft2", "tiny-ft3")
                .modelParams(List.of(p(), p("density", 0.9, "gamma", 0.01, "weight", 0.5),
                        p("density", 0.8, "gamma", 0.05, "weight", 0.3),
                        p("density", 0.7, "gamma", 0.02, "weight", 0.2)))
                .global(p("normalize", true, "int8_mask", true)), 0.999);
    }

    @Test
    void slerpWithFilteredGradients() {
        check(new Case("slerp", "slerp").base("tiny-ft1").models("tiny-ft2")
                .global(t -> p("t", t.contains("self_attn") ? MergekitFixtures.gradient(t, 4, 0, 0.5, 0.3, 0.7, 1)
                        : t.contains("mlp") ? MergekitFixtures.gradient(t, 4, 1, 0.5, 0.7, 0.3, 0) : 0.5)), 0.999);
    }

    @Test
    void modelStock() {
        check(new Case("model_stock", "model_stock").base("tiny-base").models("tiny-ft1", "tiny-ft2", "tiny-ft3"),
                0.999);
    }

    @Test
    void nearswap() {
        check(new Case("nearswap", "nearswap").base("tiny-base").models("tiny-ft1").global(p("t", 0.005)), 0.999);
    }

    @Test
    void ram() {
        check(new Case("ram", "ram").base("tiny-base").models("tiny-ft1", "tiny-ft2", "tiny-ft3")
                .global(p("epsilon", 0.005)), 0.999);
    }

    @Test
    void ramplusTl() {
        check(new Case("ramplus_tl", "ramplus_tl").base("tiny-base").models("tiny-ft1", "tiny-ft2", "tiny-ft3")
                .global(p("r", 0.1, "alpha", 0.2, "epsilon", 0.005)), 0.999);
    }

    @Test
    void sce() {
        check(new Case("sce", "sce").base("tiny-base").models("tiny-ft1", "tiny-ft2", "tiny-ft3")
                .global(p("select_topk", 0.5)), 0.999);
    }

    @Test
    void nuslerp() {
        check(new Case("nuslerp", "nuslerp").models("tiny-ft1", "tiny-ft2")
                .modelParams(List.of(p("weight", 0.6), p("weight", 0.4))), 0.999);
    }

    @Test
    void multislerp() {
        check(new Case("multislerp", "multislerp").base("tiny-base").models("tiny-ft1", "tiny-ft2", "tiny-ft3")
                .modelParams(List.of(p(), p("weight", 0.5), p("weight", 0.3), p("weight", 0.2))), 0.999);
    }

    @Test
    void karcher() {
        check(new Case("karcher", "karcher").models("tiny-ft1", "tiny-ft2", "tiny-ft3")
                .global(p("max_iter", 10, "tol", 1e-5)), 0.999);
    }

    @Test
    void arceeFusion() {
        check(new Case("arcee_fusion", "arcee_fusion").base("tiny-base").models("tiny-ft1"), 0.999);
    }
}
