package dev.crucible.eval;

import dev.crucible.model.Transformer;

import java.util.List;

/**
 * Perplexity of a model on token sequences, with transformers' sliding-window recipe for sequences longer
 * than the window: windows of {@code window} tokens start every {@code stride} tokens and each scores only
 * the tokens the previous window did not, so every token after a sequence's first is predicted exactly
 * once, from up to {@code window - 1} tokens of context.
 */
public final class Perplexity {
    /** Scored token count, mean negative log-likelihood (nats) and exp(nll). */
    public record Result(long tokens, double nll, double perplexity) {
    }

    private Perplexity() {
    }

    /** Told after each window how many tokens have been scored out of how many. */
    @FunctionalInterface
    public interface Progress {
        void scored(long done, long total);
    }

    public static Result evaluate(Transformer model, List<int[]> sequences, int window, int stride) {
        return evaluate(model, sequences, window, stride, (done, total) -> { });
    }

    public static Result evaluate(Transformer model, List<int[]> sequences, int window, int stride, Progress progress) {
        if (window < 2 || stride < 1 || stride > window) {
            throw new IllegalArgumentException("need window >= 2 and 1 <= stride <= window");
        }
        long expected = 0;
        for (int[] ids : sequences) {
            expected += Math.max(0, ids.length - 1);
        }
        double total = 0;
        long count = 0;
        for (int[] ids : sequences) {
            int scoredUpTo = 1; // token 0 has no context and is never predicted
            for (int begin = 0; scoredUpTo < ids.length; begin += stride) {
                int end = Math.min(begin + window, ids.length);
                int[] chunk = java.util.Arrays.copyOfRange(ids, begin, end);
                float[] logits = model.forward(new int[][] {chunk}, model.newCache(1, chunk.length),
                        Transformer.Logits.ALL, null);
                int vocab = model.spec().vocab();
                for (int target = Math.max(scoredUpTo, begin + 1); target < end; target++) {
                    total += negativeLogLikelihood(logits, (target - 1 - begin) * vocab, vocab, ids[target]);
                    count++;
                }
                scoredUpTo = end;
                progress.scored(count, expected);
            }
        }
        double nll = count == 0 ? Double.NaN : total / count;
        return new Result(count, nll, Math.exp(nll));
    }

    /** -log softmax(logits[offset..offset+vocab))[target], computed in double. */
    public static double negativeLogLikelihood(float[] logits, int offset, int vocab, int target) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, logits[offset + i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            sum += Math.exp(logits[offset + i] - max);
        }
        return Math.log(sum) + max - logits[offset + target];
    }
}
