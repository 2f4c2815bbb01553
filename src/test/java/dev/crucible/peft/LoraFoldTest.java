package dev.crucible.peft;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class LoraFoldTest {
    private static float[] random(SplittableRandom rng, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        return v;
    }

    @Test
    void doraRowsGetTheMagnitudeAsNormAndKeepTheDirectionOfWPlusDelta() {
        SplittableRandom rng = new SplittableRandom(3);
        int out = 5, in = 7, r = 2;
        float[] w = random(rng, out * in), a = random(rng, r * in), b = random(rng, out * r);
        float[] magnitude = {0.5f, 1f, 2f, 3f, 0.25f};
        float[] lora = w.clone();
        LoraFold.foldInto(lora, out, in, r, 1.5, a, b, null, false);
        float[] dora = w.clone();
        LoraFold.foldInto(dora, out, in, r, 1.5, a, b, magnitude, false);
        for (int o = 0; o < out; o++) {
            double loraSq = 0, doraSq = 0;
            for (int i = 0; i < in; i++) {
                double delta = 0;
                for (int k = 0; k < r; k++) {
                    delta += (double) b[o * r + k] * a[k * in + i];
                }
                assertEquals(w[o * in + i] + 1.5 * delta, lora[o * in + i], 1e-5);
                loraSq += (double) lora[o * in + i] * lora[o * in + i];
                doraSq += (double) dora[o * in + i] * dora[o * in + i];
            }
            assertEquals(magnitude[o], Math.sqrt(doraSq), 1e-5, "row " + o);
            for (int i = 0; i < in; i++) {
                assertEquals(lora[o * in + i] * magnitude[o] / Math.sqrt(loraSq), dora[o * in + i], 1e-5);
            }
        }
    }

    @Test
    void fanInFanOutFoldsTheTransposedWeightIdentically() {
        SplittableRandom rng = new SplittableRandom(11);
        int out = 6, in = 4, r = 3;
        float[] w = random(rng, out * in), a = random(rng, r * in), b = random(rng, out * r), m = random(rng, out);
        float[] transposed = new float[in * out];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                transposed[i * out + o] = w[o * in + i];
            }
        }
        for (float[] magnitude : new float[][]{null, m}) {
            float[] plain = w.clone();
            LoraFold.foldInto(plain, out, in, r, 0.75, a, b, magnitude, false);
            float[] conv1d = transposed.clone();
            LoraFold.foldInto(conv1d, out, in, r, 0.75, a, b, magnitude, true);
            float[] back = new float[out * in];
            for (int o = 0; o < out; o++) {
                for (int i = 0; i < in; i++) {
                    back[o * in + i] = conv1d[i * out + o];
                }
            }
            assertArrayEquals(plain, back);
        }
    }

    @Test
    void patternsMatchAWholePathOrADottedSuffixAsPeft() throws Exception {
        var patterns = new ObjectMapper().readTree("{\"q_proj\": 8, \"layers\\\\.1\\\\..*v_proj\": 2}");
        assertEquals(8, LoraFold.patternValue(patterns, "model.layers.0.self_attn.q_proj").asInt());
        assertEquals(2, LoraFold.patternValue(patterns, "model.layers.1.self_attn.v_proj").asInt());
        assertNull(LoraFold.patternValue(patterns, "model.layers.0.self_attn.v_proj"));
        assertNull(LoraFold.patternValue(patterns, "model.layers.0.self_attn.xq_proj"));
        assertEquals(2.0, LoraFold.scaling(8, 4, false));
        assertEquals(4.0, LoraFold.scaling(8, 4, true));
    }
}
