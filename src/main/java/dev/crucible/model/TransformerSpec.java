package dev.crucible.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.ModelConfig;
import dev.crucible.nn.Activation;
import dev.crucible.nn.RotaryEmbedding;

/**
 * Everything the forward pass needs to know about a model, resolved once from config.json and the
 * family's {@link Architecture} features: sizes, activation, rope, per-layer sliding windows, scales and
 * soft-caps.
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
        Architecture arch = Architecture.of(config).forTensors(tensorNames);
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
        double queryScalar = config.doubleOr("query_pre_attn_scalar", headDim);
        int experts = f.moe() ? config.intOr("num_local_experts", 0) : 0;
        int topK = f.moe() ? config.intOr("num_experts_per_tok", 0) : 0;
        if (f.moe() && (experts <= 0 || topK <= 0 || topK > experts)) {
            throw new CrucibleException(where + ": a mixture-of-experts model needs num_local_experts > 0 and "
                    + "0 < num_experts_per_tok <= num_local_experts");
        }
        return new TransformerSpec(arch, config, hidden, layers, heads, kvHeads, headDim, config.intermediateSize(),
                config.vocabSize(), config.rmsNormEps(), Activation.parse(act, where),
                RotaryEmbedding.fromConfig(config, headDim), slidingWindows(config, f, layers),
                (float) (1.0 / Math.sqrt(queryScalar)),
                (float) config.doubleOr("attn_logit_softcapping", 0), (float) config.doubleOr("final_logit_softcapping", 0),
                f.embeddingScale() ? (float) Math.sqrt(hidden) : 0f, experts, topK, config.tieWordEmbeddings());
    }

    /**
     * The window of each layer (0 = full attention): {@code layer_types} when the config lists them, else
     * every other layer from the first (Gemma 2), else Qwen's {@code use_sliding_window} / {@code
     * max_window_layers}, else {@code sliding_window} on every layer (Mistral, Phi-3).
     */
    private static int[] slidingWindows(ModelConfig config, Architecture.Features f, int layers) {
        int window = config.slidingWindow();
        int[] out = new int[layers];
        if (window <= 0) {
            return out;
        }
        JsonNode types = config.get("layer_types");
        for (int l = 0; l < layers; l++) {
            boolean sliding;
            if (types != null && types.isArray() && types.size() == layers) {
                sliding = "sliding_attention".equals(types.get(l).asText());
            } else if (f.alternatingSlidingWindow()) {
                sliding = l % 2 == 0;
            } else if (config.has("use_sliding_window")) {
                sliding = config.get("use_sliding_window").asBoolean() && l >= config.intOr("max_window_layers", 0);
            } else {
                sliding = true;
            }
            out[l] = sliding ? window : 0;
        }
        return out;
    }

    public Architecture.Features features() {
        return architecture.features();
    }

    /** Width of one token's queries, keys and values together. */
    public int qkvWidth() {
        return (heads + 2 * kvHeads) * headDim;
    }
}
