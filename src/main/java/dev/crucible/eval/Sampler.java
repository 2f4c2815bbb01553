package dev.crucible.eval;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits the way transformers' sampling does: temperature, then top-k, then
 * top-p (nucleus) filtering, then a draw from the softmax. Temperature 0 is greedy (argmax, lowest id on
 * ties). Draws come from a generator seeded once, so a seed reproduces a whole generation.
 */
public final class Sampler {
    private final double temperature;
    private final int topK;
    private final double topP;
    private final SplittableRandom random;

    /**
     * @param temperature 0 for greedy decoding
     * @param topK        0 to keep every token
     * @param topP        1 to keep every token
     */
    public Sampler(double temperature, int topK, double topP, long seed) {
        if (temperature < 0 || topK < 0 || !(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("need temperature >= 0, top-k >= 0 and 0 < top-p <= 1");
        }
        this.temperature = temperature;
        this.topK = topK;
        this.topP = topP;
        this.random = new SplittableRandom(seed);
    }

    public static Sampler greedy() {
        return new Sampler(0, 0, 1, 0);
    }

    /** Index of the largest of {@code logits[offset..offset+n)}, relative to offset; the lowest on ties. */
    public static int argmax(float[] logits, int offset, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (logits[offset + i] > logits[offset + best]) {
                best = i;
            }
        }
        return best;
    }

    /** The next token for the distribution in {@code logits[offset..offset+n)}. */
    public int next(float[] logits, int offset, int n) {
        if (temperature == 0) {
            return argmax(logits, offset, n);
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> {
            int c = Float.compare(logits[offset + b], logits[offset + a]);
            return c != 0 ? c : Integer.compare(a, b);
        });
        int keep = topK > 0 ? Math.min(topK, n) : n;
        double max = logits[offset + order[0]] / temperature;
        double[] p = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            p[i] = Math.exp(logits[offset + order[i]] / temperature - max);
            sum += p[i];
        }
        if (topP < 1) { // smallest prefix whose probability reaches top-p; always at least one token
            double cumulative = 0;
            int cut = keep;
            for (int i = 0; i < keep; i++) {
                cumulative += p[i] / sum;
                if (cumulative >= topP) {
                    cut = i + 1;
                    break;
                }
            }
            keep = cut;
            sum = 0;
            for (int i = 0; i < keep; i++) {
                sum += p[i];
            }
        }
        double u = random.nextDouble() * sum;
        for (int i = 0; i < keep; i++) {
            u -= p[i];
            if (u < 0) {
                return order[i];
            }
        }
        return order[keep - 1];
    }
}
