package dev.crucible.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A model's hyper-parameters as llama.cpp's converter sees them: config.json after transformers'
 * {@code AutoConfig.to_dict()} (the config class's defaults for keys the file leaves out, rope settings gathered
 * into {@code rope_parameters} as transformers 5 does), {@code text_config} lifted to the top, and the
 * converter's own {@code rope_parameters} mirroring. Python's distinction between an absent key and a present
 * null matters to the converter and is kept ({@link #has} vs {@link #get}).
 */
final class HfHparams {
    /** The config class defaults the converter can read, per model_type (transformers 5.18). */
    private static final Map<String, Map<String, Object>> DEFAULTS = Map.of(
            "llama", Map.of("max_position_embeddings", 2048, "rms_norm_eps", 1e-6, "rope_theta", 10000.0),
            "mistral", Map.of("max_position_embeddings", 131072, "rms_norm_eps", 1e-6, "rope_theta", 10000.0,
                    "sliding_window", 4096),
            "mixtral", Map.of("max_position_embeddings", 131072, "rms_norm_eps", 1e-5, "rope_theta", 1e6,
                    "num_local_experts", 8, "num_experts_per_tok", 2),
            "qwen2", Map.of("max_position_embeddings", 32768, "rms_norm_eps", 1e-6, "rope_theta", 10000.0),
            "qwen3", Map.of("max_position_embeddings", 32768, "rms_norm_eps", 1e-6, "rope_theta", 10000.0,
                    "head_dim", 128),
            "gemma", Map.of("max_position_embeddings", 8192, "rms_norm_eps", 1e-6, "rope_theta", 10000.0,
                    "head_dim", 256),
            "gemma2", Map.of("max_position_embeddings", 8192, "rms_norm_eps", 1e-6, "rope_theta", 10000.0,
                    "head_dim", 256, "attn_logit_softcapping", 50.0, "final_logit_softcapping", 30.0,
                    "sliding_window", 4096),
            "phi3", Map.of("max_position_embeddings", 4096, "rms_norm_eps", 1e-5, "rope_theta", 10000.0,
                    "original_max_position_embeddings", 4096));

    final Path configFile;
    final ObjectNode raw;
    final ObjectNode h;
    /** The converter's {@code self.rope_parameters}. */
    final ObjectNode rope;

    private HfHparams(Path configFile, ObjectNode raw, ObjectNode h, ObjectNode rope) {
        this.configFile = configFile;
        this.raw = raw;
        this.h = h;
        this.rope = rope;
    }

    static HfHparams read(Path dir) {
        Path file = dir.resolve("config.json");
        JsonNode node = GeneralMetadata.readJson(file);
        if (node == null) {
            throw new CrucibleException(dir + ": no config.json (not a Hugging Face model directory)");
        }
        if (!node.isObject()) {
            throw new CrucibleException(file + ": not a JSON object");
        }
        ObjectNode raw = (ObjectNode) node;
        ObjectNode h = raw.deepCopy();
        if (h.get("text_config") instanceof ObjectNode text) {
            text.fields().forEachRemaining(e -> h.set(e.getKey(), e.getValue()));
        }
        String type = h.path("model_type").asText("");
        applyDefaults(h, type);
        ObjectNode rope = ropeParameters(h);
        return new HfHparams(file, raw, h, rope);
    }

    private static void applyDefaults(ObjectNode h, String type) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        Map<String, Object> defaults = DEFAULTS.getOrDefault(type, Map.of());
        for (Map.Entry<String, Object> e : defaults.entrySet()) {
            if (!h.has(e.getKey()) && !(e.getKey().equals("rope_theta") && h.has("rope_parameters"))) {
                h.set(e.getKey(), e.getValue() instanceof Integer i ? f.numberNode(i) : f.numberNode((Double) e.getValue()));
            }
        }
        if (!h.has("num_key_value_heads") && h.has("num_attention_heads")) {
            h.set("num_key_value_heads", h.get("num_attention_heads"));
        }
        // Llama and Mistral compute head_dim when it is absent or null; Mixtral and Qwen2 leave it unset
        if ((type.equals("llama") || type.equals("mistral")) && (!h.has("head_dim") || h.get("head_dim").isNull())
                && h.has("hidden_size") && h.has("num_attention_heads")) {
            h.put("head_dim", h.get("hidden_size").asInt() / h.get("num_attention_heads").asInt());
        }
        // transformers 5 gathers rope_theta and rope_scaling into rope_parameters
        if (!h.has("rope_parameters") || h.get("rope_parameters").isNull()) {
            ObjectNode rp = f.objectNode();
            if (h.get("rope_scaling") instanceof ObjectNode scaling) {
                rp.setAll(scaling);
                if (!rp.has("rope_type") && rp.has("type")) {
                    rp.set("rope_type", rp.get("type"));
                    rp.remove("type");
                }
            }
            if (h.has("rope_theta")) {
                rp.set("rope_theta", h.get("rope_theta"));
            }
            if (!rp.has("rope_type")) {
                rp.put("rope_type", "default");
            }
            if (type.equals("phi3") && !rp.has("partial_rotary_factor")) {
                rp.set("partial_rotary_factor", h.has("partial_rotary_factor") ? h.get("partial_rotary_factor")
                        : f.numberNode(1.0));
            }
            h.set("rope_parameters", rp);
            h.remove("rope_scaling");
            h.remove("rope_theta");
        }
    }

    /** TextModel.__init__: rope_parameters with the global settings mirrored into it. */
    private static ObjectNode ropeParameters(ObjectNode h) {
        JsonNode src = h.has("rope_parameters") ? h.get("rope_parameters") : h.get("rope_scaling");
        ObjectNode rope = src instanceof ObjectNode o ? o.deepCopy() : JsonNodeFactory.instance.objectNode();
        if (!rope.has("full_attention") && !rope.has("sliding_attention")) {
            JsonNode theta = find(h, List.of("global_rope_theta", "rope_global_theta", "rope_theta_global", "rope_theta",
                    "rotary_emb_base"));
            JsonNode local = find(h, List.of("local_rope_theta", "rope_local_theta", "rope_theta_local", "swa_rope_theta",
                    "rope_local_base_freq"));
            JsonNode partial = find(h, List.of("partial_rotary_factor", "rope_pct", "rope_percent"));
            JsonNode originalMax = find(h, List.of("original_max_position_embeddings"));
            if (isSet(local)) {
                rope.set("sliding_attention", JsonNodeFactory.instance.objectNode().set("rope_theta", local));
            }
            if (!rope.has("rope_theta") && isSet(theta)) {
                rope.set("rope_theta", theta);
            }
            if (!rope.has("rope_type") && isSet(rope.get("type"))) {
                rope.set("rope_type", rope.get("type"));
            }
            if (!rope.has("partial_rotary_factor") && isSet(partial)) {
                rope.set("partial_rotary_factor", partial);
            }
            if (!rope.has("original_max_position_embeddings") && isSet(originalMax)) {
                rope.set("original_max_position_embeddings", originalMax);
            }
        }
        return rope;
    }

    private static boolean isSet(JsonNode n) {
        return n != null && !n.isNull();
    }

    /** find_hparam: the value of the first key present (a present null counts), or null. */
    static JsonNode find(JsonNode h, List<String> keys) {
        for (String k : keys) {
            if (h.has(k)) {
                return h.get(k);
            }
        }
        return null;
    }

    JsonNode find(List<String> keys) {
        return find(h, keys);
    }

    /** find_hparam without optional: the first present key, or an error naming them. */
    JsonNode require(List<String> keys) {
        JsonNode v = find(keys);
        if (v == null) {
            throw new CrucibleException(configFile + ": could not find any of " + keys);
        }
        return v;
    }

    boolean has(String key) {
        return h.has(key);
    }

    /** hparams.get(key): null when absent or null. */
    JsonNode get(String key) {
        JsonNode v = h.get(key);
        return v == null || v.isNull() ? null : v;
    }

    int intValue(String key) {
        JsonNode v = get(key);
        if (v == null || !v.canConvertToInt()) {
            throw new CrucibleException(configFile + ": '" + key + "' is missing or not an integer");
        }
        return v.asInt();
    }

    String modelType() {
        return h.path("model_type").asText("");
    }

    /** The rope settings of full attention ({@code rope_parameters.full_attention} or the whole). */
    JsonNode ropeParams() {
        return rope.has("full_attention") ? rope.get("full_attention") : rope;
    }
}
