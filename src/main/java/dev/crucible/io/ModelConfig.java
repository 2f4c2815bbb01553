package dev.crucible.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import dev.crucible.tensor.DType;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's {@code config.json}, typed. Accepts both transformers-4 keys ({@code rope_theta},
 * {@code rope_scaling}, {@code torch_dtype}) and transformers-5 keys ({@code rope_parameters}, {@code dtype}).
 * The raw JSON is kept so that a modified copy can be written back with every key the model had.
 */
public final class ModelConfig {
    private final Path source;
    private final ObjectNode raw;

    private ModelConfig(Path source, ObjectNode raw) {
        this.source = source;
        this.raw = raw;
    }

    public static ModelConfig read(Path configJson) {
        if (!Files.isRegularFile(configJson)) {
            throw new CrucibleException(configJson + ": config.json not found");
        }
        try {
            JsonNode node = new ObjectMapper().readTree(configJson.toFile());
            if (node == null || !node.isObject()) {
                throw new CrucibleException(configJson + ": expected a JSON object");
            }
            return new ModelConfig(configJson, (ObjectNode) node);
        } catch (IOException e) {
            throw new CrucibleException(configJson + ": not valid JSON: " + JsonErrors.describe(e), e);
        }
    }

    public static ModelConfig of(ObjectNode raw) {
        return new ModelConfig(null, raw);
    }

    /** The JSON as read (a mutable copy for writing modified configs). */
    public ObjectNode json() {
        return raw.deepCopy();
    }

    public Path source() {
        return source;
    }

    public String modelType() {
        return text("model_type", null);
    }

    /** The first entry of {@code architectures}, e.g. {@code LlamaForCausalLM}, or null. */
    public String architecture() {
        JsonNode a = raw.get("architectures");
        return a != null && a.isArray() && !a.isEmpty() ? a.get(0).asText() : null;
    }

    public int hiddenSize() {
        return requireInt("hidden_size");
    }

    public int intermediateSize() {
        return requireInt("intermediate_size");
    }

    public int numHiddenLayers() {
        return requireInt("num_hidden_layers");
    }

    public int numAttentionHeads() {
        return requireInt("num_attention_heads");
    }

    public int numKeyValueHeads() {
        return intOr("num_key_value_heads", numAttentionHeads());
    }

    public int headDim() {
        JsonNode h = raw.get("head_dim");
        return h != null && h.isNumber() ? h.asInt() : hiddenSize() / numAttentionHeads();
    }

    public int vocabSize() {
        return requireInt("vocab_size");
    }

    public double rmsNormEps() {
        JsonNode n = raw.has("rms_norm_eps") ? raw.get("rms_norm_eps") : raw.get("layer_norm_eps");
        return n != null && n.isNumber() ? n.asDouble() : 1e-6;
    }

    public int maxPositionEmbeddings() {
        return intOr("max_position_embeddings", 2048);
    }

    /**
     * {@code tie_word_embeddings}. When absent, transformers uses the config class's default: false for the
     * Llama, Mistral, Mixtral, Qwen and Phi-3 families, true for Gemma and for model types it does not know.
     */
    public boolean tieWordEmbeddings() {
        JsonNode n = raw.get("tie_word_embeddings");
        if (n != null && n.isBoolean()) {
            return n.asBoolean();
        }
        return !UNTIED_BY_DEFAULT.contains(String.valueOf(modelType()));
    }

    private static final java.util.Set<String> UNTIED_BY_DEFAULT = java.util.Set.of("llama", "mistral", "mixtral",
            "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "phi3", "deepseek_v3", "gpt_oss");

    /** {@code dtype} (transformers 5) or {@code torch_dtype} (transformers 4), or null when neither is given. */
    public DType dtype() {
        String d = text("dtype", text("torch_dtype", null));
        return d == null ? null : DType.parse(d);
    }

    /** Rope base frequency: {@code rope_parameters.rope_theta} or {@code rope_theta}; 10000 when absent. */
    public double ropeTheta() {
        JsonNode p = ropeParameters();
        if (p != null && p.has("rope_theta")) {
            return p.get("rope_theta").asDouble();
        }
        JsonNode t = raw.get("rope_theta");
        return t != null && t.isNumber() ? t.asDouble() : 10000.0;
    }

    /**
     * Rope scaling parameters in one map whatever the key style: {@code rope_type} ("default" when there is
     * no scaling), {@code factor}, {@code low_freq_factor}, ... ({@code type} is read as {@code rope_type}).
     */
    public Map<String, Object> ropeScaling() {
        Map<String, Object> out = new LinkedHashMap<>();
        JsonNode p = ropeParameters();
        if (p == null) {
            p = raw.get("rope_scaling");
        }
        if (p != null && p.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = p.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getKey().equals("type")) {
                    out.put(e.getKey(), toJava(e.getValue()));
                }
            }
            // Older configs name the type "type"; "rope_type" wins when both are given.
            if (p.has("type")) {
                out.putIfAbsent("rope_type", toJava(p.get("type")));
            }
        }
        out.putIfAbsent("rope_type", "default");
        out.remove("rope_theta");
        return out;
    }

    /**
     * {@code rope_parameters} (transformers 5), or null. Models with several attention types keep one entry
     * per type ({@code full_attention}, {@code sliding_attention}); the full-attention one is the model's.
     */
    private JsonNode ropeParameters() {
        JsonNode p = raw.get("rope_parameters");
        if (p == null || !p.isObject()) {
            return null;
        }
        JsonNode full = p.get("full_attention");
        return full != null && full.isObject() ? full : p;
    }

    public String ropeType() {
        return String.valueOf(ropeScaling().get("rope_type"));
    }

    /** Sliding attention window, or 0 when the model has none. */
    public int slidingWindow() {
        JsonNode n = raw.get("sliding_window");
        return n != null && n.isNumber() ? n.asInt() : 0;
    }

    /** Token ids of a key such as {@code eos_token_id}, which may be a number, a list or absent. */
    public List<Integer> tokenIds(String key) {
        return tokenIds(raw, key);
    }

    static List<Integer> tokenIds(JsonNode node, String key) {
        List<Integer> ids = new ArrayList<>();
        JsonNode n = node.get(key);
        if (n != null && n.isNumber()) {
            ids.add(n.asInt());
        } else if (n != null && n.isArray()) {
            n.forEach(x -> ids.add(x.asInt()));
        }
        return ids;
    }

    public boolean has(String key) {
        return raw.has(key) && !raw.get(key).isNull();
    }

    public int intOr(String key, int fallback) {
        JsonNode n = raw.get(key);
        return n != null && n.isNumber() ? n.asInt() : fallback;
    }

    public double doubleOr(String key, double fallback) {
        JsonNode n = raw.get(key);
        return n != null && n.isNumber() ? n.asDouble() : fallback;
    }

    public String text(String key, String fallback) {
        JsonNode n = raw.get(key);
        return n != null && n.isTextual() ? n.asText() : fallback;
    }

    public JsonNode get(String key) {
        return raw.get(key);
    }

    private int requireInt(String key) {
        JsonNode n = raw.get(key);
        if (n == null || !n.isNumber()) {
            throw new CrucibleException((source == null ? "config" : source.toString()) + ": missing integer key '"
                    + key + "'");
        }
        return n.asInt();
    }

    private static Object toJava(JsonNode n) {
        if (n.isNumber()) {
            return n.numberValue();
        }
        if (n.isTextual()) {
            return n.asText();
        }
        if (n.isBoolean()) {
            return n.asBoolean();
        }
        if (n.isNull()) {
            return null;
        }
        return n;
    }
}
