package dev.crucible.nn;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crucible.io.ModelConfig;
import dev.crucible.arch.Architecture;

/**
 * How each decoder layer attends, resolved from config.json the way transformers 5.18 resolves it: the one rule,
 * part of {@link TransformerSpec}, on which the runtime ({@code model.Transformer}), the training forward
 * ({@link DecoderTraining}) and the memory plan all run, so a model trains with the attention it runs with.
 *
 * @param windows      the sliding window of each layer (0 = full causal attention)
 * @param scale        the factor on q·k: {@code query_pre_attn_scalar}^-1/2 in the soft-capping family (Gemma 2,
 *                     256 when absent), else head_dim^-1/2 (the other families ignore {@code query_pre_attn_scalar},
 *                     as transformers does)
 * @param softCap      {@code attn_logit_softcapping} of the soft-capping family (50 when absent, none when null),
 *                     else 0 (none)
 * @param finalSoftCap {@code final_logit_softcapping} of the soft-capping family (30 when absent, none when null),
 *                     else 0 (none)
 */
public record LayerAttention(int[] windows, float scale, float softCap, float finalSoftCap) {
    /** Qwen2Config's and Qwen3Config's default {@code max_window_layers}. */
    private static final int DEFAULT_MAX_WINDOW_LAYERS = 28;
    /** The families whose config has {@code use_sliding_window}, false when absent. */
    private static final java.util.Set<String> OPT_IN_WINDOW = java.util.Set.of("qwen2", "qwen3");

    public static LayerAttention of(ModelConfig config, Architecture.Features features) {
        boolean capped = features.softCapping();
        double queryScalar = capped ? orDefault(config, "query_pre_attn_scalar", GEMMA2_QUERY_SCALAR, config.headDim())
                : config.headDim();
        return new LayerAttention(windows(config, features, config.numHiddenLayers()),
                (float) (1.0 / Math.sqrt(queryScalar)),
                capped ? (float) orDefault(config, "attn_logit_softcapping", GEMMA2_ATTN_CAP, 0) : 0f,
                capped ? (float) orDefault(config, "final_logit_softcapping", GEMMA2_FINAL_CAP, 0) : 0f);
    }

    /** Gemma2Config's defaults, which transformers applies when config.json leaves the key out. */
    private static final double GEMMA2_QUERY_SCALAR = 256;
    private static final double GEMMA2_ATTN_CAP = 50;
    private static final double GEMMA2_FINAL_CAP = 30;

    /** {@code key}'s number; {@code absent} when config.json leaves it out; {@code none} when it is null (no cap). */
    private static double orDefault(ModelConfig config, String key, double absent, double none) {
        JsonNode n = config.get(key);
        if (n == null) {
            return absent;
        }
        return n.isNumber() ? n.asDouble() : none;
    }

    /** The window of {@code layer} (0 = full attention). */
    public int window(int layer) {
        return windows[layer];
    }

    /**
     * {@code use_sliding_window: false} (Qwen2's and Qwen3's default when the key is absent) switches the window
     * off whatever else the config says (Qwen2Config and Qwen3Config drop {@code sliding_window} then). Otherwise the layers that slide are those {@code layer_types}
     * lists as {@code sliding_attention}; without it every other layer from the first (Gemma 2), or for Qwen's
     * {@code use_sliding_window: true} the layers from {@code max_window_layers} on (the lower ones attend to
     * everything), or else every layer (Mistral, Phi-3).
     */
    private static int[] windows(ModelConfig config, Architecture.Features features, int layers) {
        int[] out = new int[layers];
        int window = config.slidingWindow();
        JsonNode optIn = config.get("use_sliding_window");
        boolean optedOut = optIn != null ? !optIn.asBoolean() : OPT_IN_WINDOW.contains(config.modelType());
        if (window <= 0 || optedOut) {
            return out;
        }
        JsonNode types = config.get("layer_types");
        boolean listed = types != null && types.isArray() && types.size() == layers;
        for (int l = 0; l < layers; l++) {
            boolean sliding;
            if (listed) {
                sliding = "sliding_attention".equals(types.get(l).asText());
            } else if (features.alternatingSlidingWindow()) {
                sliding = l % 2 == 0;
            } else if (optIn != null) {
                sliding = l >= config.intOr("max_window_layers", DEFAULT_MAX_WINDOW_LAYERS);
            } else {
                sliding = true;
            }
            out[l] = sliding ? window : 0;
        }
        return out;
    }
}
