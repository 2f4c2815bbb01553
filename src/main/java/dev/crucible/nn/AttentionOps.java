package dev.crucible.nn;

import dev.crucible.autograd.Ops;
import dev.crucible.autograd.Tape;
import dev.crucible.autograd.Var;
import dev.crucible.tensor.Gemm;
import dev.crucible.tensor.Parallel;
import dev.crucible.tensor.VectorMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Rotary position embedding and causal grouped-query attention on the token-major layout the projections produce:
 * q [N, heads·D], k and v [N, kvHeads·D], with N = batch × seq and token n at position n mod seq.
 */
public final class AttentionOps {
    private AttentionOps() {
    }

    /**
     * {@code x·cos + rotate_half(x)·sin} for every head of every token, where rotate_half(x) = [-x₂, x₁] over the
     * two halves of a head; {@code tables} hold cos and sin [seq, D].
     */
    public static Var rope(Tape tape, Var x, int seq, int headDim, float[][] tables) {
        int[] positions = new int[x.dim(0)];
        for (int tok = 0; tok < positions.length; tok++) {
            positions[tok] = tok % seq;
        }
        return rope(tape, x, positions, headDim, tables);
    }

    /** Rope with an explicit position per token (sample packing restarts positions at every example). */
    public static Var rope(Tape tape, Var x, int[] positions, int headDim, float[][] tables) {
        return rope(tape, x, positions, headDim, headDim, tables);
    }

    /**
     * Partial rope ({@code partial_rotary_factor}): only the first {@code rotaryDim} dimensions of each head rotate,
     * pairing i with i + rotaryDim/2; the rest pass through unchanged. The tables stay [seq, D].
     */
    public static Var rope(Tape tape, Var x, int[] positions, int headDim, int rotaryDim, float[][] tables) {
        float[] cos = tables[0];
        float[] sin = tables[1];
        int width = x.dim(1);
        int n = x.dim(0);
        int half = rotaryDim / 2;
        float[] xv = x.value();
        float[] out = new float[xv.length];
        for (int tok = 0; tok < n; tok++) {
            int pos = positions[tok] * headDim;
            for (int h = 0; h < width; h += headDim) {
                int base = tok * width + h;
                for (int d = 0; d < rotaryDim; d++) {
                    float rot = d < half ? -xv[base + d + half] : xv[base + d - half];
                    out[base + d] = xv[base + d] * cos[pos + d] + rot * sin[pos + d];
                }
                System.arraycopy(xv, base + rotaryDim, out, base + rotaryDim, headDim - rotaryDim);
            }
        }
        Var y = new Var(out, x.requiresGrad(), x.shape());
        if (x.requiresGrad()) {
            tape.record(() -> {
                if (!y.hasGrad()) {
                    return;
                }
                float[] dy = y.grad();
                float[] dx = x.grad();
                for (int tok = 0; tok < n; tok++) {
                    int pos = positions[tok] * headDim;
                    for (int h = 0; h < width; h += headDim) {
                        int base = tok * width + h;
                        for (int d = 0; d < rotaryDim; d++) {
                            float fromRot = d < half ? dy[base + d + half] * sin[pos + d + half]
                                    : -dy[base + d - half] * sin[pos + d - half];
                            dx[base + d] += dy[base + d] * cos[pos + d] + fromRot;
                        }
                        for (int d = rotaryDim; d < headDim; d++) {
                            dx[base + d] += dy[base + d];
                        }
                    }
                }
            });
        }
        return y;
    }

    /**
     * Causal softmax attention {@code softmax(q·kᵀ·scale) v} per head, query head h reading key/value head
     * h / (heads / kvHeads). A positive {@code slidingWindow} lets a query see only the last that many positions;
     * a positive {@code softCap} bounds scores as {@code cap·tanh(s/cap)} (Gemma 2).
     */
    public static Var attention(Tape tape, Var q, Var k, Var v, int batch, int seq, int heads, int kvHeads, int headDim,
                                double scale, int slidingWindow, double softCap) {
        return attention(tape, q, k, v, batch, seq, heads, kvHeads, headDim, scale, slidingWindow, softCap, null);
    }

    /**
     * Attention with an optional block-diagonal mask for packed sequences: {@code segmentStarts[b·seq + i]} is the
     * first position of the example token i of row b belongs to, so a query sees only earlier keys of its own
     * example (examples lie back to back, so the visible keys stay one contiguous range). Null: plain causal.
     */
    public static Var attention(Tape tape, Var q, Var k, Var v, int batch, int seq, int heads, int kvHeads, int headDim,
                                double scale, int slidingWindow, double softCap, int[] segmentStarts) {
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException(heads + " query heads cannot share " + kvHeads + " key/value heads");
        }
        int group = heads / kvHeads;
        int qw = heads * headDim;
        int kw = kvHeads * headDim;
        float[] qv = q.value();
        float[] kv = k.value();
        float[] vv = v.value();
        float[] out = new float[batch * seq * qw];
        // backward recomputes the probabilities from q, k and each row's log-sum-exp instead of keeping
        // [batch, heads, seq, seq] of them (38 MB per layer at 4 x 512 with 9 heads); the extra Q·Kᵀ is cheap
        float[] lse = new float[batch * heads * seq];
        float s = (float) scale;
        long work = (long) batch * heads * seq * seq * headDim;
        Parallel.forEach(batch * heads, work, bh -> {
            int b = bh / heads;
            int h = bh % heads;
            int qOff = b * seq * qw + h * headDim;
            int kOff = b * seq * kw + h / group * headDim;
            float[] kt = transposed(kv, kOff, kw, seq, headDim, 0);
            float[] p = scratch(P, (Attention.BLOCK + 1) * seq);
            for (int block = 0; block < Attention.blocks(seq); block++) {
                int i0 = block * Attention.BLOCK;
                int rows = Attention.blockEnd(block, seq) - i0;
                int visible = i0 + rows; // causal: no row of the block sees a key past its last row
                java.util.Arrays.fill(p, 0, rows * seq, 0f);
                Gemm.serial(rows, visible, headDim, qv, qOff + i0 * qw, qw, kt, 0, seq, p, 0, seq, true);
                for (int i = i0; i < i0 + rows; i++) {
                    lse[bh * seq + i] = softmaxRow(p, (i - i0) * seq, first(b, i, seq, slidingWindow, segmentStarts), i,
                            visible, s, softCap);
                }
                Gemm.serial(rows, headDim, visible, p, 0, seq, vv, kOff, kw, out, qOff + i0 * qw, qw, true);
            }
        });
        Var y = new Var(out, Ops.any(q, k, v), batch * seq, qw);
        if (y.requiresGrad()) {
            tape.record(() -> {
                if (!y.hasGrad()) {
                    return;
                }
                float[] dOut = y.grad();
                float[] dq = q.requiresGrad() ? q.grad() : null;
                float[] dk = k.requiresGrad() ? k.grad() : null;
                float[] dv = v.requiresGrad() ? v.grad() : null;
                // one task per (batch, kv head) so that dk and dv of a group are written by one thread
                Parallel.forEach(batch * kvHeads, 3 * work, bg -> {
                    int b = bg / kvHeads;
                    int kvh = bg % kvHeads;
                    int kOff = b * seq * kw + kvh * headDim;
                    float[] vt = transposed(vv, kOff, kw, seq, headDim, 0);
                    float[] kt = transposed(kv, kOff, kw, seq, headDim, 1);
                    float[] probs = scratch(P, seq * seq);
                    float[] dS = scratch(DS, seq * seq);
                    float[] capSlope = softCap > 0 ? new float[seq] : null;
                    // dKᵀ and dVᵀ [headDim, seq] summed over the group's heads, added into dk and dv at the end
                    float[] dkt = dk == null ? null : new float[headDim * seq];
                    float[] dvt = dv == null ? null : new float[headDim * seq];
                    for (int h = kvh * group; h < (kvh + 1) * group; h++) {
                        int qOff = b * seq * qw + h * headDim;
                        int bh = b * heads + h;
                        for (int block = 0; block < Attention.blocks(seq); block++) {
                            int i0 = block * Attention.BLOCK;
                            int rows = Attention.blockEnd(block, seq) - i0;
                            int visible = i0 + rows;
                            java.util.Arrays.fill(probs, i0 * seq, (i0 + rows) * seq, 0f);
                            java.util.Arrays.fill(dS, i0 * seq, (i0 + rows) * seq, 0f);
                            Gemm.serial(rows, visible, headDim, qv, qOff + i0 * qw, qw, kt, 0, seq, probs, i0 * seq, seq, true);
                            // dP = dO Vᵀ
                            Gemm.serial(rows, visible, headDim, dOut, qOff + i0 * qw, qw, vt, 0, seq, dS, i0 * seq, seq, true);
                            for (int i = i0; i < i0 + rows; i++) {
                                int first = first(b, i, seq, slidingWindow, segmentStarts);
                                int row = i * seq;
                                float rowLse = lse[bh * seq + i];
                                // P = exp(score - lse); dS = P ⊙ (dP - Σ_j P dP) · d score / d raw · scale
                                double weighted = softCap > 0 ? 0 : expAndDot(probs, dS, row, first, i + 1, s, rowLse);
                                for (int j = first; j <= i && softCap > 0; j++) {
                                    float score = probs[row + j] * s;
                                    if (softCap > 0) {
                                        score = (float) (softCap * Math.tanh(score / softCap));
                                        // score = cap·tanh(raw/cap), so d score / d raw = 1 - (score/cap)²
                                        capSlope[j] = 1 - (score / (float) softCap) * (score / (float) softCap);
                                    }
                                    float pj = (float) Math.exp(score - rowLse);
                                    probs[row + j] = pj;
                                    weighted += (double) dS[row + j] * pj;
                                }
                                float wsum = (float) weighted;
                                int j = first;
                                if (softCap <= 0) {
                                    FloatVector w = FloatVector.broadcast(F, wsum);
                                    for (; j + F.length() <= i + 1; j += F.length()) {
                                        FloatVector.fromArray(F, dS, row + j).sub(w)
                                                .mul(FloatVector.fromArray(F, probs, row + j)).mul(s)
                                                .intoArray(dS, row + j);
                                    }
                                }
                                for (; j <= i; j++) {
                                    float ds = probs[row + j] * (dS[row + j] - wsum);
                                    if (softCap > 0) {
                                        ds *= capSlope[j];
                                    }
                                    dS[row + j] = ds * s;
                                }
                                java.util.Arrays.fill(probs, row, row + first, 0f);
                                java.util.Arrays.fill(dS, row, row + first, 0f);
                                java.util.Arrays.fill(probs, row + i + 1, row + visible, 0f);
                                java.util.Arrays.fill(dS, row + i + 1, row + visible, 0f);
                            }
                            if (dq != null) {
                                Gemm.serial(rows, headDim, visible, dS, i0 * seq, seq, kv, kOff, kw, dq, qOff + i0 * qw, qw, true);
                            }
                        }
                        // key block j0 receives from the queries i >= j0 only (causal)
                        float[] qt = dkt == null ? null : transposed(qv, qOff, qw, seq, headDim, 2);
                        float[] dot = dvt == null ? null : transposed(dOut, qOff, qw, seq, headDim, 3);
                        for (int j0 = 0; j0 < seq; j0 += KEY_BLOCK) {
                            int j1 = Math.min(seq, j0 + KEY_BLOCK);
                            if (dkt != null) { // dKᵀ += Qᵀ dS
                                Gemm.serial(headDim, j1 - j0, seq - j0, qt, j0, seq, dS, j0 * seq + j0, seq, dkt, j0, seq, true);
                            }
                            if (dvt != null) { // dVᵀ += dOᵀ P
                                Gemm.serial(headDim, j1 - j0, seq - j0, dot, j0, seq, probs, j0 * seq + j0, seq, dvt, j0, seq, true);
                            }
                        }
                    }
                    addTransposed(dkt, dk, kOff, kw, seq, headDim);
                    addTransposed(dvt, dv, kOff, kw, seq, headDim);
                });
            });
        }
        return y;
    }

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Key columns per block in the key and value gradients. */
    private static final int KEY_BLOCK = 64;
    private static final ThreadLocal<float[]> DS = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> P = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[][]> TRANSPOSED = ThreadLocal.withInitial(() -> new float[4][0]);

    private static float[] scratch(ThreadLocal<float[]> holder, int size) {
        float[] a = holder.get();
        if (a.length < size) {
            a = new float[size];
            holder.set(a);
        }
        return a;
    }

    /** One head's [seq, headDim] slice of a token-major matrix (row stride {@code ld}) as [headDim, seq]. */
    private static float[] transposed(float[] x, int off, int ld, int seq, int headDim, int slot) {
        float[][] slots = TRANSPOSED.get();
        if (slots[slot].length < seq * headDim) {
            slots[slot] = new float[seq * headDim];
        }
        float[] t = slots[slot];
        for (int i = 0; i < seq; i++) {
            for (int d = 0; d < headDim; d++) {
                t[d * seq + i] = x[off + i * ld + d];
            }
        }
        return t;
    }

    private static void addTransposed(float[] t, float[] into, int off, int ld, int seq, int headDim) {
        if (t == null) {
            return;
        }
        for (int i = 0; i < seq; i++) {
            for (int d = 0; d < headDim; d++) {
                into[off + i * ld + d] += t[d * seq + i];
            }
        }
    }

    /**
     * Turns row {@code row} of raw scores (columns [0, visible)) into probabilities over keys [first, last]: scale,
     * soft-cap, softmax; every other column of the row becomes 0. Returns the row's log-sum-exp of the scores.
     */
    private static float softmaxRow(float[] p, int row, int first, int last, int visible, float scale, double softCap) {
        if (softCap <= 0) {
            return softmaxRowVector(p, row, first, last, visible, scale);
        }
        float max = Float.NEGATIVE_INFINITY;
        for (int j = first; j <= last; j++) {
            float score = p[row + j] * scale;
            if (softCap > 0) {
                score = (float) (softCap * Math.tanh(score / softCap));
            }
            p[row + j] = score;
            max = Math.max(max, score);
        }
        double sum = 0;
        for (int j = first; j <= last; j++) {
            float e = (float) Math.exp(p[row + j] - max);
            p[row + j] = e;
            sum += e;
        }
        float inv = (float) (1 / sum);
        for (int j = first; j <= last; j++) {
            p[row + j] *= inv;
        }
        java.util.Arrays.fill(p, row, row + first, 0f);
        java.util.Arrays.fill(p, row + last + 1, row + visible, 0f);
        return (float) (max + Math.log(sum));
    }

    /** {@link #softmaxRow} without soft-capping, vectorised. */
    private static float softmaxRowVector(float[] p, int row, int first, int last, int visible, float scale) {
        int end = last + 1;
        FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int j = first;
        for (; j + F.length() <= end; j += F.length()) {
            mv = mv.max(FloatVector.fromArray(F, p, row + j));
        }
        float rawMax = VectorMath.maxLanes(mv);
        for (; j < end; j++) {
            rawMax = Math.max(rawMax, p[row + j]);
        }
        float max = rawMax * scale; // scale > 0, so the largest raw score gives the largest scaled one
        FloatVector sv = FloatVector.zero(F);
        j = first;
        for (; j + F.length() <= end; j += F.length()) {
            FloatVector e = VectorMath.exp(FloatVector.fromArray(F, p, row + j).mul(scale).sub(max));
            e.intoArray(p, row + j);
            sv = sv.add(e);
        }
        double sum = VectorMath.sumLanes(sv);
        for (; j < end; j++) {
            float e = (float) Math.exp(p[row + j] * scale - max);
            p[row + j] = e;
            sum += e;
        }
        float inv = (float) (1 / sum);
        j = first;
        for (; j + F.length() <= end; j += F.length()) {
            FloatVector.fromArray(F, p, row + j).mul(inv).intoArray(p, row + j);
        }
        for (; j < end; j++) {
            p[row + j] *= inv;
        }
        java.util.Arrays.fill(p, row, row + first, 0f);
        java.util.Arrays.fill(p, row + end, row + visible, 0f);
        return (float) (max + Math.log(sum));
    }

    /**
     * Over columns [from, to) of a row: raw scores in {@code p} become probabilities {@code exp(raw·scale - lse)};
     * returns {@code Σ p · dP} with dP read from {@code dP}.
     */
    private static double expAndDot(float[] p, float[] dP, int row, int from, int to, float scale, float lse) {
        FloatVector acc = FloatVector.zero(F);
        int j = from;
        for (; j + F.length() <= to; j += F.length()) {
            FloatVector e = VectorMath.exp(FloatVector.fromArray(F, p, row + j).mul(scale).sub(lse));
            e.intoArray(p, row + j);
            acc = e.fma(FloatVector.fromArray(F, dP, row + j), acc);
        }
        double sum = VectorMath.sumLanes(acc);
        for (; j < to; j++) {
            float e = (float) Math.exp(p[row + j] * scale - lse);
            p[row + j] = e;
            sum += (double) e * dP[row + j];
        }
        return sum;
    }

    /** The first key position query i of row b may attend. */
    private static int first(int b, int i, int seq, int slidingWindow, int[] segmentStarts) {
        int first = slidingWindow > 0 ? Math.max(0, i - slidingWindow + 1) : 0;
        return segmentStarts == null ? first : Math.max(first, segmentStarts[b * seq + i]);
    }

    /** {@code segmentStarts} for {@link #attention} from per-token example indices [batch, seq] (contiguous runs). */
    public static int[] segmentStarts(int[] sequenceIds, int batch, int seq) {
        int[] starts = new int[batch * seq];
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < seq; i++) {
                int t = b * seq + i;
                starts[t] = i > 0 && sequenceIds[t] == sequenceIds[t - 1] ? starts[t - 1] : i;
            }
        }
        return starts;
    }
}
