package dev.crucible.peft;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Folding a LoRA / rsLoRA / DoRA delta into one weight exactly as PEFT's {@code merge_and_unload} does, on plain
 * float arrays: the arithmetic under {@link AdapterFold} (so under {@code crucible lora merge}, {@code model+adapter}
 * merges and {@code generate --adapter}) and {@link LoraModule#mergeInto}.
 */
public final class LoraFold {
    private LoraFold() {
    }

    /**
     * The value of the first {@code rank_pattern} / {@code alpha_pattern} key matching {@code modulePath} (PEFT's
     * rule: the key is a regex that must match the whole path or a dot-separated suffix of it), or null.
     */
    public static JsonNode patternValue(JsonNode patterns, String modulePath) {
        for (Iterator<Map.Entry<String, JsonNode>> it = patterns.properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (Pattern.compile("(?:|.*\\.)(?:" + e.getKey() + ")").matcher(modulePath).matches()) {
                return e.getValue();
            }
        }
        return null;
    }

    /** The factor on B·A: alpha/r, or alpha/sqrt(r) with rsLoRA. */
    public static double scaling(double alpha, int rank, boolean rsLora) {
        return rsLora ? alpha / Math.sqrt(rank) : alpha / rank;
    }

    /**
     * Overwrites {@code w} (the layer's weight: [out, in], or [in, out] with {@code fanInFanOut}, GPT-2's Conv1D
     * layout) with {@code W + scaling·(B·A)}; for DoRA ({@code magnitude} non-null, [out]) that sum is rescaled so
     * that output row o has norm {@code magnitude[o]}. A is [r, in], B [out, r]; all float32, summed in PEFT's order
     * (B·A first, then the scaling).
     */
    public static void foldInto(float[] w, int out, int in, int r, double scaling, float[] a, float[] b,
                                float[] magnitude, boolean fanInFanOut) {
        if (w.length != (long) out * in || a.length != (long) r * in || b.length != (long) out * r
                || (magnitude != null && magnitude.length != out)) {
            throw new IllegalArgumentException("LoRA fold: arrays do not match r=" + r + " in=" + in + " out=" + out);
        }
        float scale = (float) scaling;
        float[] row = new float[in];
        for (int o = 0; o < out; o++) {
            Arrays.fill(row, 0f);
            for (int k = 0; k < r; k++) {
                float bk = b[o * r + k];
                int aOff = k * in;
                for (int i = 0; i < in; i++) {
                    row[i] += bk * a[aOff + i];
                }
            }
            double sq = 0;
            for (int i = 0; i < in; i++) {
                int idx = fanInFanOut ? i * out + o : o * in + i;
                float v = w[idx] + row[i] * scale;
                w[idx] = v;
                sq += (double) v * v;
            }
            if (magnitude != null) {
                float factor = (float) (magnitude[o] / Math.sqrt(sq));
                for (int i = 0; i < in; i++) {
                    w[fanInFanOut ? i * out + o : o * in + i] *= factor;
                }
            }
        }
    }
}
