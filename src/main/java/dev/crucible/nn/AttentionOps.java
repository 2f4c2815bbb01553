package dev.crucible.nn;

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
        // probabilities [batch, heads, seq, seq] are kept for the backward pass
        float[] probs = new float[batch * heads * seq * seq];
        float s = (float) scale;
        boolean parallel = (long) batch * heads * seq * seq * headDim > (1 << 16);
        Ops.range(batch * heads, parallel).forEach(bh -> {
            int b = bh / heads;
            int h = bh % heads;
            int kvh = h / group;
            int pOff = bh * seq * seq;
            for (int i = 0; i < seq; i++) {
                int qOff = (b * seq + i) * qw + h * headDim;
                int first = first(b, i, seq, slidingWindow, segmentStarts);
                float max = Float.NEGATIVE_INFINITY;
                for (int j = first; j <= i; j++) {
                    float score = Matmul.dot(qv, qOff, kv, (b * seq + j) * kw + kvh * headDim, headDim) * s;
                    if (softCap > 0) {
                        score = (float) (softCap * Math.tanh(score / softCap));
                    }
                    probs[pOff + i * seq + j] = score;
                    max = Math.max(max, score);
                }
                double sum = 0;
                for (int j = first; j <= i; j++) {
                    float e = (float) Math.exp(probs[pOff + i * seq + j] - max);
                    probs[pOff + i * seq + j] = e;
                    sum += e;
                }
                float inv = (float) (1 / sum);
                int oOff = (b * seq + i) * qw + h * headDim;
                for (int j = first; j <= i; j++) {
                    float p = probs[pOff + i * seq + j] * inv;
                    probs[pOff + i * seq + j] = p;
                    Matmul.axpy(p, vv, (b * seq + j) * kw + kvh * headDim, out, oOff, headDim);
                }
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
                Ops.range(batch * kvHeads, parallel).forEach(bg -> {
                    int b = bg / kvHeads;
                    int kvh = bg % kvHeads;
                    float[] dScore = new float[seq];
                    for (int h = kvh * group; h < (kvh + 1) * group; h++) {
                        int pOff = (b * heads + h) * seq * seq;
                        for (int i = 0; i < seq; i++) {
                            int oOff = (b * seq + i) * qw + h * headDim;
                            int first = first(b, i, seq, slidingWindow, segmentStarts);
                            double weighted = 0;
                            for (int j = first; j <= i; j++) {
                                int vOff = (b * seq + j) * kw + kvh * headDim;
                                float dp = Matmul.dot(dOut, oOff, vv, vOff, headDim);
                                dScore[j] = dp;
                                weighted += (double) dp * probs[pOff + i * seq + j];
                                if (dv != null) {
                                    Matmul.axpy(probs[pOff + i * seq + j], dOut, oOff, dv, vOff, headDim);
                                }
                            }
                            for (int j = first; j <= i; j++) {
                                float p = probs[pOff + i * seq + j];
                                float ds = p * (dScore[j] - (float) weighted);
                                if (softCap > 0) {
                                    // score = cap·tanh(raw/cap), so d score / d raw = 1 - tanh² = 1 - (score/cap)²
                                    int kOff = (b * seq + j) * kw + kvh * headDim;
                                    float raw = Matmul.dot(qv, oOff, kv, kOff, headDim) * s;
                                    double t = Math.tanh(raw / softCap);
                                    ds *= (float) (1 - t * t);
                                }
                                ds *= s;
                                int kOff = (b * seq + j) * kw + kvh * headDim;
                                if (dq != null) {
                                    Matmul.axpy(ds, kv, kOff, dq, oOff, headDim);
                                }
                                if (dk != null) {
                                    Matmul.axpy(ds, qv, oOff, dk, kOff, headDim);
                                }
                            }
                        }
                    }
                });
            });
        }
        return y;
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
