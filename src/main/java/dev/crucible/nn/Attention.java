package dev.crucible.nn;

import dev.crucible.tensor.VectorMath;

/**
 * Causal scaled-dot-product attention of one query head over cached keys and values, with grouped-query
 * sharing, an optional sliding window (a query at position p sees keys at p - window < j <= p, as
 * transformers masks) and optional tanh soft-capping of the scores (Gemma 2).
 *
 * @param scale    multiplies q·k (head_dim^-0.5, or query_pre_attn_scalar^-0.5)
 * @param softCap  0 for none, else scores become cap · tanh(score / cap)
 * @param window   0 for full causal attention
 */
public record Attention(int headDim, float scale, float softCap, int window) {

    /**
     * Attends the query at {@code q[qOffset..+headDim]}, sitting at absolute position {@code position}, over
     * the head's keys/values (row stride {@code kvStride}, head offset {@code kvOffset}); writes the
     * weighted values into {@code out[outOffset..+headDim]}. {@code scores} is scratch of at least position+1.
     */
    public void attend(float[] q, int qOffset, int position, float[] keys, float[] values, int kvStride,
                       int kvOffset, float[] out, int outOffset, float[] scores) {
        int first = window > 0 ? Math.max(0, position - window + 1) : 0;
        float max = Float.NEGATIVE_INFINITY;
        for (int j = first; j <= position; j++) {
            float s = VectorMath.dot(q, qOffset, keys, j * kvStride + kvOffset, headDim) * scale;
            if (softCap > 0) {
                s = (float) Math.tanh(s / softCap) * softCap;
            }
            scores[j] = s;
            max = Math.max(max, s);
        }
        float sum = 0;
        for (int j = first; j <= position; j++) {
            float e = (float) Math.exp(scores[j] - max);
            scores[j] = e;
            sum += e;
        }
        java.util.Arrays.fill(out, outOffset, outOffset + headDim, 0f);
        float inv = 1f / sum;
        for (int j = first; j <= position; j++) {
            VectorMath.axpy(scores[j] * inv, values, j * kvStride + kvOffset, out, outOffset, headDim);
        }
    }
}
