package dev.crucible.nn;

import dev.crucible.CrucibleException;
import dev.crucible.io.ModelConfig;

/**
 * cos and sin tables [seq, headDim] for the training rope op, taken from the runtime's {@link RotaryEmbedding} so
 * that training and inference rotate identically for every rope type it knows (default, linear, llama3, yarn with
 * its attention scaling, longrope with its short and long factors).
 */
final class RopeTables {
    private RopeTables() {
    }

    /** Fails early on a rope configuration training cannot run: unknown types, or a partial rotary dimension. */
    static void check(ModelConfig config) {
        rotary(config, config.headDim());
    }

    static float[][] of(ModelConfig config, int seq, int headDim) {
        return of(config, seq, headDim, seq);
    }

    /**
     * Tables for positions [0, seq) of sequences whose positions are {@code positions}; as in transformers, longrope
     * switches to its long factors when the largest position + 1 passes {@code original_max_position_embeddings}.
     */
    static float[][] of(ModelConfig config, int seq, int headDim, int[] positions) {
        int end = 0;
        for (int p : positions) {
            end = Math.max(end, p + 1);
        }
        return of(config, seq, headDim, end);
    }

    private static float[][] of(ModelConfig config, int seq, int headDim, int sequenceEnd) {
        RotaryEmbedding.Table table = rotary(config, headDim).table(0, seq, sequenceEnd);
        int half = table.half();
        float[] cos = new float[seq * headDim];
        float[] sin = new float[seq * headDim];
        for (int t = 0; t < seq; t++) {
            for (int i = 0; i < half; i++) {
                cos[t * headDim + i] = cos[t * headDim + i + half] = table.cos()[t * half + i];
                sin[t * headDim + i] = sin[t * headDim + i + half] = table.sin()[t * half + i];
            }
        }
        return new float[][]{cos, sin};
    }

    private static RotaryEmbedding rotary(ModelConfig config, int headDim) {
        RotaryEmbedding rope = RotaryEmbedding.fromConfig(config, headDim);
        if (rope.rotaryDim() != headDim) {
            throw new CrucibleException("partial_rotary_factor: training supports rotary embeddings over the whole head"
                    + " so far (rotary dim " + rope.rotaryDim() + " of head dim " + headDim + ")");
        }
        return rope;
    }
}
