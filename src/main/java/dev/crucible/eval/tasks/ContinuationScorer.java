package dev.crucible.eval.tasks;

import dev.crucible.model.Transformer;
import dev.crucible.nn.KVCache;

import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * Scores continuations: for each request, the log-probability of its last {@code scored} tokens given everything
 * before them, and whether each of them is the model's greedy choice. Requests are run in lexicographic order of
 * their tokens, so a prefix they share (a few-shot context, a question before its choices) is computed once and
 * kept in the KV cache for the next request; only the tokens past the shared prefix run through the model, and
 * logits are computed only where a token is scored.
 */
final class ContinuationScorer {
    /**
     * One request: the model input (context and continuation, without the continuation's last token) and the
     * {@code targets} to score against the logits of the input's last {@code targets.length} positions.
     */
    record Request(int[] input, int[] targets) {
    }

    private final Transformer model;

    ContinuationScorer(Transformer model) {
        this.model = model;
    }

    /** Scores every request; {@code progress} is told after each one. Results are in the requests' order. */
    LoglikelihoodResult[] score(List<Request> requests, LongConsumer progress) {
        Integer[] order = new Integer[requests.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparing(i -> requests.get(i).input(), Arrays::compare));
        int capacity = 1;
        for (Request r : requests) {
            capacity = Math.max(capacity, r.input().length);
        }
        KVCache cache = model.newCache(1, capacity);
        int[] cached = new int[0];
        LoglikelihoodResult[] out = new LoglikelihoodResult[requests.size()];
        int vocab = model.spec().vocab();
        long done = 0;
        for (int index : order) {
            Request r = requests.get(index);
            int[] input = r.input();
            int scoredFrom = input.length - r.targets().length;
            int reuse = Math.min(commonPrefix(cached, input, cache.length()), scoredFrom);
            cache.truncate(reuse);
            if (scoredFrom > reuse) {
                model.forward(new int[][] {Arrays.copyOfRange(input, reuse, scoredFrom)}, cache, Transformer.Logits.NONE, null);
            }
            float[] logits = model.forward(new int[][] {Arrays.copyOfRange(input, scoredFrom, input.length)}, cache,
                    Transformer.Logits.ALL, null);
            out[index] = score(logits, vocab, r.targets());
            cached = input;
            progress.accept(++done);
        }
        return out;
    }

    private static int commonPrefix(int[] a, int[] b, int limit) {
        int n = Math.min(Math.min(a.length, b.length), limit);
        int i = 0;
        while (i < n && a[i] == b[i]) {
            i++;
        }
        return i;
    }

    /**
     * Sum of log-softmax at each target (computed in double, reported rounded to float32 as lm-eval's float32 sum is)
     * and whether every target is the row's first maximum.
     */
    static LoglikelihoodResult score(float[] logits, int vocab, int[] targets) {
        double sum = 0;
        boolean greedy = true;
        for (int t = 0; t < targets.length; t++) {
            int off = t * vocab;
            float max = Float.NEGATIVE_INFINITY;
            int arg = 0;
            for (int v = 0; v < vocab; v++) {
                if (logits[off + v] > max) {
                    max = logits[off + v];
                    arg = v;
                }
            }
            double s = 0;
            for (int v = 0; v < vocab; v++) {
                s += Math.exp((double) logits[off + v] - max);
            }
            sum += (double) logits[off + targets[t]] - max - Math.log(s);
            greedy &= arg == targets[t];
        }
        return new LoglikelihoodResult((float) sum, greedy); // lm-eval sums in float32 and reports that float
    }

    /** lm-eval's model input for a (context, continuation) pair: the last max_length + 1 tokens, minus the last. */
    static Request request(int[] context, int[] continuation, int maxLength) {
        int[] whole = new int[context.length + continuation.length];
        System.arraycopy(context, 0, whole, 0, context.length);
        System.arraycopy(continuation, 0, whole, context.length, continuation.length);
        int from = Math.max(0, whole.length - (maxLength + 1));
        return new Request(Arrays.copyOfRange(whole, from, whole.length - 1), continuation);
    }
}
