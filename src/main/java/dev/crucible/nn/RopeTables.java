package dev.crucible.nn;

/**
 * cos and sin tables [seq, headDim] for the training rope op, taken from the runtime's {@link RotaryEmbedding} so
 * that training and inference rotate identically for every rope type it knows (default, linear, llama3, yarn with
 * its attention scaling, longrope with its short and long factors) and for a partial rotary part (the first
 * rotaryDim entries of a row; the rest are cos 1, sin 0).
 */
final class RopeTables {
    private RopeTables() {
    }

    static float[][] of(RotaryEmbedding rope, int seq, int headDim) {
        return of(rope, seq, headDim, seq);
    }

    /**
     * Tables for positions [0, seq) of sequences whose positions are {@code positions}; as in transformers, longrope
     * switches to its long factors when the largest position + 1 passes {@code original_max_position_embeddings}.
     */
    static float[][] of(RotaryEmbedding rope, int seq, int headDim, int[] positions) {
        int end = 0;
        for (int p : positions) {
            end = Math.max(end, p + 1);
        }
        return of(rope, seq, headDim, end);
    }

    private static float[][] of(RotaryEmbedding rope, int seq, int headDim, int sequenceEnd) {
        RotaryEmbedding.Table table = rope.table(0, seq, sequenceEnd);
        int half = table.half();
        float[] cos = new float[seq * headDim];
        float[] sin = new float[seq * headDim];
        java.util.Arrays.fill(cos, 1f); // dimensions past a partial rotary part do not rotate
        for (int t = 0; t < seq; t++) {
            for (int i = 0; i < half; i++) {
                cos[t * headDim + i] = cos[t * headDim + i + half] = table.cos()[t * half + i];
                sin[t * headDim + i] = sin[t * headDim + i + half] = table.sin()[t * half + i];
            }
        }
        return new float[][]{cos, sin};
    }
}
