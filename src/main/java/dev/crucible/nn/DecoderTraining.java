package dev.crucible.nn;

import dev.crucible.CrucibleException;
import dev.crucible.autograd.FrozenWeight;
import dev.crucible.autograd.LogProbs;
import dev.crucible.autograd.LoraOps;
import dev.crucible.autograd.Ops;
import dev.crucible.autograd.Parameter;
import dev.crucible.autograd.Tape;
import dev.crucible.autograd.Var;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.ModelConfig;
import dev.crucible.arch.Architecture;
import dev.crucible.tensor.Nf4Weight;
import dev.crucible.tensor.VectorMath;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The training forward of the decoder families in the architecture registry (llama, mistral, qwen2, qwen3, gemma,
 * gemma2, phi3, mixtral) on the tape, reading the family's features: attention bias, q/k norms, (1+w) norms,
 * embedding scale, GeLU-tanh, sandwich norms, attention and final-logit soft-capping, sliding windows, fused
 * qkv and gate_up projections, top-k MoE. LoRA/DoRA adapters can sit on any linear layer, over a float or NF4 base.
 */
public final class DecoderTraining {
    /**
     * The logits [batch·seq, vocab] (only without labels), the loss (only with labels), and how many label tokens it
     * averaged over.
     */
    public record Output(Var logits, Var loss, long lossTokens) {
    }

    private final TransformerSpec spec;
    private final Architecture.Features features;
    private final Map<String, Var> weights;
    private final Map<String, FrozenWeight> frozenLinear;
    private final Map<String, LoraOps.Adapter> adapters;
    private final int rotaryDim;
    private boolean gradientCheckpointing;

    /** A model whose weights are all float32 Vars (full fine-tuning, LoRA, DoRA). */
    public DecoderTraining(ModelConfig config, Map<String, Var> weights, Map<String, LoraOps.Adapter> adapters) {
        this(config, weights, Map.of(), adapters);
    }

    /**
     * @param weights      tensors by name: trainable ({@link Var#of}) or frozen ({@link Var#constant})
     * @param frozenLinear linear weights held outside {@code weights} by module path, e.g. NF4 for QLoRA
     * @param adapters     adapters by module path ({@code model.layers.0.self_attn.q_proj}); empty for full fine-tuning
     */
    public DecoderTraining(ModelConfig config, Map<String, Var> weights, Map<String, FrozenWeight> frozenLinear,
                           Map<String, LoraOps.Adapter> adapters) {
        Set<String> names = new HashSet<>(weights.keySet());
        frozenLinear.keySet().forEach(m -> names.add(m + ".weight"));
        this.spec = TransformerSpec.of(config, Architecture.ofOrInfer(config, names));
        this.features = spec.features();
        this.rotaryDim = spec.rope().rotaryDim();
        this.weights = weights;
        this.frozenLinear = frozenLinear;
        this.adapters = adapters;
        if (adapters.containsKey("lm_head") || frozenLinear.containsKey("lm_head")) {
            throw new CrucibleException("an adapter or a quantised weight on lm_head cannot be trained: the output layer"
                    + " runs in chunks from its float weight (train lm_head through modules_to_save instead)");
        }
    }

    /** Recompute each layer in backward instead of keeping its activations (trades compute for memory). */
    public DecoderTraining gradientCheckpointing(boolean on) {
        this.gradientCheckpointing = on;
        return this;
    }

    /**
     * Every tensor of {@code checkpoint} as float32, except those named in {@code skip}: trainable parameters (added
     * to {@code parameters}) when {@code trainable}, else constants.
     */
    public static Map<String, Var> loadWeights(Checkpoint checkpoint, boolean trainable, List<Parameter> parameters,
                                               Set<String> skip) {
        Map<String, Var> out = new LinkedHashMap<>();
        for (String name : checkpoint.names()) {
            if (skip.contains(name)) {
                continue;
            }
            var t = checkpoint.tensor(name);
            int[] shape = new int[t.rank()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = Math.toIntExact(t.dim(i));
            }
            float[] values = t.toFloatArray();
            if (trainable) {
                Parameter p = new Parameter(name, values, t.shape());
                parameters.add(p);
                out.put(name, Var.of(p));
            } else {
                out.put(name, Var.constant(values, shape));
            }
        }
        return out;
    }

    public static Map<String, Var> loadWeights(Checkpoint checkpoint, boolean trainable, List<Parameter> parameters) {
        return loadWeights(checkpoint, trainable, parameters, Set.of());
    }

    /**
     * QLoRA's frozen base: every 2-D weight inside the decoder layers quantised to NF4 with double quantisation
     * (bitsandbytes leaves the embeddings and the head in float), by module path.
     */
    public static Map<String, FrozenWeight> quantizeLayerLinears(Checkpoint checkpoint) {
        Map<String, FrozenWeight> out = new LinkedHashMap<>();
        for (String module : LinearLayers.inDecoderLayers(checkpoint)) {
            var t = checkpoint.tensor(module + ".weight");
            out.put(module, FrozenWeight.nf4(Nf4Weight.quantize(t.toFloatArray(),
                    Math.toIntExact(t.dim(0)), Math.toIntExact(t.dim(1)), true)));
        }
        return out;
    }

    private Var weight(String name) {
        Var w = weights.get(name);
        if (w == null) {
            throw new CrucibleException("model has no tensor '" + name + "'");
        }
        return w;
    }

    private Var project(Tape tape, Var x, String module, SplittableRandom rng) {
        Var bias = weights.get(module + ".bias");
        LoraOps.Adapter adapter = adapters.get(module);
        FrozenWeight frozen = frozenLinear.get(module);
        if (frozen != null) {
            return adapter == null ? Ops.linear(tape, x, frozen, bias) : LoraOps.loraLinear(tape, x, frozen, bias, adapter, rng);
        }
        Var w = weight(module + ".weight");
        return adapter == null ? Ops.linear(tape, x, w, bias) : LoraOps.loraLinear(tape, x, w, bias, adapter, rng);
    }

    private Var norm(Tape tape, Var x, String name) {
        return Ops.rmsNorm(tape, x, weight(name), spec.normEps(), features.unitOffsetNorm());
    }

    /** The window of {@code layer} for a sequence of {@code seq} tokens; 0 (full attention) when it covers them all. */
    private int window(int layer, int seq) {
        int w = spec.slidingWindows()[layer];
        return w < seq ? w : 0;
    }

    /**
     * Runs the model on {@code ids} [batch, seq]: without {@code labels} its logits [batch·seq, vocab]; with
     * {@code labels} (same shape, -100 = ignored) only the loss, the mean causal-LM cross entropy over the shifted
     * labels as transformers computes it, from a head that never holds all logits ({@link LogProbs}). {@code rng}
     * drives LoRA dropout (null: no dropout).
     */
    public Output forward(Tape tape, int[] ids, int batch, int seq, int[] labels, SplittableRandom rng) {
        return forward(tape, ids, batch, seq, labels, null, null, rng);
    }

    /**
     * The forward of packed sequences: {@code positionIds} [batch, seq] are the rope positions (restarting at every
     * example) and {@code sequenceIds} [batch, seq] the example each token belongs to; attention is block-diagonal
     * causal, so each example sees only itself, exactly as if it ran alone. Both null: one sequence per row.
     */
    public Output forward(Tape tape, int[] ids, int batch, int seq, int[] labels, int[] positionIds, int[] sequenceIds,
                          SplittableRandom rng) {
        Var x = hidden(tape, ids, batch, seq, positionIds, sequenceIds, rng);
        LogProbs.Head head = head();
        if (labels == null) {
            Var logits = Ops.linear(tape, x, head.weight(), head.bias());
            return new Output(head.softCap() > 0 ? Ops.softCap(tape, logits, head.softCap()) : logits, null, 0);
        }
        int[] targets = Ops.shiftLabels(labels, batch, seq);
        if (sequenceIds != null) {
            // the last token of one packed example does not predict the first token of the next
            for (int t = 0; t + 1 < targets.length; t++) {
                if ((t + 1) % seq != 0 && sequenceIds[t + 1] != sequenceIds[t]) {
                    targets[t] = Ops.IGNORE_INDEX;
                }
            }
        }
        long count = java.util.Arrays.stream(targets).filter(t -> t != Ops.IGNORE_INDEX).count();
        float[] weights = new float[targets.length];
        for (int t = 0; t < targets.length; t++) {
            weights[t] = targets[t] == Ops.IGNORE_INDEX ? 0f : -1f / Math.max(count, 1);
        }
        Var logProbs = LogProbs.of(tape, x, head, targets, null).logProbs();
        return new Output(null, LogProbs.weightedSum(tape, logProbs, weights), count);
    }

    /**
     * The log-probabilities of {@code targets} (one per position of {@code ids} [batch, seq], -100 = none) and the
     * statistics of the logits at {@code statisticsRows} (null: none), without dropout; see {@link LogProbs}.
     */
    public LogProbs.Result logProbs(Tape tape, int[] ids, int batch, int seq, int[] targets, boolean[] statisticsRows) {
        return LogProbs.of(tape, hidden(tape, ids, batch, seq, null, null, null), head(), targets, statisticsRows);
    }

    /** The output layer: lm_head, or the embeddings when they are tied. */
    private LogProbs.Head head() {
        Var w = weights.containsKey(Architecture.LM_HEAD) ? weight(Architecture.LM_HEAD) : weight(Architecture.EMBED);
        return new LogProbs.Head(w, weights.get("lm_head.bias"), spec.finalSoftCap());
    }

    /** The final-normed hidden states [batch·seq, hidden] that the head reads. */
    private Var hidden(Tape tape, int[] ids, int batch, int seq, int[] positionIds, int[] sequenceIds,
                       SplittableRandom rng) {
        int[] positions = positionIds;
        if (positions == null) {
            positions = new int[batch * seq];
            for (int t = 0; t < positions.length; t++) {
                positions[t] = t % seq;
            }
        }
        int[] segmentStarts = sequenceIds == null ? null : AttentionOps.segmentStarts(sequenceIds, batch, seq);
        int headDim = spec.headDim();
        LayerShape shape = new LayerShape(batch, seq, spec.heads(), spec.kvHeads(), headDim,
                RopeTables.of(spec.rope(), seq, headDim, positions), positions, segmentStarts, spec.attentionScale(),
                spec.attentionSoftCap());
        Var x = Ops.embedding(tape, weight(Architecture.EMBED), ids);
        if (spec.embeddingScale() > 0) {
            x = Ops.scale(tape, x, spec.embeddingScale());
        }
        for (int layer = 0; layer < spec.layers(); layer++) {
            // each layer draws its dropout masks from its own seed, so a recomputed layer draws the same ones
            Long seed = rng == null ? null : rng.nextLong();
            x = gradientCheckpointing ? checkpointedLayer(tape, x, layer, shape, seed)
                    : layer(tape, x, layer, shape, seed == null ? null : new SplittableRandom(seed));
        }
        return norm(tape, x, Architecture.FINAL_NORM);
    }

    /** Shapes and tables shared by every layer of one forward. */
    private record LayerShape(int batch, int seq, int heads, int kvHeads, int headDim, float[][] rope, int[] positions,
                              int[] segmentStarts, double scale, double attnCap) {
    }

    private Var layer(Tape tape, Var x, int layer, LayerShape s, SplittableRandom rng) {
        int batch = s.batch();
        int seq = s.seq();
        int heads = s.heads();
        int kvHeads = s.kvHeads();
        int headDim = s.headDim();
        String p = Architecture.LAYER_PREFIX + layer + ".";
        Var h = norm(tape, x, p + "input_layernorm.weight");
        Var q;
        Var k;
        Var v;
        if (features.fusedQkv()) {
            Var qkv = project(tape, h, p + "self_attn.qkv_proj", rng);
            q = Ops.columns(tape, qkv, 0, heads * headDim);
            k = Ops.columns(tape, qkv, heads * headDim, kvHeads * headDim);
            v = Ops.columns(tape, qkv, (heads + kvHeads) * headDim, kvHeads * headDim);
        } else {
            q = project(tape, h, p + "self_attn.q_proj", rng);
            k = project(tape, h, p + "self_attn.k_proj", rng);
            v = project(tape, h, p + "self_attn.v_proj", rng);
        }
        if (features.qkNorm()) {
            q = Ops.rmsNorm(tape, q, weight(p + "self_attn.q_norm.weight"), spec.normEps(), false);
            k = Ops.rmsNorm(tape, k, weight(p + "self_attn.k_norm.weight"), spec.normEps(), false);
        }
        // what rope rotates and the residual adds add is read by no backward step (each producer's backward needs
        // only its own gradient): dropped once consumed, a fifth of a layer's activations is never held
        Var unrotated = q;
        q = AttentionOps.rope(tape, q, s.positions(), headDim, rotaryDim, s.rope());
        unrotated.releaseValue();
        unrotated = k;
        k = AttentionOps.rope(tape, k, s.positions(), headDim, rotaryDim, s.rope());
        unrotated.releaseValue();
        Var attn = AttentionOps.attention(tape, q, k, v, batch, seq, heads, kvHeads, headDim, s.scale(),
                window(layer, seq), s.attnCap(), s.segmentStarts());
        Var a = project(tape, attn, p + "self_attn.o_proj", rng);
        if (features.sandwichNorms()) {
            a = norm(tape, a, p + "post_attention_layernorm.weight");
        }
        x = Ops.add(tape, x, a);
        a.releaseValue();
        h = norm(tape, x, p + (features.sandwichNorms() ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight"));
        Var m = features.moe() ? moe(tape, h, p + "block_sparse_moe.", rng) : mlp(tape, h, p + "mlp.", rng);
        if (features.sandwichNorms()) {
            m = norm(tape, m, p + "post_feedforward_layernorm.weight");
        }
        Var out = Ops.add(tape, x, m);
        m.releaseValue();
        return out;
    }

    /**
     * A layer whose intermediate values are not kept: forward runs on a throwaway tape, and backward recomputes the
     * layer from its saved input (with the same dropout masks) before sending the gradient through it. Gradients
     * are identical to the plain layer's; activation memory drops to one tensor per layer.
     */
    private Var checkpointedLayer(Tape tape, Var x, int layer, LayerShape s, Long seed) {
        Var y = layer(Tape.inference(), x, layer, s, seed == null ? null : new SplittableRandom(seed));
        Var out = new Var(y.value(), y.requiresGrad(), y.shape());
        if (out.requiresGrad()) {
            tape.record(() -> {
                if (!out.hasGrad()) {
                    return;
                }
                Var in = x.requiresGrad() ? Var.leaf(x.value(), x.shape()) : Var.constant(x.value(), x.shape());
                Tape again = new Tape();
                Var recomputed = layer(again, in, layer, s, seed == null ? null : new SplittableRandom(seed));
                System.arraycopy(out.grad(), 0, recomputed.grad(), 0, out.size());
                again.replay();
                if (x.requiresGrad()) {
                    VectorMath.axpy(1f, in.grad(), 0, x.grad(), 0, x.size());
                }
            });
        }
        return out;
    }

    private Var activation(Tape tape, Var gate, Var up) {
        return switch (spec.activation()) {
            case SILU -> Ops.siluMul(tape, gate, up);
            case GELU_TANH -> Ops.geluTanhMul(tape, gate, up);
        };
    }

    private Var mlp(Tape tape, Var h, String p, SplittableRandom rng) {
        Var act;
        if (features.fusedGateUp()) {
            Var gu = project(tape, h, p + "gate_up_proj", rng);
            int inter = gu.dim(1) / 2;
            act = activation(tape, Ops.columns(tape, gu, 0, inter), Ops.columns(tape, gu, inter, inter));
        } else {
            act = activation(tape, project(tape, h, p + "gate_proj", rng), project(tape, h, p + "up_proj", rng));
        }
        return project(tape, act, p + "down_proj", rng);
    }

    /** Mixtral's sparse MoE block: top-k routing, each expert a SiLU-gated MLP (w1 gate, w3 up, w2 down). */
    private Var moe(Tape tape, Var h, String p, SplittableRandom rng) {
        int experts = spec.experts();
        MoeOps.Routing routing = MoeOps.topKSoftmax(tape, project(tape, h, p + "gate", rng), spec.expertsPerToken());
        List<Var> outputs = new ArrayList<>();
        List<int[][]> routes = new ArrayList<>();
        for (int e = 0; e < experts; e++) {
            int[][] route = routing.tokensOf(e);
            if (route[0].length == 0) {
                continue;
            }
            String ep = p + "experts." + e + ".";
            Var xe = MoeOps.gatherRows(tape, h, route[0]);
            Var act = activation(tape, project(tape, xe, ep + "w1", rng), project(tape, xe, ep + "w3", rng));
            outputs.add(project(tape, act, ep + "w2", rng));
            routes.add(route);
        }
        return MoeOps.combine(tape, h.dim(0), h.dim(1), routing.weights(), outputs, routes);
    }
}
