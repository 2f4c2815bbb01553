package dev.crucible.eval;

import dev.crucible.model.Transformer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class PerplexityTest {
    static Transformer model;

    @BeforeAll
    static void load() {
        model = Transformer.load(Path.of("testdata/hf/models/llama"));
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** -log p(ids[j] | ids[from..j)) from a plain forward over ids[from..to), by hand. */
    static double[] handNll(int[] ids, int from, int to) {
        int[] chunk = Arrays.copyOfRange(ids, from, to);
        float[] logits = model.forward(new int[][] {chunk}, model.newCache(1, chunk.length), Transformer.Logits.ALL, null);
        int vocab = model.spec().vocab();
        double[] nll = new double[chunk.length];
        for (int j = 1; j < chunk.length; j++) {
            double sum = 0;
            for (int v = 0; v < vocab; v++) {
                sum += Math.exp(logits[(j - 1) * vocab + v]);
            }
            nll[j] = Math.log(sum) - logits[(j - 1) * vocab + chunk[j]];
        }
        return nll;
    }

    @Test
    void shortSequenceIsTheMeanNllOfEveryNextToken() {
        int[] ids = {1, 57, 300, 12, 499, 7};
        double[] nll = handNll(ids, 0, ids.length);
        double mean = Arrays.stream(nll, 1, ids.length).sum() / (ids.length - 1);
        Perplexity.Result r = Perplexity.evaluate(model, List.of(ids), 16, 8);
        assertEquals(5, r.tokens());
        assertEquals(mean, r.nll(), 1e-5);
        assertEquals(Math.exp(mean), r.perplexity(), 1e-4 * Math.exp(mean));
    }

    @Test
    void slidingWindowsScoreEachTokenOnceWithTheirOwnContext() {
        int[] ids = {1, 5, 9, 200, 31, 77, 400, 3, 8, 150};
        // window 4, stride 2: windows [0,4) scores 1..3, [2,6) scores 4..5, [4,8) scores 6..7, [6,10) scores 8..9
        double total = 0;
        double[] w0 = handNll(ids, 0, 4);
        total += w0[1] + w0[2] + w0[3];
        double[] w1 = handNll(ids, 2, 6);
        total += w1[2] + w1[3];
        double[] w2 = handNll(ids, 4, 8);
        total += w2[2] + w2[3];
        double[] w3 = handNll(ids, 6, 10);
        total += w3[2] + w3[3];
        Perplexity.Result r = Perplexity.evaluate(model, List.of(ids), 4, 2);
        assertEquals(9, r.tokens());
        assertEquals(total / 9, r.nll(), 1e-5);
    }

    @Test
    void sequencesArePooledTokenWeighted() {
        int[] a = {1, 2, 3, 4};
        int[] b = {9, 8};
        double[] na = handNll(a, 0, 4);
        double[] nb = handNll(b, 0, 2);
        Perplexity.Result r = Perplexity.evaluate(model, List.of(a, b), 8, 4);
        assertEquals(4, r.tokens());
        assertEquals((na[1] + na[2] + na[3] + nb[1]) / 4, r.nll(), 1e-5);
    }
}
