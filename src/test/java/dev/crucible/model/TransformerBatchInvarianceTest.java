package dev.crucible.model;

import dev.crucible.nn.KVCache;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * A token's logits do not depend on how it reaches the model: in a prefill of the whole sequence, one token at a time
 * through the cache, in a chunked prefill, or next to another sequence in a batch, the bits are the same (every
 * product is one FMA chain per output and every softmax runs over exactly the visible keys). Sequences longer than
 * gemma2's sliding window of 8 and mixtral's routing are covered.
 */
class TransformerBatchInvarianceTest {
    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "qwen3", "gemma2", "phi3", "mixtral"})
    void prefillDecodeChunksAndBatchesGiveTheSameBits(String model) {
        try (Transformer t = Transformer.load(Path.of("testdata/hf/models").resolve(model))) {
            int vocab = t.spec().vocab();
            int seq = 23;
            int[][] two = new int[2][seq];
            SplittableRandom r = new SplittableRandom(3);
            for (int[] row : two) {
                for (int i = 0; i < seq; i++) {
                    row[i] = r.nextInt(vocab);
                }
            }
            int[][] one = {two[0]};
            float[] prefill = t.forward(one, t.newCache(1, seq), Transformer.Logits.ALL, null);

            KVCache cache = t.newCache(1, 2); // grows on the way
            for (int i = 0; i < seq; i++) {
                float[] step = t.forward(new int[][] {{one[0][i]}}, cache, Transformer.Logits.LAST, null);
                assertArrayEquals(Arrays.copyOfRange(prefill, i * vocab, (i + 1) * vocab), step, 0f,
                        model + ": token " + i + " decoded one by one");
            }

            KVCache chunked = t.newCache(1, seq);
            float[] head = t.forward(new int[][] {Arrays.copyOf(one[0], 9)}, chunked, Transformer.Logits.ALL, null);
            float[] tail = t.forward(new int[][] {Arrays.copyOfRange(one[0], 9, seq)}, chunked, Transformer.Logits.ALL, null);
            float[] joined = Arrays.copyOf(head, seq * vocab);
            System.arraycopy(tail, 0, joined, 9 * vocab, tail.length);
            assertArrayEquals(prefill, joined, 0f, model + ": prefill in two chunks");

            float[] batch = t.forward(two, t.newCache(2, seq), Transformer.Logits.ALL, null);
            assertArrayEquals(prefill, Arrays.copyOf(batch, seq * vocab), 0f, model + ": first sequence of a batch of 2");
        }
    }
}
