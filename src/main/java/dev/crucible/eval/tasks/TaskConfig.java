package dev.crucible.eval.tasks;

import dev.crucible.CrucibleException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One task's keys, exactly lm-eval 0.4's {@code TaskConfig} (the same names, defaults and post-processing:
 * {@code generation_kwargs} defaults, the inherited {@code fewshot_config}), validated before anything runs: an
 * unknown key, a value of the wrong kind, a Python hook ({@code !function}) or a feature Crucible does not have
 * is a {@link CrucibleException} naming the task, its file and the key.
 */
public final class TaskConfig {
    /** lm-eval's TaskConfig fields in declaration order (the order of the results' {@code configs}). */
    static final List<String> FIELDS = List.of("task", "task_alias", "tag", "custom_dataset", "dataset_path",
            "dataset_name", "dataset_kwargs", "training_split", "validation_split", "test_split", "fewshot_split",
            "process_docs", "doc_to_text", "doc_to_target", "doc_to_image", "doc_to_audio", "unsafe_code",
            "doc_to_choice", "process_results", "use_prompt", "description", "target_delimiter", "fewshot_delimiter",
            "fewshot_config", "num_fewshot", "metric_list", "output_type", "generation_kwargs", "repeats", "filter_list",
            "should_decontaminate", "doc_to_decontamination_query", "gen_prefix", "metadata");
    private static final List<String> FEWSHOT_FIELDS = List.of("sampler", "split", "process_docs", "fewshot_indices",
            "samples", "doc_to_text", "doc_to_choice", "doc_to_target", "gen_prefix", "fewshot_delimiter",
            "target_delimiter");
    /** Keys a task file may hold besides the fields (the factory removes them before building the task). */
    private static final Set<String> STRUCTURAL = Set.of("group", "task_list", "class");
    static final List<String> OUTPUT_TYPES = List.of("loglikelihood", "multiple_choice", "loglikelihood_rolling",
            "generate_until");

    private final Map<String, Object> values; // every field, lm-eval's defaults filled in, in FIELDS order
    private final String where;

    private TaskConfig(Map<String, Object> values, String where) {
        this.values = values;
        this.where = where;
    }

    /**
     * Builds the config of task {@code raw.task} from its merged YAML keys (includes and group overrides applied).
     * {@code source} names the file in errors.
     */
    public static TaskConfig of(Map<String, Object> raw, Path source) {
        Object name = raw.get("task");
        String where = "task " + (name == null ? "?" : name) + " (" + describe(source) + ")";
        for (String key : raw.keySet()) {
            if (!FIELDS.contains(key) && !STRUCTURAL.contains(key)) {
                throw new CrucibleException(where + ": unknown key '" + key + "' (lm-eval's task keys: "
                        + String.join(", ", FIELDS) + ")");
            }
        }
        if (raw.containsKey("class")) {
            throw new CrucibleException(where + ": 'class' names a Python task class; Crucible runs task files "
                    + "written with YAML keys only");
        }
        for (Map.Entry<String, Object> e : raw.entrySet()) {
            List<String> hooks = TaskYaml.functionsIn(e.getKey(), e.getValue());
            if (!hooks.isEmpty()) {
                throw new CrucibleException(where + ": " + hooks.getFirst() + " is a Python hook, which Crucible "
                        + "does not run. " + BuiltinHooks.advice(e.getKey(), hookName(e.getValue()), raw));
            }
        }
        Map<String, Object> v = new LinkedHashMap<>();
        for (String f : FIELDS) {
            v.put(f, normalize(raw.get(f)));
        }
        defaultTo(v, "unsafe_code", false);
        defaultTo(v, "description", "");
        defaultTo(v, "target_delimiter", " ");
        defaultTo(v, "fewshot_delimiter", "\n\n");
        defaultTo(v, "output_type", "generate_until");
        defaultTo(v, "repeats", 1L);
        defaultTo(v, "should_decontaminate", false);
        TaskConfig c = new TaskConfig(v, where);
        c.check();
        c.postInit();
        return c;
    }

    /** A task file for messages: its path, or "built-in leaderboard/x.yaml" for the files inside the jar. */
    static String describe(Path source) {
        if (source == null) {
            return "inline";
        }
        if (source.getFileSystem() != java.nio.file.FileSystems.getDefault()) {
            String s = source.toString();
            int at = s.indexOf("/tasks/");
            return "built-in " + (at < 0 ? s : s.substring(at + "/tasks/".length()));
        }
        return source.toString();
    }

    private static String hookName(Object value) {
        List<String> found = TaskYaml.functionsIn("", value);
        String first = found.getFirst();
        return first.substring(first.indexOf("!function ") + "!function ".length());
    }

    private static void defaultTo(Map<String, Object> v, String key, Object dflt) {
        if (v.get(key) == null) {
            v.put(key, dflt);
        }
    }

    /**
     * YAML and JSON numbers as Long/Double, nested maps (string keys) and lists copied: template-ready values for
     * configs and documents.
     */
    static Object normalize(Object o) {
        return switch (o) {
            case Integer i -> (long) i;
            case Short s -> (long) s;
            case java.math.BigInteger b -> b.longValue();
            case Float f -> (double) f;
            case java.math.BigDecimal b -> b.doubleValue();
            case Map<?, ?> m -> {
                Map<String, Object> out = new LinkedHashMap<>();
                m.forEach((k, val) -> out.put(String.valueOf(k), normalize(val)));
                yield out;
            }
            case List<?> l -> {
                List<Object> out = new ArrayList<>(l.size());
                l.forEach(x -> out.add(normalize(x)));
                yield out;
            }
            case null, default -> o;
        };
    }

    private void check() {
        if (!(values.get("task") instanceof String)) {
            throw new CrucibleException(where + ": 'task' must be the task's name");
        }
        String type = string("output_type");
        if (!OUTPUT_TYPES.contains(type)) {
            throw new CrucibleException(where + ": output_type '" + type + "' is not one of " + OUTPUT_TYPES);
        }
        for (String unsupported : List.of("custom_dataset", "doc_to_image", "doc_to_audio", "use_prompt")) {
            if (values.get(unsupported) != null) {
                throw new CrucibleException(where + ": '" + unsupported + "' is not supported by Crucible ("
                        + (unsupported.startsWith("doc_to_") ? "text-only models" : "no Python or promptsource") + ")");
            }
        }
        if (Boolean.TRUE.equals(values.get("unsafe_code"))) {
            throw new CrucibleException(where + ": unsafe_code tasks execute model-written code; Crucible does not");
        }
        for (String s : List.of("task_alias", "dataset_path", "dataset_name", "training_split", "validation_split",
                "test_split", "fewshot_split", "description", "target_delimiter", "fewshot_delimiter", "gen_prefix",
                "process_docs", "process_results", "doc_to_decontamination_query")) {
            Object o = values.get(s);
            if (o != null && !(o instanceof String)) {
                throw new CrucibleException(where + ": '" + s + "' must be a string, got " + o);
            }
        }
        for (String m : List.of("dataset_kwargs", "fewshot_config", "generation_kwargs", "metadata")) {
            Object o = values.get(m);
            if (o != null && !(o instanceof Map<?, ?>)) {
                throw new CrucibleException(where + ": '" + m + "' must be a mapping, got " + o);
            }
        }
        for (String l : List.of("metric_list", "filter_list")) {
            Object o = values.get(l);
            if (o != null && !(o instanceof List<?>)) {
                throw new CrucibleException(where + ": '" + l + "' must be a list, got " + o);
            }
        }
        if (values.get("num_fewshot") != null && !(values.get("num_fewshot") instanceof Long)) {
            throw new CrucibleException(where + ": 'num_fewshot' must be an integer");
        }
        if (values.get("test_split") == null && values.get("validation_split") == null) {
            throw new CrucibleException(where + ": the task needs test_split or validation_split (the documents "
                    + "to evaluate)");
        }
        if (fewshotConfig().get("sampler") instanceof String s && !s.equals("default") && !s.equals("first_n")) {
            throw new CrucibleException(where + ": fewshot_config.sampler '" + s + "' is not one of default, first_n");
        }
        BuiltinHooks.checkProcessDocs(where, (String) values.get("process_docs"));
        BuiltinHooks.checkProcessResults(where, (String) values.get("process_results"), string("output_type"));
    }

    /** lm-eval's {@code TaskConfig.__post_init__}: generation defaults and the inherited few-shot config. */
    @SuppressWarnings("unchecked")
    private void postInit() {
        Map<String, Object> gen = (Map<String, Object>) values.get("generation_kwargs");
        if (gen != null) {
            if (gen.get("temperature") instanceof Number t) {
                gen.put("temperature", t.doubleValue());
            }
            if (!gen.containsKey("until")) {
                gen.put("until", new ArrayList<>(List.of(string("fewshot_delimiter"))));
            }
        } else if (outputType().equals("generate_until")) {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("temperature", 0.0);
            d.put("do_sample", false);
            d.put("max_gen_toks", 256L);
            d.put("until", new ArrayList<>(List.of(string("fewshot_delimiter"))));
            values.put("generation_kwargs", d);
        }
        Map<String, Object> own = values.get("fewshot_config") instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
        for (String k : own.keySet()) {
            if (!FEWSHOT_FIELDS.contains(k)) {
                throw new CrucibleException(where + ": unknown key 'fewshot_config." + k + "' (known: "
                        + String.join(", ", FEWSHOT_FIELDS) + ")");
            }
        }
        Map<String, Object> inherited = new LinkedHashMap<>();
        for (String f : FEWSHOT_FIELDS) {
            inherited.put(f, null);
        }
        inherited.put("split", values.get("fewshot_split"));
        inherited.put("process_docs", values.get("process_docs"));
        for (String f : List.of("fewshot_delimiter", "target_delimiter", "gen_prefix", "doc_to_text", "doc_to_choice",
                "doc_to_target")) {
            inherited.put(f, values.get(f));
        }
        inherited.putAll(own);
        if (inherited.get("sampler") == null) {
            inherited.put("sampler", "default");
        }
        values.put("fewshot_config", inherited);
        BuiltinHooks.checkProcessDocs(where, inherited.get("process_docs") instanceof String s ? s : null);
        if (inherited.get("process_docs") != null && !(inherited.get("process_docs") instanceof String)) {
            throw new CrucibleException(where + ": fewshot_config.process_docs must name a built-in");
        }
        if (inherited.get("sampler") instanceof String s && !s.equals("default") && !s.equals("first_n")) {
            throw new CrucibleException(where + ": fewshot_config.sampler '" + s + "' is not one of default, first_n");
        }
    }

    public String where() {
        return where;
    }

    public String name() {
        return string("task");
    }

    public String alias() {
        return values.get("task_alias") instanceof String s ? s : name();
    }

    public String outputType() {
        return string("output_type");
    }

    public Object get(String key) {
        return values.get(key);
    }

    public String string(String key) {
        return (String) values.get(key);
    }

    @SuppressWarnings("unchecked")
    public Map<String, Object> map(String key) {
        return (Map<String, Object>) values.get(key);
    }

    @SuppressWarnings("unchecked")
    public List<Object> list(String key) {
        return (List<Object>) values.get(key);
    }

    public Map<String, Object> fewshotConfig() {
        Map<String, Object> f = map("fewshot_config");
        return f == null ? Map.of() : f;
    }

    /** The number of shots after the evaluator's overrides (null until {@link #setNumFewshot}). */
    public Integer numFewshot() {
        return values.get("num_fewshot") instanceof Long l ? Math.toIntExact(l) : null;
    }

    void setNumFewshot(int n) {
        values.put("num_fewshot", (long) n);
    }

    /** The task's {@code metadata} merged with the run's (lm-eval adds the model arguments and the config source). */
    void mergeMetadata(Map<String, Object> extra) {
        Map<String, Object> m = new LinkedHashMap<>();
        if (values.get("metadata") instanceof Map<?, ?> own) {
            own.forEach((k, val) -> m.put(String.valueOf(k), val));
        }
        m.putAll(extra);
        values.put("metadata", m);
    }

    /** {@code metadata.version}, lm-eval's task VERSION ("Yaml" without one). */
    public Object version() {
        return map("metadata") != null && map("metadata").get("version") != null ? map("metadata").get("version") : "Yaml";
    }

    /** lm-eval's {@code TaskConfig.to_dict()}: every field in order, top-level nulls left out. */
    public Map<String, Object> dump() {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : values.entrySet()) {
            if (e.getValue() != null && !e.getKey().equals("tag")) {
                out.put(e.getKey(), e.getValue());
            }
        }
        return out;
    }
}
