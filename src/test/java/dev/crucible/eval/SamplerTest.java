package dev.crucible.eval;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplerTest {
    static final float[] LOGITS = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.15),
            (float) Math.log(0.05)};

    static double[] frequencies(Sampler s, int draws) {
        double[] f = new double[LOGITS.length];
        for (int i = 0; i < draws; i++) {
            f[s.next(LOGITS, 0, LOGITS.length)] += 1.0 / draws;
        }
        return f;
    }

    @Test
    void temperatureOneSamplesTheSoftmax() {
        double[] f = frequencies(new Sampler(1, 0, 1, 1), 40_000);
        assertEquals(0.5, f[0], 0.01);
        assertEquals(0.3, f[1], 0.01);
        assertEquals(0.15, f[2], 0.01);
        assertEquals(0.05, f[3], 0.01);
    }

    @Test
    void topKAndTopPRenormaliseOverTheKeptTokens() {
        double[] k2 = frequencies(new Sampler(1, 2, 1, 2), 40_000);
        assertEquals(0.625, k2[0], 0.01); // 0.5 / 0.8
        assertEquals(0, k2[2] + k2[3]);
        double[] p = frequencies(new Sampler(1, 0, 0.9, 3), 40_000); // 0.5 + 0.3 + 0.15 reaches 0.9
        assertEquals(0.5 / 0.95, p[0], 0.01);
        assertEquals(0, p[3]);
    }

    @Test
    void greedyTakesTheLowestIdAmongEqualMaxima() {
        float[] tie = {0, 3, 1, 3};
        assertEquals(1, Sampler.greedy().next(tie, 0, 4));
        assertEquals(2, Sampler.argmax(new float[] {9, 9, 0, 1, 5}, 2, 3)); // relative to the offset
    }

    @Test
    void textStreamHoldsBackIncompleteCharacters() {
        // a decoder in which token 1 is the first half of a character: decoding it alone gives U+FFFD
        TextStream s = new TextStream(ids -> {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < ids.length; i++) {
                if (ids[i] == 1) {
                    b.append(i + 1 < ids.length && ids[i + 1] == 2 ? "é" : "\uFFFD");
                } else if (ids[i] != 2) {
                    b.append((char) ('a' + ids[i]));
                }
            }
            return b.toString();
        });
        List<String> pieces = List.of(s.push(0), s.push(1), s.push(2), s.push(3));
        assertEquals(List.of("a", "", "é", "d"), pieces);
        assertTrue(s.flush().isEmpty());
    }
}
