package dev.crucible.nn;

import dev.crucible.CrucibleException;
import dev.crucible.arch.Architecture;
import dev.crucible.io.ModelConfig;

/**
 * Everything a forward pass needs to know about a model, resolved once from config.json and the family's
 * {@link Architecture} features: sizes, norms, activation, rope, MoE routing, embedding scale, and the per-layer
 * sliding windows, scale and soft-caps of {@link LayerAttention}. The one resolver: the runtime
 * ({@code model.Transformer}) and the training forward ({@link DecoderTraining}) both run on it, so a model trains
 * with the numbers it runs with.
 */
public record TransformerSpec(Architecture architecture, ModelConfig config, int hidden, int layers, int heads,
                              int kvHeads, int headDim, int intermediate, int vocab, double normEps,
                              Activation activation, RotaryEmbedding rope, int[] slidingWindows,
                              float attentionScale, float attentionSoftCap, float finalSoftCap,
                              float embeddingScale, int experts, int expertsPerToken, boolean tiedEmbeddings) {

    public static TransformerSpec of(ModelConfig config) {
        return of(config, java.util.List.of());
    }

    /** The spec for a checkpoint holding {@code tensorNames}, which pick the family's weight layout. */
    public static TransformerSpec of(ModelConfig config, java.util.Collection<String> tensorNames) {
        return of(config, Architecture.of(config).forTensors(tensorNames));
    }

    /** The spec of {@code config} as a model of family {@code arch}: the one resolution inference and training share. */
    public static TransformerSpec of(ModelConfig config, Architecture arch) {
        Architecture.Features f = arch.features();
        String where = config.source() == null ? "config" : config.source().toString();
        int hidden = config.hiddenSize();
        int layers = config.numHiddenLayers();
        int heads = config.numAttentionHeads();
        int kvHeads = config.numKeyValueHeads();
        int headDim = config.headDim();
        if (heads % kvHeads != 0) {
            throw new CrucibleException(where + ": num_attention_heads " + heads
                    + " is not a multiple of num_key_value_heads " + kvHeads);
        }
        String act = config.text("hidden_activation", null);
        if (act == null) {
            act = f.geluTanh() ? "gelu_pytorch_tanh" : config.text("hidden_act", "silu");
        }
        int experts = f.moe() ? config.intOr("num_local_experts", 0) : 0;
        int topK = f.moe() ? config.intOr("num_experts_per_tok", 0) : 0;
        if (f.moe() && (experts <= 0 || topK <= 0 || topK > experts)) {
            throw new CrucibleException(where + ": a mixture-of-experts model needs num_local_experts > 0 and "
                    + "0 < num_experts_per_tok <= num_local_experts");
        }
        LayerAttention attention = LayerAttention.of(config, f);
        return new TransformerSpec(arch, config, hidden, layers, heads, kvHeads, headDim, config.intermediateSize(),
                config.vocabSize(), config.rmsNormEps(), Activation.parse(act, where),
                RotaryEmbedding.fromConfig(config, headDim), attention.windows(), attention.scale(),
                attention.softCap(), attention.finalSoftCap(),
                f.embeddingScale() ? (float) Math.sqrt(hidden) : 0f, experts, topK, config.tieWordEmbeddings());
    }

    public Architecture.Features features() {
        return architecture.features();
    }

    /** Width of one token's queries, keys and values together. */
    public int qkvWidth() {
        return (heads + 2 * kvHeads) * headDim;
    }
}
