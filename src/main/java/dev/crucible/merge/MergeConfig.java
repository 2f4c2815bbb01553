package dev.crucible.merge;

import dev.crucible.CrucibleException;
import dev.crucible.io.YamlErrors;
import dev.crucible.tensor.DType;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A mergekit YAML config, validated: every key known, every model a local directory, every parameter setting
 * well formed. {@code models:} is kept as one slice whose sources span all layers ({@code layerRange} null),
 * the way mergekit normalises it. Checks that need the models' weights (layer ranges, shapes, parameters the
 * method requires) happen in {@link MergePlan}.
 */
public final class MergeConfig {
    /** One input of a slice; {@code layerRange} null means all layers of the model ({@code models:} syntax). */
    public record Source(ModelRef model, int[] layerRange, Map<String, Object> parameters) {
    }

    public record Slice(List<Source> sources, ModelRef baseModel, Map<String, Object> parameters) {
    }

    /** Where a token's embedding row comes from when the tokenizer config says so. */
    public record TokenSource(String kind, ModelRef model, String token, Integer tokenId, boolean force) {
    }

    /**
     * @param source    "union", "base", or "model" (then {@code model} is the donor)
     * @param model     the donor for source "model"
     */
    public record TokenizerSpec(String source, ModelRef model, Map<String, TokenSource> tokens, Integer padToMultipleOf) {
    }

    private static final Set<String> TOP_KEYS = Set.of("merge_method", "models", "slices", "modules", "base_model",
            "parameters", "dtype", "out_dtype", "tokenizer_source", "tokenizer", "chat_template", "name");

    public final String mergeMethod;
    public final List<Slice> slices;
    public final boolean modelsSyntax;
    public final ModelRef baseModel;
    public final Map<String, Object> parameters;
    public final DType dtype;
    public final DType outDtype;
    public final TokenizerSpec tokenizer;
    public final String chatTemplate;
    public final String name;
    /** The config file's text, copied byte for byte to {@code mergekit_config.yml} and the model card. */
    public final String sourceText;

    private MergeConfig(String mergeMethod, List<Slice> slices, boolean modelsSyntax, ModelRef baseModel,
                        Map<String, Object> parameters, DType dtype, DType outDtype, TokenizerSpec tokenizer,
                        String chatTemplate, String name, String sourceText) {
        this.mergeMethod = mergeMethod;
        this.slices = slices;
        this.modelsSyntax = modelsSyntax;
        this.baseModel = baseModel;
        this.parameters = parameters;
        this.dtype = dtype;
        this.outDtype = outDtype;
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
        this.name = name;
        this.sourceText = sourceText;
    }

    /** Reads and validates {@code file}; relative model paths resolve against {@code baseDirs} in order. */
    public static MergeConfig read(Path file, Path... baseDirs) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot read merge config: " + e.getMessage(), e);
        }
        try {
            return parse(text, baseDirs);
        } catch (CrucibleException e) {
            throw new CrucibleException(file + ": " + e.getMessage(), e);
        }
    }

    public static MergeConfig parse(String text, Path... baseDirs) {
        Object root;
        try {
            root = new Load(LoadSettings.builder().build()).loadFromString(text);
        } catch (YamlEngineException e) {
            throw new CrucibleException("not valid YAML: " + YamlErrors.describe(e), e);
        }
        Map<String, Object> top = map(root, "config");
        checkKeys(top, TOP_KEYS, "config");
        if (top.containsKey("modules")) {
            throw new CrucibleException("modules: multi-module configs (vision towers, encoder-decoder) are not "
                    + "supported; use 'models' or 'slices'");
        }
        String method = string(top.get("merge_method"), "merge_method");
        if (method == null) {
            throw new CrucibleException("merge_method: required (e.g. linear, slerp, ties)");
        }
        boolean hasModels = top.get("models") != null;
        boolean hasSlices = top.get("slices") != null;
        if (hasModels == hasSlices) {
            throw new CrucibleException("exactly one of 'models' or 'slices' must be given");
        }
        ModelRef base = top.get("base_model") == null ? null : modelRef(top.get("base_model"), "base_model", baseDirs);
        List<Slice> slices = new ArrayList<>();
        if (hasModels) {
            List<Source> sources = new ArrayList<>();
            List<Object> models = list(top.get("models"), "models");
            for (int i = 0; i < models.size(); i++) {
                String key = "models[" + i + "]";
                Map<String, Object> m = map(models.get(i), key);
                checkKeys(m, Set.of("model", "parameters"), key);
                sources.add(new Source(modelRef(require(m, "model", key), key + ".model", baseDirs), null,
                        parameters(m.get("parameters"), key + ".parameters")));
            }
            slices.add(new Slice(List.copyOf(sources), null, Map.of()));
        } else {
            List<Object> raw = list(top.get("slices"), "slices");
            for (int i = 0; i < raw.size(); i++) {
                slices.add(slice(raw.get(i), "slices[" + i + "]", baseDirs));
            }
        }
        if (top.get("tokenizer_source") != null && top.get("tokenizer") != null) {
            throw new CrucibleException("tokenizer_source and tokenizer: give only one (tokenizer_source is the old form)");
        }
        TokenizerSpec tok = null;
        if (top.get("tokenizer_source") != null) {
            tok = tokenizerSource(string(top.get("tokenizer_source"), "tokenizer_source"), "tokenizer_source",
                    Map.of(), null, baseDirs);
        } else if (top.get("tokenizer") != null) {
            tok = tokenizer(top.get("tokenizer"), baseDirs);
        }
        String chat = string(top.get("chat_template"), "chat_template");
        if (chat != null) {
            ChatTemplates.validate(chat);
        }
        return new MergeConfig(method, List.copyOf(slices), hasModels, base,
                parameters(top.get("parameters"), "parameters"), dtype(top.get("dtype"), "dtype"),
                dtype(top.get("out_dtype"), "out_dtype"), tok, chat, string(top.get("name"), "name"), text);
    }

    private static Slice slice(Object raw, String key, Path[] baseDirs) {
        Map<String, Object> s = map(raw, key);
        checkKeys(s, Set.of("sources", "base_model", "parameters", "residual_weight"), key);
        List<Object> rawSources = list(require(s, "sources", key), key + ".sources");
        if (rawSources.isEmpty()) {
            throw new CrucibleException(key + ".sources: needs at least one source");
        }
        List<Source> sources = new ArrayList<>();
        for (int j = 0; j < rawSources.size(); j++) {
            String sk = key + ".sources[" + j + "]";
            Map<String, Object> src = map(rawSources.get(j), sk);
            checkKeys(src, Set.of("model", "layer_range", "parameters"), sk);
            List<Object> range = list(require(src, "layer_range", sk), sk + ".layer_range");
            if (range.size() != 2 || !(range.get(0) instanceof Integer a) || !(range.get(1) instanceof Integer b)
                    || a < 0 || b <= a) {
                throw new CrucibleException(sk + ".layer_range: expected [start, end) with 0 <= start < end, found "
                        + range);
            }
            sources.add(new Source(modelRef(require(src, "model", sk), sk + ".model", baseDirs), new int[]{a, b},
                    parameters(src.get("parameters"), sk + ".parameters")));
        }
        int len = sources.getFirst().layerRange[1] - sources.getFirst().layerRange[0];
        for (int j = 1; j < sources.size(); j++) {
            int[] r = sources.get(j).layerRange;
            if (r[1] - r[0] != len) {
                throw new CrucibleException(key + ".sources[" + j + "].layer_range: spans " + (r[1] - r[0])
                        + " layers but sources[0] spans " + len + "; all sources of a slice must span the same number");
            }
        }
        ModelRef base = s.get("base_model") == null ? null : modelRef(s.get("base_model"), key + ".base_model", baseDirs);
        return new Slice(List.copyOf(sources), base, parameters(s.get("parameters"), key + ".parameters"));
    }

    private static TokenizerSpec tokenizer(Object raw, Path[] baseDirs) {
        Map<String, Object> t = map(raw, "tokenizer");
        checkKeys(t, Set.of("source", "tokens", "pad_to_multiple_of"), "tokenizer");
        String source = t.get("source") == null ? "union" : string(t.get("source"), "tokenizer.source");
        Integer pad = null;
        if (t.get("pad_to_multiple_of") != null) {
            if (!(t.get("pad_to_multiple_of") instanceof Integer p) || p < 1) {
                throw new CrucibleException("tokenizer.pad_to_multiple_of: expected a positive integer, found "
                        + t.get("pad_to_multiple_of"));
            }
            pad = p;
        }
        Map<String, TokenSource> tokens = new LinkedHashMap<>();
        if (t.get("tokens") != null) {
            for (Map.Entry<String, Object> e : map(t.get("tokens"), "tokenizer.tokens").entrySet()) {
                tokens.put(e.getKey(), tokenSource(e.getValue(), "tokenizer.tokens." + e.getKey(), baseDirs));
            }
        }
        return tokenizerSource(source, "tokenizer.source", tokens, pad, baseDirs);
    }

    private static TokenizerSpec tokenizerSource(String source, String key, Map<String, TokenSource> tokens, Integer pad,
                                                 Path[] baseDirs) {
        if (source.equals("union") || source.equals("base")) {
            return new TokenizerSpec(source, null, Map.copyOf(tokens), pad);
        }
        return new TokenizerSpec("model", ModelRef.resolve(source, key, baseDirs), Map.copyOf(tokens), pad);
    }

    private static TokenSource tokenSource(Object raw, String key, Path[] baseDirs) {
        Map<String, Object> m = raw == null ? Map.of() : map(raw, key);
        checkKeys(m, Set.of("source", "force"), key);
        boolean force = m.get("force") instanceof Boolean b && b;
        Object src = m.get("source");
        if (src == null) {
            return new TokenSource("auto", null, null, null, force);
        }
        if (src instanceof String s) {
            return new TokenSource("model", ModelRef.resolve(s, key + ".source", baseDirs), null, null, force);
        }
        Map<String, Object> s = map(src, key + ".source");
        checkKeys(s, Set.of("kind", "model", "token", "token_id"), key + ".source");
        String kind = string(require(s, "kind", key + ".source"), key + ".source.kind");
        return switch (kind) {
            case "zero" -> new TokenSource("zero", null, null, null, force);
            case "model_token" -> {
                ModelRef model = modelRef(require(s, "model", key + ".source"), key + ".source.model", baseDirs);
                Object id = s.get("token_id");
                String token = string(s.get("token"), key + ".source.token");
                if ((id == null) == (token == null)) {
                    throw new CrucibleException(key + ".source: give exactly one of 'token' or 'token_id'");
                }
                yield new TokenSource("model_token", model, token, id == null ? null : ((Number) id).intValue(), force);
            }
            default -> throw new CrucibleException(key + ".source.kind: expected 'zero' or 'model_token', found '"
                    + kind + "'");
        };
    }

    static ModelRef modelRef(Object raw, String key, Path[] baseDirs) {
        if (raw instanceof String s) {
            return ModelRef.resolve(s, key, baseDirs);
        }
        Map<String, Object> m = map(raw, key);
        checkKeys(m, Set.of("model", "lora", "override_architecture"), key);
        if (m.get("override_architecture") != null) {
            throw new CrucibleException(key + ".override_architecture: not supported");
        }
        String model = string(require(m, "model", key), key + ".model");
        String lora = m.get("lora") == null ? null : string(m.get("lora"), key + ".lora");
        return ModelRef.resolve(lora == null ? model : model + "+" + lora, key, baseDirs);
    }

    private static Map<String, Object> parameters(Object raw, String key) {
        if (raw == null) {
            return Map.of();
        }
        Map<String, Object> p = map(raw, key);
        for (Map.Entry<String, Object> e : p.entrySet()) {
            ParameterSetting.validate(e.getValue(), key + "." + e.getKey());
        }
        return p;
    }

    static DType dtype(Object raw, String key) {
        String s = string(raw, key);
        if (s == null) {
            return null;
        }
        try {
            DType d = DType.parse(s);
            if (!d.isFloatingPoint() || d.byteSize() == 1 || d == DType.F64) {
                throw new CrucibleException("unsupported");
            }
            return d;
        } catch (CrucibleException e) {
            throw new CrucibleException(key + ": expected bfloat16, float16 or float32, found '" + s + "'");
        }
    }

    /** Every model the config names, in order of first appearance (base first when given). */
    public List<ModelRef> referencedModels() {
        Set<ModelRef> out = new LinkedHashSet<>();
        if (baseModel != null) {
            out.add(baseModel);
        }
        for (Slice s : slices) {
            if (s.baseModel != null) {
                out.add(s.baseModel);
            }
            s.sources.forEach(src -> out.add(src.model));
        }
        if (tokenizer != null && tokenizer.model != null) {
            out.add(tokenizer.model);
        }
        return List.copyOf(out);
    }

    static void checkKeys(Map<String, Object> m, Set<String> allowed, String where) {
        for (String k : m.keySet()) {
            if (!allowed.contains(k)) {
                throw new CrucibleException(where + ": unknown key '" + k + "' (expected one of "
                        + allowed.stream().sorted().toList() + ")");
            }
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object o, String key) {
        if (!(o instanceof Map<?, ?> m)) {
            throw new CrucibleException(key + ": expected a mapping, found " + ParameterSetting.describe(o));
        }
        for (Object k : m.keySet()) {
            if (!(k instanceof String)) {
                throw new CrucibleException(key + ": keys must be strings, found " + k);
            }
        }
        return (Map<String, Object>) m;
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Object o, String key) {
        if (!(o instanceof List<?> l)) {
            throw new CrucibleException(key + ": expected a list, found " + ParameterSetting.describe(o));
        }
        return (List<Object>) l;
    }

    static Object require(Map<String, Object> m, String k, String where) {
        Object v = m.get(k);
        if (v == null) {
            throw new CrucibleException(where + "." + k + ": required");
        }
        return v;
    }

    static String string(Object o, String key) {
        if (o == null) {
            return null;
        }
        if (!(o instanceof String s)) {
            throw new CrucibleException(key + ": expected a string, found " + ParameterSetting.describe(o));
        }
        return s;
    }
}
