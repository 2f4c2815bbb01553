package dev.crucible.model;

import dev.crucible.CrucibleException;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.ModelConfig;
import dev.crucible.io.ModelDirectory;
import dev.crucible.nn.Attention;
import dev.crucible.nn.KVCache;
import dev.crucible.nn.MoeOps;
import dev.crucible.nn.RmsNorm;
import dev.crucible.nn.RotaryEmbedding;
import dev.crucible.nn.TransformerSpec;
import dev.crucible.tensor.Gemm;
import dev.crucible.tensor.Parallel;
import dev.crucible.tensor.Tensor;
import dev.crucible.tensor.VectorMath;

import java.nio.file.Path;

/**
 * The decoder-only transformer of every registered family, driven by {@link TransformerSpec}: one code path
 * whose branches are the family's features. Computes in float32 from weights in their stored dtype.
 * A call to {@link #forward} appends tokens to a {@link KVCache}: a whole prompt batch (prefill) or one
 * token per sequence (decode) are the same call.
 */
public final class Transformer implements AutoCloseable {
    /** Which positions get logits. */
    public enum Logits { ALL, LAST, NONE }

    /** Receives transformers' {@code hidden_states[index]} as [tokens, hidden] for the whole batch. */
    @FunctionalInterface
    public interface HiddenStates {
        void accept(int index, float[] states);
    }

    private static final ThreadLocal<float[]> SCORES = ThreadLocal.withInitial(() -> new float[0]);

    private final TransformerSpec spec;
    private final TransformerWeights weights;
    private final AutoCloseable resources;

    public Transformer(TransformerSpec spec, TransformerWeights weights, AutoCloseable resources) {
        this.spec = spec;
        this.weights = weights;
        this.resources = resources;
    }

    /** Opens a Hugging Face model directory; the weights stay memory-mapped until {@link #close}. */
    public static Transformer load(Path modelDir) {
        return load(modelDir, TransformerWeights.Override.NONE);
    }

    /**
     * Opens a model directory with some weights replaced as they are read (a LoRA adapter folded in by the caller);
     * the others stay memory-mapped until {@link #close}.
     */
    public static Transformer load(Path modelDir, TransformerWeights.Override override) {
        return load(ModelDirectory.open(modelDir), override);
    }

    /** As {@link #load(Path, TransformerWeights.Override)}, on a directory the caller has open already. */
    public static Transformer load(ModelDirectory dir, TransformerWeights.Override override) {
        ModelConfig config = dir.config();
        Checkpoint checkpoint = dir.openCheckpoint();
        try {
            TransformerSpec spec = TransformerSpec.of(config, checkpoint.names());
            return new Transformer(spec, TransformerWeights.load(checkpoint, spec, override), checkpoint);
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    public TransformerSpec spec() {
        return spec;
    }

    public TransformerWeights weights() {
        return weights;
    }

    public KVCache newCache(int batch, int capacity) {
        return new KVCache(spec.layers(), batch, spec.kvHeads() * spec.headDim(), capacity);
    }

    /**
     * Appends {@code tokens[b]} (all of equal length) to sequence b of {@code cache} and returns the logits
     * the mode asks for: [batch, seq, vocab] for ALL, [batch, vocab] for LAST, null for NONE. When longrope
     * switches to its long factors, the cached positions are recomputed with them first, as transformers'
     * generate does for Phi-3.
     */
    public float[] forward(int[][] tokens, KVCache cache, Logits mode, HiddenStates hiddenStates) {
        int batch = tokens.length;
        int seq = tokens[0].length;
        if (batch != cache.batch()) {
            throw new IllegalArgumentException(batch + " sequences for a cache of " + cache.batch());
        }
        for (int[] row : tokens) {
            if (row.length != seq) {
                throw new IllegalArgumentException("all sequences of a batch must have the same length");
            }
        }
        int start = cache.length();
        if (spec.rope().invalidatesCache(start, start + seq)) {
            int[][] cached = new int[batch][];
            for (int b = 0; b < batch; b++) {
                cached[b] = cache.tokens(b);
            }
            cache.truncate(0);
            forward(cached, cache, Logits.NONE, null, start + seq);
        }
        return forward(tokens, cache, mode, hiddenStates, start + seq);
    }

    /** {@code ropeEnd}: the sequence length that selects the rope frequencies (longrope's short or long). */
    private float[] forward(int[][] tokens, KVCache cache, Logits mode, HiddenStates hiddenStates, int ropeEnd) {
        int batch = tokens.length;
        int seq = tokens[0].length;
        int start = cache.length();
        int n = batch * seq;
        int h = spec.hidden();
        cache.reserve(start + seq);

        float[] x = embed(tokens, n);
        emit(hiddenStates, 0, x);
        RotaryEmbedding.Table rope = spec.rope().table(start, seq, ropeEnd);
        float[] normed = new float[n * h];
        float[] delta = new float[n * h];
        Scratch scratch = new Scratch(n);
        for (int l = 0; l < spec.layers(); l++) {
            TransformerWeights.Layer w = weights.layer(l);
            w.inputNorm().apply(x, n, normed);
            attention(l, w, normed, n, batch, seq, start, rope, cache, scratch, delta);
            if (w.preFeedforwardNorm() != null) { // Gemma 2 sandwich: norm each branch's output too
                w.postAttentionNorm().apply(delta, n, delta);
                VectorMath.addInPlace(x, delta, n * h);
                w.preFeedforwardNorm().apply(x, n, normed);
                mlp(w, normed, n, scratch, delta);
                w.postFeedforwardNorm().apply(delta, n, delta);
            } else {
                VectorMath.addInPlace(x, delta, n * h);
                w.postAttentionNorm().apply(x, n, normed);
                mlp(w, normed, n, scratch, delta);
            }
            VectorMath.addInPlace(x, delta, n * h);
            if (l + 1 < spec.layers()) {
                emit(hiddenStates, l + 1, x);
            }
        }
        cache.advance(tokens);
        weights.finalNorm().apply(x, n, x);
        emit(hiddenStates, spec.layers(), x);
        return switch (mode) {
            case NONE -> null;
            case ALL -> logits(x, n);
            case LAST -> {
                float[] last = new float[batch * h];
                for (int b = 0; b < batch; b++) {
                    System.arraycopy(x, ((b + 1) * seq - 1) * h, last, b * h, h);
                }
                yield logits(last, batch);
            }
        };
    }

    /**
     * The per-layer intermediates of one forward, allocated once and reused by every layer: a 4 x 512 prefill of a
     * SmolLM2-sized model would otherwise allocate ~1.5 GB of short-lived arrays, which the collector lets the heap
     * grow into.
     */
    private final class Scratch {
        final float[] qkv;
        final float[] context;
        final float[] gateUp;
        final float[] act;

        Scratch(int n) {
            qkv = new float[n * spec.qkvWidth()];
            context = new float[n * spec.heads() * spec.headDim()];
            boolean dense = spec.experts() == 0;
            gateUp = dense ? new float[n * 2 * spec.intermediate()] : null;
            act = dense ? new float[n * spec.intermediate()] : null;
        }
    }

    private static void emit(HiddenStates sink, int index, float[] x) {
        if (sink != null) {
            sink.accept(index, x.clone());
        }
    }

    private float[] embed(int[][] tokens, int n) {
        int h = spec.hidden();
        float[] x = new float[n * h];
        Tensor table = weights.embedding();
        int seq = tokens[0].length;
        for (int b = 0; b < tokens.length; b++) {
            for (int t = 0; t < seq; t++) {
                int id = tokens[b][t];
                if (id < 0 || id >= spec.vocab()) {
                    throw new CrucibleException("token id " + id + " is outside the vocabulary [0, " + spec.vocab() + ")");
                }
                table.readFloats((long) id * h, x, (b * seq + t) * h, h);
            }
        }
        if (spec.embeddingScale() != 0) {
            float s = spec.embeddingScale();
            for (int i = 0; i < x.length; i++) {
                x[i] *= s;
            }
        }
        return x;
    }

    private float[] logits(float[] states, int rows) {
        float[] out = new float[rows * spec.vocab()];
        Gemm.linear(states, rows, weights.lmHead(), null, out);
        float cap = spec.finalSoftCap();
        if (cap > 0) {
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) Math.tanh(out[i] / cap) * cap;
            }
        }
        return out;
    }

    private void attention(int layer, TransformerWeights.Layer w, float[] normed, int n, int batch, int seq, int start,
                           RotaryEmbedding.Table rope, KVCache cache, Scratch scratch, float[] out) {
        int d = spec.headDim();
        int heads = spec.heads();
        int kvHeads = spec.kvHeads();
        int qw = heads * d;
        int kvw = kvHeads * d;
        int width = spec.qkvWidth();
        float[] qkv = scratch.qkv;
        Gemm.linear(normed, n, w.qkv(), w.qkvBias(), qkv);
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < seq; t++) {
                int row = (b * seq + t) * width;
                if (w.queryNorm() != null) {
                    w.queryNorm().apply(qkv, row, d, heads, qkv, row, d);
                    w.keyNorm().apply(qkv, row + qw, d, kvHeads, qkv, row + qw, d);
                }
                rope.rotate(qkv, row, heads, t);
                rope.rotate(qkv, row + qw, kvHeads, t);
                cache.put(layer, b, start + t, qkv, row + qw, qkv, row + qw + kvw);
            }
        }
        Attention attn = new Attention(d, spec.attentionScale(), spec.attentionSoftCap(), spec.slidingWindows()[layer]);
        float[] context = scratch.context;
        int queryBlocks = Attention.blocks(seq);
        int group = heads / kvHeads;
        int capacity = cache.capacity();
        long work = 2L * batch * heads * seq * (start + seq) * d;
        Parallel.forEach(batch * heads * queryBlocks, work, task -> {
            int b = task / (heads * queryBlocks);
            int head = task / queryBlocks % heads;
            int t0 = task % queryBlocks * Attention.BLOCK;
            int rows = Attention.blockEnd(task % queryBlocks, seq) - t0;
            float[] scores = SCORES.get();
            int need = attn.scratchSize(rows, start + t0 + rows - 1);
            if (scores.length < need) {
                scores = new float[need];
                SCORES.set(scores);
            }
            int token = b * seq + t0;
            int kv = head / group * d;
            attn.attend(rows, qkv, token * width + head * d, width, start + t0, cache.keys(layer, b), kv, capacity,
                    cache.values(layer, b), kv, kvw, context, token * qw + head * d, qw, scores);
        });
        Gemm.linear(context, n, w.o(), null, out);
    }

    private void mlp(TransformerWeights.Layer w, float[] normed, int n, Scratch scratch, float[] out) {
        if (w.router() != null) {
            mixtureOfExperts(w, normed, n, out);
            return;
        }
        int inter = spec.intermediate();
        float[] gateUp = scratch.gateUp;
        Gemm.linear(normed, n, w.gateUp(), null, gateUp);
        float[] act = scratch.act;
        spec.activation().gate(gateUp, 2 * inter, 0, inter, n, inter, act);
        Gemm.linear(act, n, w.down(), null, out);
    }

    /**
     * Mixtral's sparse MLP: each token routed by {@link MoeOps#route} (the rule training uses too), each expert
     * applied to its tokens, the weighted outputs summed in expert order.
     */
    private void mixtureOfExperts(TransformerWeights.Layer w, float[] normed, int n, float[] out) {
        int h = spec.hidden();
        int experts = spec.experts();
        int topK = spec.expertsPerToken();
        float[] routerLogits = new float[n * experts];
        Gemm.linear(normed, n, w.router(), null, routerLogits);
        int[] chosen = new int[n * topK];
        float[] gates = new float[n * topK];
        for (int t = 0; t < n; t++) {
            MoeOps.route(routerLogits, t * experts, experts, topK, chosen, gates, t * topK);
        }
        java.util.Arrays.fill(out, 0, n * h, 0f);
        int inter = spec.intermediate();
        for (int e = 0; e < experts; e++) {
            int count = 0;
            int[] rows = new int[n];
            float[] weight = new float[n];
            for (int t = 0; t < n; t++) {
                for (int i = 0; i < topK; i++) {
                    if (chosen[t * topK + i] == e) {
                        rows[count] = t;
                        weight[count++] = gates[t * topK + i];
                    }
                }
            }
            if (count == 0) {
                continue;
            }
            float[] in = new float[count * h];
            for (int r = 0; r < count; r++) {
                System.arraycopy(normed, rows[r] * h, in, r * h, h);
            }
            float[] gateUp = new float[count * 2 * inter];
            Gemm.linear(in, count, w.expertGateUp()[e], null, gateUp);
            float[] act = new float[count * inter];
            spec.activation().gate(gateUp, 2 * inter, 0, inter, count, inter, act);
            float[] y = new float[count * h];
            Gemm.linear(act, count, w.expertDown()[e], null, y);
            for (int r = 0; r < count; r++) {
                VectorMath.axpy(weight[r], y, r * h, out, rows[r] * h, h);
            }
        }
    }

    @Override
    public void close() {
        weights.close();
        try {
            resources.close();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
