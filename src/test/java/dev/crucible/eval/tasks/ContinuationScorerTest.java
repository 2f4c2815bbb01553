package dev.crucible.eval.tasks;

import dev.crucible.model.Transformer;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class ContinuationScorerTest {
    @Test
    void sharedPrefixesGiveWhatEachRequestGivesAlone() {
        try (Transformer model = Transformer.load(Path.of("testdata/hf/models/llama"))) {
            int[] context = {1, 40, 77, 300, 12, 9, 250, 61};
            List<ContinuationScorer.Request> requests = new ArrayList<>();
            requests.add(ContinuationScorer.request(context, new int[] {5, 6, 7}, 512));
            requests.add(ContinuationScorer.request(context, new int[] {5}, 512));
            requests.add(ContinuationScorer.request(Arrays.copyOf(context, 4), new int[] {99, 100}, 512));
            requests.add(ContinuationScorer.request(context, new int[] {480, 3}, 512));
            requests.add(ContinuationScorer.request(context, new int[] {5, 6, 7}, 6)); // max_length 6: left-truncated
            LoglikelihoodResult[] shared = new ContinuationScorer(model).score(requests, done -> { });
            for (int i = 0; i < requests.size(); i++) {
                LoglikelihoodResult alone = new ContinuationScorer(model).score(List.of(requests.get(i)), d -> { })[0];
                assertEquals(alone.logprob(), shared[i].logprob(), 1e-4 * Math.abs(alone.logprob()), "request " + i);
                assertEquals(alone.greedy(), shared[i].greedy());
                // and by hand: a full forward over the input, log-softmax at the last positions
                ContinuationScorer.Request r = requests.get(i);
                float[] logits = model.forward(new int[][] {r.input()}, model.newCache(1, r.input().length),
                        Transformer.Logits.ALL, null);
                int vocab = model.spec().vocab();
                int from = r.input().length - r.targets().length;
                float[] tail = Arrays.copyOfRange(logits, from * vocab, logits.length);
                assertEquals(ContinuationScorer.score(tail, vocab, r.targets()).logprob(), shared[i].logprob(),
                        1e-4 * Math.abs(shared[i].logprob()));
            }
            assertEquals(6, requests.get(4).input().length); // the last max_length + 1 tokens, less the last
        }
    }

    @Test
    void rollingWindowsAreLmEvalsDisjointWindows() {
        // lm-eval: get_rolling_token_windows(tokens 0..9, prefix 99, max_seq_len 4, context_len 1) + make_disjoint_window
        List<int[][]> w = EvalModel.rollingWindows(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 99, 4);
        assertEquals(3, w.size());
        assertArrayEquals(new int[] {99}, w.get(0)[0]);
        assertArrayEquals(new int[] {0, 1, 2, 3}, w.get(0)[1]);
        assertArrayEquals(new int[] {3}, w.get(1)[0]);
        assertArrayEquals(new int[] {4, 5, 6, 7}, w.get(1)[1]);
        assertArrayEquals(new int[] {5, 6, 7}, w.get(2)[0]);
        assertArrayEquals(new int[] {8, 9}, w.get(2)[1]);
    }
}
