package dev.crucible.train;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each preference loss's gradient with respect to the per-token log-probabilities equals its finite differences, and
 * the closed forms equal hand-computed values (the end-to-end numbers against TRL are in {@code PreferenceTrainingTest}).
 */
class PreferenceLossTest {
    private static final PreferenceLoss.Params PARAMS = new PreferenceLoss.Params(0.1, 0, 0.5, 0.5, 1.0, 1.3, 0);
    /** Two pairs: chosen rows 0, 1 and rejected rows 2, 3, ten positions each, different prompt and total lengths. */
    private static final TokenLayout PAIRS = new TokenLayout(10, new int[] {3, 1, 4, 2}, new int[] {7, 10, 9, 5});

    private interface Loss {
        PreferenceLoss.Result of(float[] logps);
    }

    private static float[] logps(int n, long seed) {
        Random r = new Random(seed);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) (-0.2 - 0.5 * r.nextDouble());
        }
        return out;
    }

    private static void checkGradient(String name, Loss loss, float[] at) {
        float[] weights = loss.of(at).weights();
        double h = 1e-3;
        for (int t = 0; t < at.length; t++) {
            float[] up = at.clone();
            float[] down = at.clone();
            up[t] += (float) h;
            down[t] -= (float) h;
            double numeric = (loss.of(up).loss() - loss.of(down).loss()) / ((double) up[t] - down[t]);
            assertEquals(numeric, weights[t], 2e-4 * Math.max(1, Math.abs(numeric)), name + " position " + t);
        }
    }

    @Test
    void gradientsEqualFiniteDifferences() {
        float[] at = logps(40, 1);
        double[] refC = {-2.1, -3.0};
        double[] refR = {-2.5, -1.7};
        checkGradient("dpo", lp -> PreferenceLoss.dpo(PreferenceMethod.DPO, PARAMS, lp, PAIRS, refC, refR), at);
        PreferenceLoss.Params robust = new PreferenceLoss.Params(0.1, 0.1, 0, 0, 1, 1, 0);
        checkGradient("robust dpo", lp -> PreferenceLoss.dpo(PreferenceMethod.DPO, robust, lp, PAIRS, refC, refR), at);
        PreferenceLoss.Params rpo = new PreferenceLoss.Params(0.1, 0, 0, 0, 1, 1, 0.7);
        checkGradient("dpo with rpo_alpha", lp -> PreferenceLoss.dpo(PreferenceMethod.DPO, rpo, lp, PAIRS, refC, refR), at);
        checkGradient("ipo", lp -> PreferenceLoss.dpo(PreferenceMethod.IPO, PARAMS, lp, PAIRS, refC, refR), at);
        checkGradient("orpo", lp -> PreferenceLoss.orpo(PARAMS, lp, PAIRS), at);
        PreferenceLoss.Params simpo = new PreferenceLoss.Params(2.0, 0.1, 0.5, 0.5, 1, 1, 0);
        checkGradient("simpo", lp -> PreferenceLoss.simpo(simpo, lp, PAIRS), at);
        PreferenceLoss.Params pure = new PreferenceLoss.Params(2.0, 0, 0.5, 0, 1, 1, 0);
        checkGradient("simpo without nll", lp -> PreferenceLoss.simpo(pure, lp, PAIRS), at);
        checkGradient("kto", lp -> PreferenceLoss.kto(PARAMS, lp, PAIRS, new boolean[] {true, false, false, true},
                new double[] {-2.1, -3.0, -2.5, -1.7}, 0.3), at);
    }

    @Test
    void positionsOutsideTheScoredTokensGetNoGradient() {
        float[] weights = PreferenceLoss.dpo(PreferenceMethod.DPO, PARAMS, logps(40, 2), PAIRS, new double[2],
                new double[2]).weights();
        // row 0: prompt 3, length 7: completion tokens 3..6 are scored at positions 2..5
        for (int t = 0; t < 10; t++) {
            assertEquals(t >= 2 && t <= 5, weights[t] != 0, "row 0 position " + t);
        }
        // row 1: prompt 1 (a lone BOS), all 10 positions real: the completion is scored at positions 0..8
        for (int t = 0; t < 10; t++) {
            assertEquals(t <= 8, weights[10 + t] != 0, "row 1 position " + t);
        }
    }

    @Test
    void dpoAtTheReferenceIsLn2AndItsRewardsAreZero() {
        float[] lp = logps(40, 3);
        double[] refC = {PAIRS.completionSum(lp, 0), PAIRS.completionSum(lp, 1)};
        double[] refR = {PAIRS.completionSum(lp, 2), PAIRS.completionSum(lp, 3)};
        PreferenceLoss.Result r = PreferenceLoss.dpo(PreferenceMethod.DPO, PARAMS, lp, PAIRS, refC, refR);
        assertEquals(Math.log(2), r.loss(), 1e-12);
        assertEquals(0, r.metrics().get("rewards/margins"), 1e-12);
        assertEquals(0, r.metrics().get("rewards/accuracies"), 0, "TRL counts a tie as inaccurate");
        PreferenceLoss.Result ipo = PreferenceLoss.dpo(PreferenceMethod.IPO, PARAMS, lp, PAIRS, refC, refR);
        assertEquals(25, ipo.loss(), 1e-9, "(0 − 1/(2·0.1))²");
    }

    @Test
    void ktoWithoutRewardOrKlIsHalfTheWeights() {
        TokenLayout rows = new TokenLayout(4, new int[] {1, 2}, new int[] {4, 4});
        float[] lp = logps(8, 4);
        double[] ref = {rows.completionSum(lp, 0), rows.completionSum(lp, 1)};
        PreferenceLoss.Result r = PreferenceLoss.kto(PARAMS, lp, rows, new boolean[] {true, false}, ref, 0);
        assertEquals((0.5 * 1.0 + 0.5 * 1.3) / 2, r.loss(), 1e-12);
        assertTrue(r.metrics().containsKey("rewards/margins"));
        PreferenceLoss.Result onlyDesirable = PreferenceLoss.kto(PARAMS, lp, rows, new boolean[] {true, true}, ref, 0);
        assertTrue(!onlyDesirable.metrics().containsKey("rewards/rejected")
                && !onlyDesirable.metrics().containsKey("rewards/margins"), "TRL logs no rejected metrics without rows");
    }

    @Test
    void log1mexpIsStableOnBothBranches() {
        for (double x : new double[] {-1e-8, -0.1, -0.69, -0.7, -5, -40}) {
            assertEquals(Math.log(1 - Math.exp(x)), PreferenceLoss.log1mexp(x), 1e-9 * Math.max(1, Math.abs(Math.log(-x))));
        }
    }
}
