package dev.crucible.merge;

import dev.crucible.CrucibleException;
import dev.crucible.io.YamlFile;
import dev.crucible.tensor.DType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A mergekit-moe YAML config, validated up front (every key known, every model a local directory, the checks
 * of mergekit's {@code is_bad_config}). Only the Mixtral output exists, so {@code shared_experts} (DeepSeek /
 * Qwen MoE outputs) is refused.
 */
public final class MoeConfig {
    /** How the router rows are initialised (mergekit's {@code gate_mode}). */
    public enum GateMode {
        /** Hidden state at each layer's input for the prompts' last token (mergekit's default). */
        HIDDEN("hidden"),
        /** As HIDDEN, averaged over the prompt's tokens. */
        HIDDEN_AVG("hidden_avg"),
        /** Sum of the prompt tokens' embeddings, the same row for every layer. */
        CHEAP_EMBED("cheap_embed"),
        /** torch.randn. */
        RANDOM("random"),
        /** U(-1/sqrt(hidden), 1/sqrt(hidden)), torch.nn.Linear's default initialisation. */
        UNIFORM_RANDOM("uniform_random");

        public final String yamlName;

        GateMode(String yamlName) {
            this.yamlName = yamlName;
        }

        public boolean usesPrompts() {
            return this != RANDOM && this != UNIFORM_RANDOM;
        }

        static GateMode parse(String s) {
            if ("hidden_last".equals(s)) {
                return HIDDEN; // mergekit accepts the explicit name for the default too
            }
            for (GateMode m : values()) {
                if (m.yamlName.equals(s)) {
                    return m;
                }
            }
            throw new CrucibleException("gate_mode: expected one of [hidden, hidden_avg, cheap_embed, random, "
                    + "uniform_random], found '" + s + "'");
        }
    }

    public record Expert(ModelRef sourceModel, List<String> positivePrompts, List<String> negativePrompts,
                         Double noiseScale, Double residualScale) {
    }

    private static final Set<String> TOP_KEYS = Set.of("base_model", "experts", "gate_mode", "dtype",
            "experts_per_token", "shared_experts", "architecture");
    private static final Set<String> EXPERT_KEYS = Set.of("source_model", "positive_prompts", "negative_prompts",
            "noise_scale", "residual_scale");

    public final ModelRef baseModel;
    public final List<Expert> experts;
    public final GateMode gateMode;
    /** The output dtype; null means the base model's {@code torch_dtype} (then the stored dtype). */
    public final DType dtype;
    public final int expertsPerToken;
    /** The config file's text, copied to {@code mergekit_moe_config.yml}. */
    public final String sourceText;

    private MoeConfig(ModelRef baseModel, List<Expert> experts, GateMode gateMode, DType dtype, int expertsPerToken,
                      String sourceText) {
        this.baseModel = baseModel;
        this.experts = experts;
        this.gateMode = gateMode;
        this.dtype = dtype;
        this.expertsPerToken = expertsPerToken;
        this.sourceText = sourceText;
    }

    public static MoeConfig read(Path file, boolean allowAllSame, Path... baseDirs) {
        return parse(YamlFile.read(file, "MoE config"), allowAllSame, baseDirs);
    }

    public static MoeConfig parse(String text, boolean allowAllSame, Path... baseDirs) {
        return parse(YamlFile.parse(text, null, YamlFile.Duplicates.REJECT), allowAllSame, baseDirs);
    }

    /** Errors get the file and the line of the key they name. */
    private static MoeConfig parse(YamlFile yaml, boolean allowAllSame, Path[] baseDirs) {
        try {
            return build(yaml.root(), yaml.text(), allowAllSame, baseDirs);
        } catch (CrucibleException e) {
            throw yaml.locate(e);
        }
    }

    private static MoeConfig build(Object root, String text, boolean allowAllSame, Path[] baseDirs) {
        Map<String, Object> top = MergeConfig.map(root, "config");
        MergeConfig.checkKeys(top, TOP_KEYS, "config");
        if (top.get("shared_experts") != null) {
            throw new CrucibleException("shared_experts: only the Mixtral output is implemented, and it has no shared "
                    + "experts (mergekit's DeepSeek / Qwen MoE outputs are not supported)");
        }
        String arch = MergeConfig.string(top.get("architecture"), "architecture");
        if (arch != null && !"mixtral".startsWith(arch.toLowerCase(Locale.ROOT))) {
            throw new CrucibleException("architecture: '" + arch + "' is not supported; the only output architecture "
                    + "is Mixtral");
        }
        ModelRef base = MergeConfig.modelRef(MergeConfig.require(top, "base_model", "config"), "base_model", baseDirs);
        GateMode mode = top.get("gate_mode") == null ? GateMode.HIDDEN
                : GateMode.parse(MergeConfig.string(top.get("gate_mode"), "gate_mode"));
        DType dtype = MergeConfig.dtype(top.get("dtype"), "dtype");
        int perToken = top.get("experts_per_token") == null ? 2 : integer(top.get("experts_per_token"), "experts_per_token");
        if (perToken < 1) {
            throw new CrucibleException("experts_per_token: must be at least 1, found " + perToken);
        }
        List<Object> raw = MergeConfig.list(MergeConfig.require(top, "experts", "config"), "experts");
        List<Expert> experts = new ArrayList<>();
        for (int i = 0; i < raw.size(); i++) {
            experts.add(expert(raw.get(i), "experts[" + i + "]", mode, baseDirs));
        }
        if (experts.size() < perToken) {
            throw new CrucibleException("experts: " + experts.size() + " expert(s) for experts_per_token " + perToken
                    + "; there must be at least as many experts as experts_per_token");
        }
        if (mode.usesPrompts() || mode == GateMode.UNIFORM_RANDOM) {
            checkPromptsDiffer(experts);
        }
        if (!allowAllSame && experts.stream().allMatch(e -> e.sourceModel.equals(experts.get(0).sourceModel))) {
            throw new CrucibleException("experts: every expert is the same model, which makes a bigger model with the "
                    + "same output; to train it afterwards anyway, pass --i-understand-this-is-not-useful-without-training");
        }
        return new MoeConfig(base, List.copyOf(experts), mode, dtype, perToken, text);
    }

    private static Expert expert(Object raw, String key, GateMode mode, Path[] baseDirs) {
        Map<String, Object> m = MergeConfig.map(raw, key);
        MergeConfig.checkKeys(m, EXPERT_KEYS, key);
        ModelRef model = MergeConfig.modelRef(MergeConfig.require(m, "source_model", key), key + ".source_model", baseDirs);
        List<String> positive = prompts(m.get("positive_prompts"), key + ".positive_prompts");
        List<String> negative = prompts(m.get("negative_prompts"), key + ".negative_prompts");
        // mergekit demands prompts for every mode but "random" (uniform_random included)
        if (mode != GateMode.RANDOM && positive.isEmpty()) {
            throw new CrucibleException(key + ".positive_prompts: required for gate_mode " + mode.yamlName
                    + " (at least one prompt that should be routed to this expert)");
        }
        return new Expert(model, positive, negative, number(m.get("noise_scale"), key + ".noise_scale"),
                number(m.get("residual_scale"), key + ".residual_scale"));
    }

    /** mergekit refuses prompt sets that are the same for every expert: the routers could not tell them apart. */
    private static void checkPromptsDiffer(List<Expert> experts) {
        Expert first = experts.get(0);
        boolean allSame = experts.stream().allMatch(e -> e.positivePrompts.equals(first.positivePrompts)
                && e.negativePrompts.equals(first.negativePrompts));
        if (allSame && experts.size() > 1) {
            throw new CrucibleException("experts: the positive and negative prompts are identical for every expert, so "
                    + "the router cannot tell the experts apart; give each expert prompts of what it should handle");
        }
    }

    private static List<String> prompts(Object raw, String key) {
        if (raw == null) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        List<Object> l = MergeConfig.list(raw, key);
        for (int i = 0; i < l.size(); i++) {
            out.add(MergeConfig.string(l.get(i), key + "[" + i + "]"));
        }
        return List.copyOf(out);
    }

    private static int integer(Object o, String key) {
        if (!(o instanceof Integer || o instanceof Long)) {
            throw new CrucibleException(key + ": expected an integer, found " + ParameterSetting.describe(o));
        }
        return ((Number) o).intValue();
    }

    private static Double number(Object o, String key) {
        if (o == null) {
            return null;
        }
        if (!(o instanceof Number n) || !Double.isFinite(n.doubleValue())) {
            throw new CrucibleException(key + ": expected a number, found " + ParameterSetting.describe(o));
        }
        return n.doubleValue();
    }

    /** The distinct models the config reads, base first. */
    public List<ModelRef> models() {
        List<ModelRef> out = new ArrayList<>(List.of(baseModel));
        experts.forEach(e -> {
            if (!out.contains(e.sourceModel)) {
                out.add(e.sourceModel);
            }
        });
        return List.copyOf(out);
    }
}
