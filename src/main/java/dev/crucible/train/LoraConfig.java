package dev.crucible.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import dev.crucible.merge.LoraFold;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A PEFT {@code adapter_config.json} for LoRA, rsLoRA and DoRA. The whole JSON is kept, so keys Crucible does
 * not interpret survive a load and save; typed accessors read the keys that change the math. New configs start
 * from every key PEFT 0.21 writes, with PEFT's defaults, so PEFT reads Crucible's adapters without surprises.
 */
public final class LoraConfig {
    public static final String FILE = "adapter_config.json";
    public static final String ALL_LINEAR = "all-linear";
    /** The PEFT release whose adapter format Crucible writes (its key set and naming). */
    public static final String PEFT_FORMAT_VERSION = "0.21.0";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final Path source;
    private final ObjectNode json;

    private LoraConfig(Path source, ObjectNode json) {
        this.source = source;
        this.json = json;
        validate();
    }

    /** A new LoRA config; {@code targetModules} are module-name suffixes, or the single entry "all-linear". */
    public static LoraConfig create(int r, double loraAlpha, double loraDropout, List<String> targetModules,
                                    boolean useRslora, boolean useDora) {
        return create(r, loraAlpha, loraDropout, targetModules, useRslora, useDora, List.of());
    }

    /** As above, with {@code modulesToSave}: modules trained in full and saved whole with the adapter (PEFT's name). */
    public static LoraConfig create(int r, double loraAlpha, double loraDropout, List<String> targetModules,
                                    boolean useRslora, boolean useDora, List<String> modulesToSave) {
        ObjectNode n = defaults();
        if (!modulesToSave.isEmpty()) {
            ArrayNode m = n.putArray("modules_to_save");
            modulesToSave.forEach(m::add);
        }
        n.put("r", r);
        putNumber(n, "lora_alpha", loraAlpha);
        n.put("lora_dropout", loraDropout);
        if (targetModules.size() == 1 && ALL_LINEAR.equals(targetModules.get(0))) {
            n.put("target_modules", ALL_LINEAR);
        } else {
            ArrayNode t = n.putArray("target_modules");
            targetModules.forEach(t::add);
        }
        n.put("use_rslora", useRslora);
        n.put("use_dora", useDora);
        return new LoraConfig(null, n);
    }

    /** A new LoRA config whose targets are the modules whose whole path matches {@code targetRegex} (PEFT's string form). */
    public static LoraConfig createForRegex(int r, double loraAlpha, double loraDropout, String targetRegex,
                                            boolean useRslora, boolean useDora, List<String> modulesToSave) {
        ObjectNode n = create(r, loraAlpha, loraDropout, List.of(ALL_LINEAR), useRslora, useDora, modulesToSave).json;
        n.put("target_modules", targetRegex);
        return new LoraConfig(null, n);
    }

    private static void putNumber(ObjectNode n, String key, double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e9) {
            n.put(key, (long) v);
        } else {
            n.put(key, v);
        }
    }

    /** Every key PEFT 0.21's LoraConfig saves, with its default value. */
    private static ObjectNode defaults() {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        for (String nullKey : List.of("alora_invocation_tokens", "arrow_config", "auto_mapping",
                "base_model_name_or_path", "corda_config", "eva_config", "exclude_modules", "kasa_config",
                "layer_replication", "layers_pattern", "layers_to_transform", "lora_ga_config", "megatron_config",
                "modules_to_save", "monteclora_config", "revision", "target_parameters", "trainable_token_indices",
                "use_bdlora", "velora_config")) {
            n.putNull(nullKey);
        }
        n.putObject("alpha_pattern");
        n.put("bias", "none");
        n.put("ensure_weight_tying", false);
        n.put("fan_in_fan_out", false);
        n.put("inference_mode", true);
        n.put("init_lora_weights", true);
        n.putObject("loftq_config");
        n.put("lora_alpha", 8);
        n.put("lora_bias", false);
        n.put("lora_dropout", 0.0);
        n.put("megatron_core", "megatron.core");
        n.put("peft_type", "LORA");
        n.put("peft_version", PEFT_FORMAT_VERSION);
        n.put("qalora_group_size", 16);
        n.put("r", 8);
        n.putObject("rank_pattern");
        n.putNull("target_modules");
        n.put("task_type", "CAUSAL_LM");
        n.put("use_dora", false);
        n.put("use_qalora", false);
        n.put("use_rslora", false);
        return n;
    }

    public static LoraConfig read(Path adapterDir) {
        Path file = adapterDir.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            throw new CrucibleException(adapterDir + ": not a PEFT adapter directory (no " + FILE + ")");
        }
        try {
            JsonNode node = JSON.readTree(file.toFile());
            if (node == null || !node.isObject()) {
                throw new CrucibleException(file + ": expected a JSON object");
            }
            return new LoraConfig(file, (ObjectNode) node);
        } catch (IOException e) {
            throw new CrucibleException(file + ": not valid JSON: " + e.getMessage(), e);
        }
    }

    private String where() {
        return source == null ? FILE : source.toString();
    }

    private CrucibleException problem(String key, String what) {
        return new CrucibleException(where() + ": '" + key + "' " + what);
    }

    private void validate() {
        String type = json.path("peft_type").asText("");
        if (!type.equals("LORA")) {
            throw problem("peft_type", "is '" + type + "'; Crucible reads LORA adapters (LoRA, rsLoRA, DoRA)");
        }
        JsonNode r = json.get("r");
        if (r == null || !r.canConvertToInt() || !r.isIntegralNumber() || r.asInt() <= 0) {
            throw problem("r", "must be a positive integer, got " + r);
        }
        JsonNode alpha = json.get("lora_alpha");
        if (alpha == null || !alpha.isNumber()) {
            throw problem("lora_alpha", "must be a number, got " + alpha);
        }
        double dropout = json.path("lora_dropout").asDouble(0);
        if (dropout < 0 || dropout >= 1) {
            throw problem("lora_dropout", "must be in [0, 1), got " + dropout);
        }
        JsonNode targets = json.get("target_modules");
        if (targets == null || !(targets.isTextual() || targets.isArray())) {
            throw problem("target_modules", "must be a list of module names, a regex or \"all-linear\", got " + targets);
        }
        if (targets.isTextual() && !targets.asText().equals(ALL_LINEAR)) {
            compile("target_modules", targets.asText());
        }
        for (JsonNode t : targets.isArray() ? targets : JsonNodeFactory.instance.arrayNode()) {
            if (!t.isTextual()) {
                throw problem("target_modules", "entries must be strings, got " + t);
            }
        }
        if (json.path("fan_in_fan_out").asBoolean(false)) {
            throw problem("fan_in_fan_out", "is true (GPT-2 Conv1D layout); Crucible supports nn.Linear targets only");
        }
        String bias = json.path("bias").asText("none");
        if (!bias.equals("none") || json.path("lora_bias").asBoolean(false)) {
            throw problem("bias", "is '" + bias + "'; Crucible supports adapters without bias tensors (bias: none)");
        }
        JsonNode save = json.get("modules_to_save");
        if (save != null && !save.isNull() && !(save.isArray() && allText(save))) {
            throw problem("modules_to_save", "must be a list of module names, got " + save);
        }
        for (String unsupported : List.of("layers_to_transform", "layer_replication",
                "trainable_token_indices", "target_parameters")) {
            JsonNode v = json.get(unsupported);
            if (v != null && !v.isNull() && !(v.isContainerNode() && v.isEmpty())) {
                throw problem(unsupported, "is set (" + v + "); Crucible does not support it yet");
            }
        }
        for (String key : List.of("rank_pattern", "alpha_pattern")) {
            for (Iterator<Map.Entry<String, JsonNode>> it = json.path(key).properties().iterator(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                compile(key, e.getKey());
                if (!e.getValue().isNumber()) {
                    throw problem(key, "maps '" + e.getKey() + "' to " + e.getValue() + ", expected a number");
                }
            }
        }
    }

    private static boolean allText(JsonNode list) {
        for (JsonNode n : list) {
            if (!n.isTextual()) {
                return false;
            }
        }
        return true;
    }

    private Pattern compile(String key, String regex) {
        try {
            return Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            throw problem(key, "holds an invalid regular expression '" + regex + "': " + e.getDescription());
        }
    }

    public int r() {
        return json.get("r").asInt();
    }

    public double loraAlpha() {
        return json.get("lora_alpha").asDouble();
    }

    public double loraDropout() {
        return json.path("lora_dropout").asDouble(0);
    }

    public boolean useRslora() {
        return json.path("use_rslora").asBoolean(false);
    }

    public boolean useDora() {
        return json.path("use_dora").asBoolean(false);
    }

    public boolean allLinear() {
        return json.get("target_modules").isTextual() && json.get("target_modules").asText().equals(ALL_LINEAR);
    }

    /** The target module names as written (empty when the config uses a regex or "all-linear"). */
    public List<String> targetModules() {
        List<String> out = new ArrayList<>();
        JsonNode t = json.get("target_modules");
        if (t.isArray()) {
            t.forEach(n -> out.add(n.asText()));
        }
        return out;
    }

    /** {@code modules_to_save}: names of modules trained in full and saved whole (e.g. {@code lm_head}); may be empty. */
    public List<String> modulesToSave() {
        List<String> out = new ArrayList<>();
        json.path("modules_to_save").forEach(n -> out.add(n.asText()));
        return out;
    }

    /** Whether {@code modulePath} is one of {@code modules_to_save}: PEFT's test, the path ends with a listed name. */
    public boolean savesModule(String modulePath) {
        for (String name : modulesToSave()) {
            if (modulePath.endsWith(name)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether PEFT would wrap the linear module at {@code modulePath} (e.g. {@code model.layers.0.self_attn.q_proj}):
     * a regex must match the whole path, a list entry must equal the path or its last dotted parts.
     */
    public boolean targets(String modulePath) {
        if (allLinear()) {
            return !matchesAny("exclude_modules", modulePath);
        }
        return matchesAny("target_modules", modulePath) && !matchesAny("exclude_modules", modulePath);
    }

    private boolean matchesAny(String key, String modulePath) {
        JsonNode t = json.get(key);
        if (t == null || t.isNull()) {
            return false;
        }
        if (t.isTextual()) {
            return compile(key, t.asText()).matcher(modulePath).matches();
        }
        for (JsonNode n : t) {
            String name = n.asText();
            if (modulePath.equals(name) || modulePath.endsWith("." + name)) {
                return true;
            }
        }
        return false;
    }

    /** The rank of the module: {@code rank_pattern}'s value for the first key that matches it, else {@code r}. */
    public int rank(String modulePath) {
        JsonNode v = patternValue("rank_pattern", modulePath);
        return v == null ? r() : v.asInt();
    }

    public double alpha(String modulePath) {
        JsonNode v = patternValue("alpha_pattern", modulePath);
        return v == null ? loraAlpha() : v.asDouble();
    }

    /** The factor on B·A: alpha/r, or alpha/sqrt(r) with rsLoRA (per module, after rank and alpha patterns). */
    public double scaling(String modulePath) {
        int r = rank(modulePath);
        double a = alpha(modulePath);
        return LoraFold.scaling(a, r, useRslora());
    }

    private JsonNode patternValue(String key, String modulePath) {
        return LoraFold.patternValue(json.path(key), modulePath);
    }

    /**
     * The config PEFT saves after wrapping a model: "all-linear" expanded into the names of the linear modules
     * it chose (PEFT does the same), {@code base_model_name_or_path} set, inference mode on.
     */
    public LoraConfig forSaving(Collection<String> wrappedModulePaths, String baseModelNameOrPath) {
        ObjectNode n = json.deepCopy();
        if (allLinear()) {
            ArrayNode t = n.putArray("target_modules");
            wrappedModulePaths.stream().map(p -> p.substring(p.lastIndexOf('.') + 1)).distinct().forEach(t::add);
        }
        if (baseModelNameOrPath != null) {
            n.put("base_model_name_or_path", baseModelNameOrPath);
        }
        n.put("inference_mode", true);
        return new LoraConfig(source, n);
    }

    /** A copy of the JSON. */
    public ObjectNode json() {
        return json.deepCopy();
    }

    /** Writes {@code adapter_config.json} into {@code dir} with sorted keys and two-space indent, as PEFT does. */
    public void write(Path dir) {
        Map<String, JsonNode> sorted = new TreeMap<>();
        json.properties().forEach(e -> sorted.put(e.getKey(), e.getValue()));
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        sorted.forEach(out::set);
        try {
            Files.writeString(dir.resolve(FILE), JSON.writeValueAsString(out));
        } catch (IOException e) {
            throw new CrucibleException(dir.resolve(FILE) + ": cannot write: " + e.getMessage(), e);
        }
    }
}
