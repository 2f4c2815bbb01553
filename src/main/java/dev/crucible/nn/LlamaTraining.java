package dev.crucible.nn;

import dev.crucible.CrucibleException;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.ModelConfig;
import dev.crucible.model.Architecture;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The training forward of a Llama-style decoder (llama, mistral, qwen2: RMSNorm, default rope, causal GQA
 * attention with optional q/k/v bias and sliding window, SiLU-gated MLP, tied or untied head) on the tape, with
 * optional LoRA/DoRA adapters on any linear layer. Weights are looked up by their Hugging Face names.
 */
public final class LlamaTraining {
    /** The logits [batch·seq, vocab], the loss, and how many label tokens the loss averaged over. */
    public record Output(Var logits, Var loss, long lossTokens) {
    }

    private final ModelConfig config;
    private final Map<String, Var> weights;
    private final Map<String, FrozenWeight> frozenLinear;
    private final Map<String, LoraOps.Adapter> adapters;

    /** A model whose weights are all float32 Vars (full fine-tuning, LoRA, DoRA). */
    public LlamaTraining(ModelConfig config, Map<String, Var> weights, Map<String, LoraOps.Adapter> adapters) {
        this(config, weights, Map.of(), adapters);
    }

    /**
     * @param weights      tensors by name: trainable ({@link Var#of}) or frozen ({@link Var#constant})
     * @param frozenLinear linear weights held outside {@code weights} by module path, e.g. NF4 for QLoRA
     * @param adapters     adapters by module path ({@code model.layers.0.self_attn.q_proj}); empty for full fine-tuning
     */
    public LlamaTraining(ModelConfig config, Map<String, Var> weights, Map<String, FrozenWeight> frozenLinear,
                         Map<String, LoraOps.Adapter> adapters) {
        java.util.Set<String> names = new java.util.HashSet<>(weights.keySet());
        frozenLinear.keySet().forEach(m -> names.add(m + ".weight"));
        Architecture.Features f = Architecture.ofOrInfer(config, names).features();
        if (f.qkNorm() || f.fusedQkv() || f.fusedGateUp() || f.moe() || f.sandwichNorms() || f.unitOffsetNorm()
                || f.embeddingScale() || f.geluTanh() || f.softCapping() || f.alternatingSlidingWindow()) {
            throw new CrucibleException("model_type '" + config.modelType() + "': the training forward supports"
                    + " Llama-style models (llama, mistral, qwen2) so far");
        }
        if (!config.ropeType().equals("default")) {
            throw new CrucibleException("rope_type '" + config.ropeType() + "': the training forward supports the"
                    + " default rope so far");
        }
        this.config = config;
        this.weights = weights;
        this.frozenLinear = frozenLinear;
        this.adapters = adapters;
    }

    /**
     * Every tensor of {@code checkpoint} as float32: as trainable parameters (added to {@code parameters}) when
     * {@code trainable}, else as constants.
     */
    public static Map<String, Var> loadWeights(Checkpoint checkpoint, boolean trainable, List<Parameter> parameters) {
        return loadWeights(checkpoint, trainable, parameters, java.util.Set.of());
    }

    /** As {@link #loadWeights(Checkpoint, boolean, List)}, leaving out the tensors named in {@code skip}. */
    public static Map<String, Var> loadWeights(Checkpoint checkpoint, boolean trainable, List<Parameter> parameters,
                                               java.util.Set<String> skip) {
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

    private Var weight(String name) {
        Var w = weights.get(name);
        if (w == null) {
            throw new CrucibleException("model has no tensor '" + name + "'");
        }
        return w;
    }

    /**
     * QLoRA's frozen base: every 2-D weight inside the decoder layers quantised to NF4 with double quantisation
     * (bitsandbytes leaves the embeddings and the head in float), by module path.
     */
    public static Map<String, FrozenWeight> quantizeLayerLinears(Checkpoint checkpoint) {
        Map<String, FrozenWeight> out = new LinkedHashMap<>();
        for (String module : LinearLayers.inDecoderLayers(checkpoint)) {
            var t = checkpoint.tensor(module + ".weight");
            out.put(module, FrozenWeight.nf4(dev.crucible.tensor.Nf4Weight.quantize(t.toFloatArray(),
                    Math.toIntExact(t.dim(0)), Math.toIntExact(t.dim(1)), true)));
        }
        return out;
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

    /**
     * Runs the model on {@code ids} [batch, seq]; with {@code labels} (same shape, -100 = ignored) the loss is the
     * mean causal-LM cross entropy over the shifted labels, as transformers computes it. {@code rng} drives LoRA
     * dropout (null: no dropout).
     */
    public Output forward(Tape tape, int[] ids, int batch, int seq, int[] labels, SplittableRandom rng) {
        int hidden = config.hiddenSize();
        int heads = config.numAttentionHeads();
        int kvHeads = config.numKeyValueHeads();
        int headDim = config.headDim();
        double eps = config.rmsNormEps();
        float[][] rope = AttentionOps.ropeTables(seq, headDim, config.ropeTheta());
        int window = config.slidingWindow() > 0 && config.slidingWindow() < seq ? config.slidingWindow() : 0;
        Var x = Ops.embedding(tape, weight(Architecture.EMBED), ids);
        for (int layer = 0; layer < config.numHiddenLayers(); layer++) {
            String p = Architecture.LAYER_PREFIX + layer + ".";
            Var h = Ops.rmsNorm(tape, x, weight(p + "input_layernorm.weight"), eps, false);
            Var q = AttentionOps.rope(tape, project(tape, h, p + "self_attn.q_proj", rng), seq, headDim, rope);
            Var k = AttentionOps.rope(tape, project(tape, h, p + "self_attn.k_proj", rng), seq, headDim, rope);
            Var v = project(tape, h, p + "self_attn.v_proj", rng);
            Var attn = AttentionOps.attention(tape, q, k, v, batch, seq, heads, kvHeads, headDim,
                    1 / Math.sqrt(headDim), window, 0);
            x = Ops.add(tape, x, project(tape, attn, p + "self_attn.o_proj", rng));
            h = Ops.rmsNorm(tape, x, weight(p + "post_attention_layernorm.weight"), eps, false);
            Var act = Ops.siluMul(tape, project(tape, h, p + "mlp.gate_proj", rng), project(tape, h, p + "mlp.up_proj", rng));
            x = Ops.add(tape, x, project(tape, act, p + "mlp.down_proj", rng));
        }
        x = Ops.rmsNorm(tape, x, weight(Architecture.FINAL_NORM), eps, false);
        Var logits = weights.containsKey(Architecture.LM_HEAD) ? project(tape, x, "lm_head", rng)
                : Ops.linear(tape, x, weight(Architecture.EMBED), null);
        if (labels == null) {
            return new Output(logits, null, 0);
        }
        int[] targets = Ops.shiftLabels(labels, batch, seq);
        long count = java.util.Arrays.stream(targets).filter(t -> t != Ops.IGNORE_INDEX).count();
        return new Output(logits, Ops.crossEntropy(tape, logits, targets, true), count);
    }
}
