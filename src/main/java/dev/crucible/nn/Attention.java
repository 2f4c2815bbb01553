package dev.crucible.nn;

import dev.crucible.tensor.Gemm;
import dev.crucible.tensor.VectorMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * Causal scaled-dot-product attention of a block of consecutive queries of one head over the cached keys and
 * values, with grouped-query sharing, an optional sliding window (a query at position p sees keys at
 * p - window < j <= p, as transformers masks) and optional tanh soft-capping of the scores (Gemma 2). Scores and
 * the weighted sum of values are two {@link Gemm#serial} products; the softmax of each row runs over exactly its
 * visible keys, so a query gets the same bits in a block of a prefill as alone in a decode step.
 *
 * @param scale    multiplies q·k (head_dim^-0.5, or query_pre_attn_scalar^-0.5)
 * @param softCap  0 for none, else scores become cap · tanh(score / cap)
 * @param window   0 for full causal attention
 */
public record Attention(int headDim, float scale, float softCap, int window) {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Queries per block (of a prefill; the training forward and backward block the same way): three six-row tiles. */
    public static final int BLOCK = 18;

    /**
     * Blocks of {@link #BLOCK} queries over a sequence; a lone last query joins the block before it, since a block of
     * one row would run the GEMM's one-row tile, which a prefill otherwise never warms up.
     */
    public static int blocks(int seq) {
        return seq > 1 && seq % BLOCK == 1 ? seq / BLOCK : (seq + BLOCK - 1) / BLOCK;
    }

    /** One past the last query of block {@code block}. */
    public static int blockEnd(int block, int seq) {
        return block == blocks(seq) - 1 ? seq : (block + 1) * BLOCK;
    }

    /** The first key a query at {@code position} sees. */
    private int firstKey(int position) {
        return window > 0 ? Math.max(0, position - window + 1) : 0;
    }

    /** Floats of scratch {@link #attend} needs for {@code rows} queries ending at {@code lastPosition}. */
    public int scratchSize(int rows, int lastPosition) {
        return rows * (lastPosition + 1 - firstKey(lastPosition - rows + 1));
    }

    /**
     * Attends {@code rows} queries at positions {@code position, position + 1, ...}: query i at
     * {@code q[qOffset + i·qStride ..+headDim]}; writes its weighted values to {@code out[outOffset + i·outStride ..]}.
     * The head's keys are rows {@code keyRow .. keyRow + headDim} of a transposed key matrix with row stride
     * {@code capacity} ({@link KVCache#keys}); its values start at {@code values[valueOffset]}, one row of
     * {@code valueStride} per position.
     */
    public void attend(int rows, float[] q, int qOffset, int qStride, int position, float[] keys, int keyRow,
                       int capacity, float[] values, int valueOffset, int valueStride, float[] out, int outOffset,
                       int outStride, float[] scratch) {
        int from = firstKey(position);
        int span = position + rows - from;
        Gemm.serial(rows, span, headDim, q, qOffset, qStride, keys, keyRow * capacity + from, capacity, scratch, 0,
                span, false);
        for (int i = 0; i < rows; i++) {
            int p = position + i;
            softmax(scratch, i * span, firstKey(p) - from, p + 1 - from, span);
        }
        Gemm.serial(rows, headDim, span, scratch, 0, span, values, valueOffset + from * valueStride, valueStride,
                out, outOffset, outStride, false);
    }

    /**
     * Scores [lo, hi) of the row at {@code row} become probabilities (scale, soft-cap, softmax); the rest of the row's
     * {@code span} columns become 0. Vector steps start at lo, so a key's lane does not depend on the block.
     */
    private void softmax(float[] s, int row, int lo, int hi, int span) {
        if (softCap > 0) {
            for (int j = lo; j < hi; j++) {
                s[row + j] = (float) Math.tanh(s[row + j] * scale / softCap) * softCap;
            }
        } else {
            for (int j = lo; j < hi; j++) {
                s[row + j] *= scale;
            }
        }
        FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (int j = lo; j < hi; j += L) {
            VectorMask<Float> m = F.indexInRange(j, hi);
            mv = mv.max(FloatVector.fromArray(F, s, row + j, m).blend(Float.NEGATIVE_INFINITY, m.not()));
        }
        FloatVector max = FloatVector.broadcast(F, VectorMath.maxLanes(mv));
        FloatVector sum = FloatVector.zero(F);
        for (int j = lo; j < hi; j += L) {
            VectorMask<Float> m = F.indexInRange(j, hi);
            FloatVector e = VectorMath.exp(FloatVector.fromArray(F, s, row + j, m).sub(max));
            e.intoArray(s, row + j, m);
            sum = sum.add(e, m);
        }
        float inv = 1f / VectorMath.sumLanes(sum);
        for (int j = lo; j < hi; j += L) {
            VectorMask<Float> m = F.indexInRange(j, hi);
            FloatVector.fromArray(F, s, row + j, m).mul(inv).intoArray(s, row + j, m);
        }
        Arrays.fill(s, row, row + lo, 0f);
        Arrays.fill(s, row + hi, row + span, 0f);
    }
}
