package dev.crucible.arch;

import dev.crucible.CrucibleException;
import dev.crucible.io.ModelConfig;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a model family looks like, as data: its weight names and the features its forward pass uses. Each family is
 * an entry of the resource {@code architectures.json} (as mergekit keeps its architectures in JSON files); merge,
 * runtime and training all read this one description, and {@code nn.TransformerSpec} resolves it with config.json
 * into the numbers a forward needs. Adding a family is adding an entry there (and, only where it computes
 * something new, a feature and its op).
 *
 * @param modelType      {@code model_type} in config.json
 * @param className      transformers' class, the first entry of {@code architectures}
 * @param layerWeights   weight names inside one decoder layer, relative to {@code model.layers.N.};
 *                       {@code {e}} stands for an expert index in MoE families
 * @param features       what the forward pass must do differently from plain Llama
 */
public record Architecture(String modelType, String className, List<String> layerWeights, Features features) {
    public static final String EMBED = "model.embed_tokens.weight";
    public static final String FINAL_NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";
    public static final String LAYER_PREFIX = "model.layers.";
    private static final Pattern LAYER_NAME = Pattern.compile("^model\\.layers\\.(\\d+)\\.(.+)$");

    /**
     * The features of a family, named as in {@code architectures.json} (snake case; a feature left out is off).
     *
     * @param attentionBias   q/k/v projections have biases (qwen2)
     * @param qkNorm          per-head RMSNorm on queries and keys (qwen3)
     * @param fusedQkv        one {@code qkv_proj} instead of q/k/v (phi3)
     * @param fusedGateUp     one {@code gate_up_proj} instead of gate/up (phi3)
     * @param moe             sparse mixture-of-experts MLP (mixtral)
     * @param sandwichNorms   extra norms after attention and around the MLP (gemma2)
     * @param unitOffsetNorm  RMSNorm scales by (1 + w) (gemma)
     * @param embeddingScale  embeddings multiplied by sqrt(hidden) (gemma)
     * @param geluTanh        MLP activation is GeLU-tanh instead of SiLU (gemma)
     * @param softCapping     attention and final logit soft-capping from config (gemma2)
     * @param alternatingSlidingWindow sliding window on every other layer (gemma2)
     */
    public record Features(boolean attentionBias, boolean qkNorm, boolean fusedQkv, boolean fusedGateUp,
                           boolean moe, boolean sandwichNorms, boolean unitOffsetNorm, boolean embeddingScale,
                           boolean geluTanh, boolean softCapping, boolean alternatingSlidingWindow) {
    }

    /** One entry of {@code architectures.json}; {@code fusedExpertsLayerWeights}: a second layout (Mixtral). */
    private record Entry(String modelType, String className, List<String> layerWeights, Features features,
                         List<String> fusedExpertsLayerWeights) {
    }

    @JsonIgnoreProperties("_about")
    private record Catalogue(List<Entry> families) {
    }

    /** Reads {@code architectures.json} under its snake-case names; an unknown key (a misspelt feature) is an error. */
    private static final ObjectMapper JSON = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE).build();

    /** Every family by {@code model_type}, in the order of {@code architectures.json}. */
    public static final Map<String, Architecture> REGISTRY;
    /**
     * The second weight layout of a family, by {@code model_type}: Mixtral as transformers 5 saves it (and
     * mergekit-moe writes it), per layer one router {@code mlp.gate.weight} [E, H], {@code mlp.experts.gate_up_proj}
     * [E, 2I, H] (each expert's gate rows, then its up rows) and {@code mlp.experts.down_proj} [E, H, I], instead of
     * {@code block_sparse_moe.experts.N.w1/w2/w3}.
     */
    private static final Map<String, Architecture> FUSED_EXPERTS;

    static {
        Catalogue catalogue;
        try (InputStream in = Architecture.class.getResourceAsStream("architectures.json")) {
            catalogue = JSON.readValue(Objects.requireNonNull(in, "architectures.json"), Catalogue.class);
        } catch (IOException e) {
            throw new UncheckedIOException("the built-in architectures.json is unreadable", e);
        }
        Map<String, Architecture> registry = new LinkedHashMap<>();
        Map<String, Architecture> fused = new LinkedHashMap<>();
        for (Entry e : catalogue.families()) {
            registry.put(e.modelType(), new Architecture(e.modelType(), e.className(), List.copyOf(e.layerWeights()),
                    e.features()));
            if (e.fusedExpertsLayerWeights() != null) {
                fused.put(e.modelType(), new Architecture(e.modelType(), e.className(),
                        List.copyOf(e.fusedExpertsLayerWeights()), e.features()));
            }
        }
        REGISTRY = Collections.unmodifiableMap(registry);
        FUSED_EXPERTS = Collections.unmodifiableMap(fused);
    }

    /** Weight names of the fused-experts layout (constants, for {@code switch}es over weight names). */
    public static final String FUSED_ROUTER = "mlp.gate.weight";
    public static final String FUSED_GATE_UP = "mlp.experts.gate_up_proj";
    public static final String FUSED_DOWN = "mlp.experts.down_proj";

    /** Llama's decoder layer: what an unregistered family must hold to be merged as a Llama derivative. */
    private static final List<String> LLAMA_LAYER = REGISTRY.get("llama").layerWeights();

    /** True for the fused-experts layout (Mixtral as transformers 5 saves it). */
    public boolean fusedExperts() {
        return layerWeights.contains(FUSED_GATE_UP);
    }

    /**
     * This family in the weight layout a checkpoint with {@code tensorNames} uses: Mixtral checkpoints come
     * per-expert (transformers 4) or fused (transformers 5); every other family has one layout.
     */
    public Architecture forTensors(Collection<String> tensorNames) {
        boolean fused = tensorNames.contains(LAYER_PREFIX + "0." + FUSED_GATE_UP);
        Architecture fusedLayout = FUSED_EXPERTS.get(modelType);
        return features.moe() && fused && fusedLayout != null ? fusedLayout : this;
    }

    /** The registered family of {@code config}'s {@code model_type}, or an error naming the type. */
    public static Architecture of(ModelConfig config) {
        Architecture a = config.modelType() == null ? null : REGISTRY.get(config.modelType());
        if (a == null) {
            throw new CrucibleException("unknown model_type '" + config.modelType() + "' in "
                    + (config.source() == null ? "config" : config.source()) + ": supported are "
                    + REGISTRY.keySet().stream().sorted().toList());
        }
        return a;
    }

    /**
     * The registered family, or for an unknown {@code model_type} a Llama-like description when the tensor
     * names are Llama's (q/k/v/o and gate/up/down projections, two norms per layer), so that merges of
     * new Llama derivatives work without a registry entry.
     */
    public static Architecture ofOrInfer(ModelConfig config, Collection<String> tensorNames) {
        Architecture known = config.modelType() == null ? null : REGISTRY.get(config.modelType());
        if (known != null) {
            return known.forTensors(tensorNames);
        }
        boolean llamaLike = tensorNames.contains(EMBED)
                && LLAMA_LAYER.stream().allMatch(w -> tensorNames.contains(LAYER_PREFIX + "0." + w));
        if (!llamaLike) {
            return of(config); // throws with the list of supported types
        }
        List<String> layer = new ArrayList<>(LLAMA_LAYER);
        for (String extra : List.of("self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias",
                "self_attn.q_norm.weight", "self_attn.k_norm.weight")) {
            if (tensorNames.contains(LAYER_PREFIX + "0." + extra)) {
                layer.add(extra);
            }
        }
        boolean attentionBias = tensorNames.contains(LAYER_PREFIX + "0.self_attn.q_proj.bias");
        boolean qkNorm = tensorNames.contains(LAYER_PREFIX + "0.self_attn.q_norm.weight");
        return new Architecture(config.modelType(), config.architecture(), List.copyOf(layer), JSON.convertValue(
                Map.of("attention_bias", attentionBias, "qk_norm", qkNorm), Features.class));
    }

    /** Full weight names of decoder layer {@code layer}, experts expanded from {@code num_local_experts}. */
    public List<String> layerWeightNames(int layer, ModelConfig config) {
        int experts = features.moe ? config.intOr("num_local_experts", 0) : 0;
        List<String> out = new ArrayList<>();
        for (String w : layerWeights) {
            if (w.contains("{e}")) {
                for (int e = 0; e < experts; e++) {
                    out.add(LAYER_PREFIX + layer + "." + w.replace("{e}", Integer.toString(e)));
                }
            } else {
                out.add(LAYER_PREFIX + layer + "." + w);
            }
        }
        return out;
    }

    /** Every weight name a checkpoint of this family must hold, given its config. */
    public List<String> weightNames(ModelConfig config) {
        List<String> out = new ArrayList<>();
        out.add(EMBED);
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            out.addAll(layerWeightNames(l, config));
        }
        out.add(FINAL_NORM);
        if (!config.tieWordEmbeddings()) {
            out.add(LM_HEAD);
        }
        return out;
    }

    /** The decoder layer a weight name belongs to, or -1 for embeddings, final norm and head. */
    public static int layerOf(String tensorName) {
        Matcher m = LAYER_NAME.matcher(tensorName);
        return m.matches() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** The part of a layer weight's name after {@code model.layers.N.}; the whole name for other weights. */
    public static String withinLayer(String tensorName) {
        Matcher m = LAYER_NAME.matcher(tensorName);
        return m.matches() ? m.group(2) : tensorName;
    }
}
