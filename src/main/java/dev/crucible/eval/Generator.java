package dev.crucible.eval;

import dev.crucible.model.Transformer;
import dev.crucible.nn.KVCache;

import java.util.Arrays;
import java.util.Set;
import java.util.function.IntPredicate;

/**
 * Autoregressive generation through the KV cache: the prompt in one prefill, then one token per step.
 * The cache survives between calls, so a chat that re-sends its whole history only computes what is new.
 */
public final class Generator {
    private final Transformer model;
    private final KVCache cache;
    private int[] context = new int[0];

    public Generator(Transformer model) {
        this.model = model;
        this.cache = model.newCache(1, 256);
    }

    /**
     * Generates up to {@code maxNewTokens} tokens after {@code prompt}, stopping after a token in
     * {@code stopIds} (which is included in the result) or when {@code onToken} returns false.
     *
     * @return the generated tokens (the prompt not included)
     */
    public int[] generate(int[] prompt, int maxNewTokens, Sampler sampler, Set<Integer> stopIds, IntPredicate onToken) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt must hold at least one token");
        }
        int reuse = Math.min(commonPrefix(context, prompt), cache.length());
        if (reuse == prompt.length) {
            reuse--; // at least one token must be fed to get logits
        }
        cache.truncate(reuse);
        int[] fresh = Arrays.copyOfRange(prompt, reuse, prompt.length);
        // the buffer grows as tokens come: a huge --max-new-tokens must neither overflow nor allocate up front
        long end = Math.min((long) prompt.length + Math.max(0, maxNewTokens), Integer.MAX_VALUE - 16);
        int[] all = Arrays.copyOf(prompt, (int) Math.min(end, prompt.length + 256L));
        int length = prompt.length;
        float[] logits = model.forward(new int[][] {fresh}, cache, Transformer.Logits.LAST, null);
        int vocab = model.spec().vocab();
        while (length < end) {
            int token = sampler.next(logits, 0, vocab);
            if (length == all.length) {
                all = Arrays.copyOf(all, (int) Math.min(end, 2L * all.length));
            }
            all[length++] = token;
            boolean more = onToken.test(token) && !stopIds.contains(token);
            if (!more || length == end) {
                break;
            }
            logits = model.forward(new int[][] {{token}}, cache, Transformer.Logits.LAST, null);
        }
        context = Arrays.copyOf(all, length); // the cache holds all but the last token, never fed
        return Arrays.copyOfRange(all, prompt.length, length);
    }

    private static int commonPrefix(int[] a, int[] b) {
        int n = Math.min(a.length, b.length);
        int i = 0;
        while (i < n && a[i] == b[i]) {
            i++;
        }
        return i;
    }
}
