package dev.crucible.merge;

import dev.crucible.CrucibleException;
import dev.crucible.io.KeySuggestion;
import dev.crucible.io.YamlFile;
import dev.crucible.template.ChatTemplates;
import dev.crucible.tensor.DType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A mergekit YAML config, validated as mergekit's pydantic schema validates it: every model a local directory,
 * every parameter setting well formed (numbers written as strings become numbers, as pydantic coerces them), and
 * keys the schema does not know ignored with a warning (pydantic ignores them silently; a typo should not go
 * unnoticed). Model references take every form mergekit accepts: {@code path}, {@code path@revision},
 * {@code path+lora}, and the expanded mapping of mergekit's own config dumps ({@code {model: {path, revision},
 * lora: ...}}). {@code modules: {default: ...}}, the form newer mergekit versions dump, is read like the
 * top-level {@code models}/{@code slices} with its parameters as an extra level. {@code models:} is kept as one
 * slice whose sources span all layers ({@code layerRange} null), the way mergekit normalises it. Checks that need
 * the models' weights (layer ranges, shapes, parameters the method requires) happen in {@link MergePlan}.
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
    /** The one module of a decoder-only architecture, as mergekit names it. */
    private static final String DEFAULT_MODULE = "default";

    public final String mergeMethod;
    public final List<Slice> slices;
    public final boolean modelsSyntax;
    public final ModelRef baseModel;
    public final Map<String, Object> parameters;
    /** {@code modules.default.parameters}: looked up after a slice's and before the top-level ones (else empty). */
    public final Map<String, Object> moduleParameters;
    /** Where the slices were written: "" for the top level, "modules.default." for the module syntax. */
    public final String slicesKeyPrefix;
    public final DType dtype;
    public final DType outDtype;
    public final TokenizerSpec tokenizer;
    public final String chatTemplate;
    public final String name;
    /** What was accepted but ignored (unknown keys), for the user to see before the merge runs. */
    public final List<String> warnings;
    /** The config file's text, copied byte for byte to {@code mergekit_config.yml} and the model card. */
    public final String sourceText;

    private MergeConfig(String mergeMethod, List<Slice> slices, boolean modelsSyntax, ModelRef baseModel,
                        Map<String, Object> parameters, Map<String, Object> moduleParameters, String slicesKeyPrefix,
                        DType dtype, DType outDtype, TokenizerSpec tokenizer, String chatTemplate, String name,
                        List<String> warnings, String sourceText) {
        this.mergeMethod = mergeMethod;
        this.slices = slices;
        this.modelsSyntax = modelsSyntax;
        this.baseModel = baseModel;
        this.parameters = parameters;
        this.moduleParameters = moduleParameters;
        this.slicesKeyPrefix = slicesKeyPrefix;
        this.warnings = warnings;
        this.dtype = dtype;
        this.outDtype = outDtype;
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
        this.name = name;
        this.sourceText = sourceText;
    }

    /** Reads and validates {@code file}; relative model paths resolve against {@code baseDirs} in order. */
    public static MergeConfig read(Path file, Path... baseDirs) {
        return parse(YamlFile.read(file, "merge config", YamlFile.Duplicates.LAST_WINS), baseDirs);
    }

    public static MergeConfig parse(String text, Path... baseDirs) {
        return parse(YamlFile.parse(text, null, YamlFile.Duplicates.LAST_WINS), baseDirs);
    }

    /**
     * PyYAML, which mergekit reads configs with, keeps the last of repeated keys (real configs repeat some): so does
     * this, with a warning. Errors and warnings get the file and the line of the key they name.
     */
    private static MergeConfig parse(YamlFile yaml, Path[] baseDirs) {
        try {
            return build(yaml, baseDirs);
        } catch (CrucibleException e) {
            throw yaml.locate(e);
        }
    }

    private static MergeConfig build(YamlFile yaml, Path[] baseDirs) {
        Reader r = new Reader(baseDirs, yaml);
        Map<String, Object> top = map(yaml.root(), "config");
        r.ignoreUnknownKeys(top, TOP_KEYS, "config");
        String method = string(top.get("merge_method"), "merge_method");
        if (method == null) {
            throw new CrucibleException("merge_method: required (e.g. linear, slerp, ties)");
        }
        Map<String, Object> body = top;
        String prefix = "";
        Map<String, Object> moduleParameters = Map.of();
        if (top.get("modules") != null) {
            if (present(top.get("models")) || present(top.get("slices"))) {
                throw new CrucibleException("exactly one of 'models', 'slices' or 'modules' must be given");
            }
            Map<String, Object> modules = map(top.get("modules"), "modules");
            if (modules.size() != 1 || !modules.containsKey(DEFAULT_MODULE)) {
                throw new CrucibleException("modules: only the single module '" + DEFAULT_MODULE + "' of a decoder-only"
                        + " model is supported, found " + modules.keySet() + " (multi-module models such as vision"
                        + " towers or encoder-decoders are not)");
            }
            prefix = "modules." + DEFAULT_MODULE + ".";
            body = map(modules.get(DEFAULT_MODULE), "modules." + DEFAULT_MODULE);
            r.ignoreUnknownKeys(body, Set.of("models", "slices", "parameters"), "modules." + DEFAULT_MODULE);
            moduleParameters = r.parameters(body.get("parameters"), prefix + "parameters");
        }
        boolean hasModels = present(body.get("models"));
        boolean hasSlices = present(body.get("slices"));
        if (hasModels == hasSlices) {
            throw new CrucibleException(prefix.isEmpty() ? "exactly one of 'models', 'slices' or 'modules' must be given"
                    : prefix + "models / " + prefix + "slices: give exactly one of them");
        }
        ModelRef base = top.get("base_model") == null ? null : r.modelRef(top.get("base_model"), "base_model");
        List<Slice> slices = new ArrayList<>();
        if (hasModels) {
            List<Source> sources = new ArrayList<>();
            List<Object> models = list(body.get("models"), prefix + "models");
            for (int i = 0; i < models.size(); i++) {
                String key = prefix + "models[" + i + "]";
                Map<String, Object> m = map(models.get(i), key);
                r.ignoreUnknownKeys(m, Set.of("model", "parameters"), key);
                sources.add(new Source(r.modelRef(require(m, "model", key), key + ".model"), null,
                        r.parameters(m.get("parameters"), key + ".parameters")));
            }
            slices.add(new Slice(List.copyOf(sources), null, Map.of()));
        } else {
            List<Object> raw = list(body.get("slices"), prefix + "slices");
            for (int i = 0; i < raw.size(); i++) {
                slices.add(r.slice(raw.get(i), prefix + "slices[" + i + "]"));
            }
        }
        if (top.get("tokenizer_source") != null && top.get("tokenizer") != null) {
            throw new CrucibleException("tokenizer_source and tokenizer: give only one (tokenizer_source is the old form)");
        }
        TokenizerSpec tok = null;
        if (top.get("tokenizer_source") != null) {
            tok = r.tokenizerSource(top.get("tokenizer_source"), "tokenizer_source", Map.of(), null);
        } else if (top.get("tokenizer") != null) {
            tok = r.tokenizer(top.get("tokenizer"));
        }
        String chat = string(top.get("chat_template"), "chat_template");
        if (chat != null) {
            ChatTemplates.validateMergekit(chat);
        }
        return new MergeConfig(method, List.copyOf(slices), hasModels, base,
                r.parameters(top.get("parameters"), "parameters"), moduleParameters, prefix,
                dtype(top.get("dtype"), "dtype"), dtype(top.get("out_dtype"), "out_dtype"), tok, chat,
                string(top.get("name"), "name"), r.locatedWarnings(), yaml.text());
    }

    /** Whether a list-valued key counts as given: mergekit (pydantic) treats an empty list like an absent one. */
    private static boolean present(Object v) {
        return v != null && !(v instanceof List<?> l && l.isEmpty());
    }

    /** Reads the parts of a merge config that can warn or resolve models. */
    private static final class Reader {
        final Path[] baseDirs;
        final YamlFile yaml;
        final List<String> warnings = new ArrayList<>();
        /** The key each unknown-key warning is about (other warnings are located by the key path they begin with). */
        final Map<String, String> warningKeys = new HashMap<>();

        Reader(Path[] baseDirs, YamlFile yaml) {
            this.baseDirs = baseDirs;
            this.yaml = yaml;
        }

        /** The warnings with the file and line in front: repeated keys first, then in reading order. */
        List<String> locatedWarnings() {
            List<String> out = new ArrayList<>();
            yaml.duplicates().forEach(d -> out.add(yaml.located("", d + ", as mergekit (PyYAML) reads it")));
            warnings.forEach(w -> out.add(warningKeys.containsKey(w) ? yaml.located(warningKeys.get(w), w) : yaml.locate(w)));
            return List.copyOf(out);
        }

        /** pydantic ignores keys a model does not declare; so do we, but say so (a typo should not go unnoticed). */
        void ignoreUnknownKeys(Map<String, Object> m, Set<String> allowed, String where) {
            for (String k : m.keySet()) {
                if (!allowed.contains(k)) {
                    String warning = where + ": unknown key '" + k + "' ignored, as mergekit ignores it"
                            + KeySuggestion.didYouMean(Set.of(k), allowed) + " (known keys: "
                            + allowed.stream().sorted().toList() + ")";
                    warnings.add(warning);
                    warningKeys.put(warning, keyPath(where, k));
                }
            }
        }

        Slice slice(Object raw, String key) {
            Map<String, Object> s = map(raw, key);
            ignoreUnknownKeys(s, Set.of("sources", "base_model", "parameters", "residual_weight"), key);
            List<Object> rawSources = list(require(s, "sources", key), key + ".sources");
            if (rawSources.isEmpty()) {
                throw new CrucibleException(key + ".sources: needs at least one source");
            }
            List<Source> sources = new ArrayList<>();
            for (int j = 0; j < rawSources.size(); j++) {
                String sk = key + ".sources[" + j + "]";
                Map<String, Object> src = map(rawSources.get(j), sk);
                ignoreUnknownKeys(src, Set.of("model", "layer_range", "parameters"), sk);
                sources.add(new Source(modelRef(require(src, "model", sk), sk + ".model"),
                        layerRange(require(src, "layer_range", sk), sk + ".layer_range"),
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
            ModelRef base = s.get("base_model") == null ? null : modelRef(s.get("base_model"), key + ".base_model");
            return new Slice(List.copyOf(sources), base, parameters(s.get("parameters"), key + ".parameters"));
        }

        TokenizerSpec tokenizer(Object raw) {
            Map<String, Object> t = map(raw, "tokenizer");
            ignoreUnknownKeys(t, Set.of("source", "tokens", "pad_to_multiple_of"), "tokenizer");
            Integer pad = null;
            if (t.get("pad_to_multiple_of") != null) {
                pad = laxInt(t.get("pad_to_multiple_of"), "tokenizer.pad_to_multiple_of");
                if (pad < 1) {
                    throw new CrucibleException("tokenizer.pad_to_multiple_of: expected a positive integer, found " + pad);
                }
            }
            Map<String, TokenSource> tokens = new LinkedHashMap<>();
            if (t.get("tokens") != null) {
                for (Map.Entry<String, Object> e : map(t.get("tokens"), "tokenizer.tokens").entrySet()) {
                    tokens.put(e.getKey(), tokenSource(e.getValue(), "tokenizer.tokens." + e.getKey()));
                }
            }
            return tokenizerSource(t.get("source") == null ? "union" : t.get("source"), "tokenizer.source", tokens, pad);
        }

        /** "union", "base", or a model reference (a string or mergekit's expanded mapping). */
        TokenizerSpec tokenizerSource(Object source, String key, Map<String, TokenSource> tokens, Integer pad) {
            if (source.equals("union") || source.equals("base")) {
                return new TokenizerSpec((String) source, null, Map.copyOf(tokens), pad);
            }
            return new TokenizerSpec("model", modelRef(source, key), Map.copyOf(tokens), pad);
        }

        /** A token's embedding source: nothing (auto), a model reference, or {kind: zero | model_token, ...}. */
        TokenSource tokenSource(Object raw, String key) {
            Map<String, Object> m = raw == null ? Map.of() : map(raw, key);
            ignoreUnknownKeys(m, Set.of("source", "force"), key);
            boolean force = m.get("force") instanceof Boolean b && b;
            Object src = m.get("source");
            if (src == null) {
                return new TokenSource("auto", null, null, null, force);
            }
            if (src instanceof String || (src instanceof Map<?, ?> sm && !sm.containsKey("kind"))) {
                return new TokenSource("model", modelRef(src, key + ".source"), null, null, force);
            }
            Map<String, Object> s = map(src, key + ".source");
            String kind = string(require(s, "kind", key + ".source"), key + ".source.kind");
            return switch (kind) {
                case "zero" -> {
                    ignoreUnknownKeys(s, Set.of("kind"), key + ".source");
                    yield new TokenSource("zero", null, null, null, force);
                }
                case "model_token" -> {
                    ignoreUnknownKeys(s, Set.of("kind", "model", "token", "token_id"), key + ".source");
                    ModelRef model = modelRef(require(s, "model", key + ".source"), key + ".source.model");
                    Integer id = s.get("token_id") == null ? null : laxInt(s.get("token_id"), key + ".source.token_id");
                    String token = string(s.get("token"), key + ".source.token");
                    if ((id == null) == (token == null)) {
                        throw new CrucibleException(key + ".source: give exactly one of 'token' or 'token_id'");
                    }
                    yield new TokenSource("model_token", model, token, id, force);
                }
                default -> throw new CrucibleException(key + ".source.kind: expected 'zero' or 'model_token', found '"
                        + kind + "'");
            };
        }

        ModelRef modelRef(Object raw, String key) {
            return MergeConfig.modelRef(raw, key, baseDirs, this);
        }

        Map<String, Object> parameters(Object raw, String key) {
            if (raw == null) {
                return Map.of();
            }
            Map<String, Object> p = new LinkedHashMap<>();
            for (Map.Entry<String, Object> e : map(raw, key).entrySet()) {
                p.put(e.getKey(), ParameterSetting.normalize(e.getValue(), key + "." + e.getKey(), warnings));
            }
            return p;
        }

        /** [start, end) as pydantic reads a tuple of two ints (4.0 and "4" are 4). */
        static int[] layerRange(Object raw, String key) {
            List<Object> range = list(raw, key);
            int[] r = range.size() == 2 ? new int[]{laxInt(range.get(0), key + "[0]"), laxInt(range.get(1), key + "[1]")}
                    : null;
            if (r == null || r[0] < 0 || r[1] <= r[0]) {
                throw new CrucibleException(key + ": expected [start, end) with 0 <= start < end, found " + range);
            }
            return r;
        }
    }

    /**
     * A model reference: {@code path}, {@code path@revision}, {@code path+lora}, or the mapping mergekit dumps
     * ({@code model}/{@code lora} each a path string or {@code {path, revision}}). {@code reader} null: unknown keys
     * are errors (mergekit-moe configs), else warnings.
     */
    static ModelRef modelRef(Object raw, String key, Path[] baseDirs, Reader reader) {
        if (raw instanceof String s) {
            return ModelRef.resolve(s, key, baseDirs);
        }
        Map<String, Object> m = map(raw, key);
        Set<String> keys = Set.of("model", "lora", "override_architecture");
        if (reader == null) {
            checkKeys(m, keys, key);
        } else {
            reader.ignoreUnknownKeys(m, keys, key);
        }
        if (m.get("override_architecture") != null) {
            throw new CrucibleException(key + ".override_architecture: not supported");
        }
        String model = modelPath(require(m, "model", key), key + ".model", reader);
        String lora = m.get("lora") == null ? null : modelPath(m.get("lora"), key + ".lora", reader);
        return ModelRef.resolve(model, lora, key, baseDirs);
    }

    static ModelRef modelRef(Object raw, String key, Path[] baseDirs) {
        return modelRef(raw, key, baseDirs, null);
    }

    /** mergekit's {@code ModelPath}: a string, or {@code {path, revision}} (written back as {@code path@revision}). */
    private static String modelPath(Object raw, String key, Reader reader) {
        if (raw instanceof String s) {
            return s;
        }
        Map<String, Object> p = map(raw, key);
        if (reader == null) {
            checkKeys(p, Set.of("path", "revision"), key);
        } else {
            reader.ignoreUnknownKeys(p, Set.of("path", "revision"), key);
        }
        String path = string(require(p, "path", key), key + ".path");
        String revision = string(p.get("revision"), key + ".revision");
        return revision == null ? path : path + "@" + revision;
    }

    /** An int as pydantic's lax mode reads one: an integer, a float with no fraction, or a string of either. */
    static int laxInt(Object raw, String key) {
        double d;
        if (raw instanceof Integer || raw instanceof Long) {
            d = ((Number) raw).longValue();
        } else if (raw instanceof Double v) {
            d = v;
        } else if (raw instanceof String s && ParameterSetting.isNumber(s)) {
            d = Double.parseDouble(s.trim());
        } else {
            throw new CrucibleException(key + ": expected an integer, found " + ParameterSetting.describe(raw));
        }
        if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE) {
            throw new CrucibleException(key + ": expected an integer, found " + ParameterSetting.describe(raw));
        }
        return (int) d;
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

    /** The path of {@code key} in the mapping messages call {@code where} ("config" for the top level). */
    private static String keyPath(String where, String key) {
        return where.equals("config") ? key : where + "." + key;
    }

    static void checkKeys(Map<String, Object> m, Set<String> allowed, String where) {
        for (String k : m.keySet()) {
            if (!allowed.contains(k)) {
                throw new YamlFile.KeyError(keyPath(where, k), where + ": unknown key '" + k + "'"
                        + KeySuggestion.didYouMean(Set.of(k), allowed) + " (expected one of "
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
