package dev.crucible.nn;

import dev.crucible.autograd.Tape;
import dev.crucible.autograd.Var;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Attention at a sequence long enough for several query blocks and key blocks of the tiled kernels, against a
 * direct double-precision evaluation of the same formulas (forward and every gradient).
 */
class AttentionOpsTest {
    private static final int BATCH = 2;
    private static final int SEQ = 70;
    private static final int HEADS = 4;
    private static final int KV_HEADS = 2;
    private static final int D = 20;

    @Test
    void tiledAttentionMatchesDirectEvaluation() {
        compare(0, 0, null);
        compare(9, 2.5, null);
        int[] ids = new int[BATCH * SEQ];
        for (int t = 0; t < ids.length; t++) {
            ids[t] = t % SEQ < 23 ? 0 : t % SEQ < 51 ? 1 : 2;
        }
        compare(0, 0, AttentionOps.segmentStarts(ids, BATCH, SEQ));
    }

    private static void compare(int window, double cap, int[] starts) {
        Var q = Var.leaf(OpsGradientTest.random(BATCH * SEQ * HEADS * D, 31, 1), BATCH * SEQ, HEADS * D);
        Var k = Var.leaf(OpsGradientTest.random(BATCH * SEQ * KV_HEADS * D, 32, 1), BATCH * SEQ, KV_HEADS * D);
        Var v = Var.leaf(OpsGradientTest.random(BATCH * SEQ * KV_HEADS * D, 33, 1), BATCH * SEQ, KV_HEADS * D);
        double scale = 1 / Math.sqrt(D);
        Tape tape = new Tape();
        Var y = AttentionOps.attention(tape, q, k, v, BATCH, SEQ, HEADS, KV_HEADS, D, scale, window, cap, starts);
        float[] dy = OpsGradientTest.random(y.size(), 34, 1);
        System.arraycopy(dy, 0, y.grad(), 0, dy.length);
        tape.replay();

        double[] out = new double[y.size()];
        double[] dq = new double[q.size()];
        double[] dk = new double[k.size()];
        double[] dv = new double[v.size()];
        int qw = HEADS * D;
        int kw = KV_HEADS * D;
        for (int b = 0; b < BATCH; b++) {
            for (int h = 0; h < HEADS; h++) {
                int g = h / (HEADS / KV_HEADS);
                for (int i = 0; i < SEQ; i++) {
                    int first = window > 0 ? Math.max(0, i - window + 1) : 0;
                    if (starts != null) {
                        first = Math.max(first, starts[b * SEQ + i]);
                    }
                    int qo = (b * SEQ + i) * qw + h * D;
                    double[] p = new double[SEQ];
                    double[] deriv = new double[SEQ];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = first; j <= i; j++) {
                        double raw = 0;
                        for (int d = 0; d < D; d++) {
                            raw += (double) q.value()[qo + d] * k.value()[(b * SEQ + j) * kw + g * D + d];
                        }
                        raw *= scale;
                        double s = cap > 0 ? cap * Math.tanh(raw / cap) : raw;
                        deriv[j] = cap > 0 ? 1 - Math.pow(Math.tanh(raw / cap), 2) : 1;
                        p[j] = s;
                        max = Math.max(max, s);
                    }
                    double sum = 0;
                    for (int j = first; j <= i; j++) {
                        p[j] = Math.exp(p[j] - max);
                        sum += p[j];
                    }
                    double[] dp = new double[SEQ];
                    double weighted = 0;
                    for (int j = first; j <= i; j++) {
                        p[j] /= sum;
                        int vo = (b * SEQ + j) * kw + g * D;
                        for (int d = 0; d < D; d++) {
                            out[qo + d] += p[j] * v.value()[vo + d];
                            dp[j] += (double) dy[qo + d] * v.value()[vo + d];
                            dv[vo + d] += p[j] * dy[qo + d];
                        }
                        weighted += p[j] * dp[j];
                    }
                    for (int j = first; j <= i; j++) {
                        double ds = p[j] * (dp[j] - weighted) * deriv[j] * scale;
                        int ko = (b * SEQ + j) * kw + g * D;
                        for (int d = 0; d < D; d++) {
                            dq[qo + d] += ds * k.value()[ko + d];
                            dk[ko + d] += ds * q.value()[qo + d];
                        }
                    }
                }
            }
        }
        String what = "window " + window + ", cap " + cap + (starts == null ? "" : ", packed");
        assertClose(out, y.value(), "output, " + what);
        assertClose(dq, q.grad(), "dq, " + what);
        assertClose(dk, k.grad(), "dk, " + what);
        assertClose(dv, v.grad(), "dv, " + what);
    }

    private static void assertClose(double[] want, float[] got, String what) {
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], got[i], 1e-4 * (1 + Math.abs(want[i])), what + " at " + i);
        }
    }
}
