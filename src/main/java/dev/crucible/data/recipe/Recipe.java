package dev.crucible.data.recipe;

import dev.crucible.CrucibleException;
import dev.crucible.io.YamlFile;
import dev.crucible.data.DatasetType;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A dataset recipe ({@code crucible data run RECIPE.yml}): inputs, ordered steps, where the kept rows, the removed
 * rows and the report go, and how to run it. Every key and step option is validated when the file is read, so a
 * typo is reported (with its line) before any row is read. Relative paths resolve against the recipe's directory.
 *
 * @param removed  every row that did not reach {@code output}, with {@code removed_by} and {@code reason}; default:
 *                 the output's name with {@code .removed} before the extension
 * @param report   the HTML report, or null for none
 * @param sparkMaster with {@code engine: spark}: the master URL ({@code local[*]} by default)
 */
public record Recipe(Path file, List<RecipeInput> inputs, List<Step> steps, String output, String removed,
                     String report, Path tokenizer, Engine engine, long seed, boolean skipErrors, String sparkMaster,
                     Map<String, String> sparkConf) {

    public enum Engine { DUCKDB, SPARK }

    static final Set<String> KEYS = Set.of("inputs", "steps", "output", "removed", "report", "tokenizer", "engine", "seed",
            "on_error", "spark_master", "spark_conf");
    static final Set<String> INPUT_KEYS = Set.of("path", "type", "field", "field_messages", "split", "data_files", "name",
            "ds_type", "sample", "weight");
    static final Set<String> FILTER_KEYS = Set.of("min_tokens", "max_tokens", "min_turns", "max_turns", "drop_refusals",
            "regex", "not_regex", "languages");
    static final Set<String> EXACT_KEYS = Set.of("method");
    static final Set<String> MINHASH_KEYS = Set.of("method", "threshold", "num_perm", "ngram", "seed", "hash", "bands",
            "rows");
    static final Set<String> DECONTAMINATE_KEYS = Set.of("against", "ngram");
    static final Set<String> CONVERT_KEYS = Set.of("to");
    static final List<String> STEP_NAMES = List.of("filter", "dedup", "decontaminate", "convert");

    public Recipe {
        inputs = List.copyOf(inputs);
        steps = List.copyOf(steps);
        sparkConf = Map.copyOf(sparkConf);
    }

    public static Recipe read(Path file) {
        YamlFile yaml = YamlFile.read(file, "the recipe");
        if (!(yaml.root() instanceof Map<?, ?> map)) {
            throw new CrucibleException(file + ": expected a mapping with inputs, steps and output");
        }
        return new Parser(yaml, file.toAbsolutePath().getParent()).parse(map);
    }

    /**
     * Checks where the recipe writes before any work: three distinct files, none of them something the recipe reads,
     * an existing one replaced only with {@code overwrite}.
     */
    public void checkOutputs(boolean overwrite) {
        OutputPaths.check(this, overwrite);
    }

    /** Steps of the recipe with their index, for messages ("steps[2] dedup:minhash"). */
    public String stepLabel(int index) {
        return "steps[" + index + "] " + steps.get(index).name();
    }

    private static final class Parser {
        private final YamlFile yaml;
        private final Path dir;

        Parser(YamlFile yaml, Path dir) {
            this.yaml = yaml;
            this.dir = dir;
        }

        Recipe parse(Map<?, ?> map) {
            yaml.checkKeys("", "recipe", map, KEYS);
            long seed = integer(map, "seed", "seed", 42);
            Engine engine = switch (string(map, "engine", "engine", "duckdb").toLowerCase(Locale.ROOT)) {
                case "duckdb" -> Engine.DUCKDB;
                case "spark" -> Engine.SPARK;
                default -> throw yaml.error("engine", "engine: '" + map.get("engine") + "' is not an engine (duckdb, the"
                        + " default, runs in this process; spark runs the recipe as an Apache Spark job)");
            };
            String onError = string(map, "on_error", "on_error", "fail");
            if (!onError.equals("fail") && !onError.equals("skip")) {
                throw yaml.error("on_error", "on_error: '" + onError + "' (expected fail, the default: stop at the first"
                        + " malformed row, or skip: send it to removed with the reason)");
            }
            List<RecipeInput> inputs = inputs(map.get("inputs"));
            List<Step> steps = steps(map.get("steps"), seed);
            checkConversions(inputs, steps);
            String output = resolve(required(map, "output", "output (the .jsonl or .parquet file the kept rows go to)"));
            checkExtension("output", output, ".jsonl", ".parquet");
            String removed = map.get("removed") == null ? defaultRemoved(output)
                    : resolve(string(map, "removed", "removed", null));
            checkExtension("removed", removed, ".jsonl", ".parquet");
            String report = map.get("report") == null ? null : resolve(string(map, "report", "report", null));
            if (report != null) {
                checkExtension("report", report, ".html");
            }
            Path tokenizer = map.get("tokenizer") == null ? null : Path.of(resolve(string(map, "tokenizer", "tokenizer", null)));
            if (tokenizer != null && !Files.isDirectory(tokenizer)) {
                throw yaml.error("tokenizer", "tokenizer: " + tokenizer + " is not a directory (a model or tokenizer"
                        + " directory with tokenizer.json)");
            }
            for (int i = 0; i < steps.size(); i++) {
                if (steps.get(i) instanceof Step.Filter f && f.needsTokens() && tokenizer == null) {
                    throw yaml.error("steps[" + i + "]", "steps[" + i + "] filter: min_tokens/max_tokens count tokens,"
                            + " so the recipe needs 'tokenizer:' (a model or tokenizer directory)");
                }
            }
            String master = map.get("spark_master") == null ? null : string(map, "spark_master", "spark_master", null);
            Map<String, String> conf = new LinkedHashMap<>();
            if (map.get("spark_conf") instanceof Map<?, ?> c) {
                c.forEach((k, v) -> conf.put(String.valueOf(k), String.valueOf(v)));
            } else if (map.get("spark_conf") != null) {
                throw yaml.error("spark_conf", "spark_conf: expected a mapping of Spark settings");
            }
            if (engine != Engine.SPARK && (master != null || !conf.isEmpty())) {
                throw yaml.error(master != null ? "spark_master" : "spark_conf", (master != null ? "spark_master" : "spark_conf")
                        + " applies to engine: spark only");
            }
            return new Recipe(yaml.file(), inputs, steps, output, removed, report, tokenizer, engine, seed,
                    onError.equals("skip"), master == null ? "local[*]" : master, conf);
        }

        private List<RecipeInput> inputs(Object value) {
            if (!(value instanceof List<?> list) || list.isEmpty()) {
                throw yaml.error("inputs", "inputs: expected a list of {path, type} entries");
            }
            List<RecipeInput> inputs = new ArrayList<>();
            for (int i = 0; i < list.size(); i++) {
                String at = "inputs[" + i + "]";
                if (!(list.get(i) instanceof Map<?, ?> m)) {
                    throw yaml.error(at, at + ": expected a mapping {path, type}");
                }
                yaml.checkKeys(at, at, m, INPUT_KEYS);
                String path = resolve(required(m, at + ".path", at + ": 'path' (a dataset file or directory)"));
                String typeName = required(m, at + ".type", at + ": 'type' (alpaca, sharegpt, messages, completion or text)");
                DatasetType type;
                try {
                    type = DatasetType.parse(typeName);
                } catch (CrucibleException e) {
                    throw yaml.error(at + ".type", at + ": " + e.getMessage());
                }
                Object fieldValue = m.get("field") != null ? m.get("field") : m.get("field_messages");
                String field = fieldValue == null ? null : String.valueOf(fieldValue);
                if (field != null && type == DatasetType.ALPACA) {
                    throw yaml.error(at + ".field", at + ": 'field' does not apply to type alpaca (it reads instruction,"
                            + " input and output)");
                }
                String split = m.get("split") == null ? null : String.valueOf(m.get("split"));
                Object files = m.get("data_files");
                List<String> dataFiles = files == null ? null : files instanceof List<?> l
                        ? l.stream().map(String::valueOf).toList() : List.of(String.valueOf(files));
                String name = m.get("name") == null ? null : String.valueOf(m.get("name"));
                String dsType = m.get("ds_type") == null ? null : String.valueOf(m.get("ds_type"));
                Number sample = sample(m.get("sample"), at + ".sample");
                double weight = number(m, at + ".weight", "weight", 1.0);
                if (!(weight > 0) || Double.isInfinite(weight)) {
                    throw yaml.error(at + ".weight", at + ": weight must be a positive number (1 = each kept row once)");
                }
                RecipeInput input;
                try {
                    input = new RecipeInput(path, type, field, split, dataFiles, name, dsType, sample, weight);
                    if (input.local()) {
                        input.files();
                    }
                } catch (CrucibleException e) {
                    throw yaml.error(at + ".path", at + ": " + e.getMessage());
                }
                inputs.add(input);
            }
            return inputs;
        }

        private Number sample(Object v, String at) {
            if (v == null) {
                return null;
            }
            if (v instanceof Double d && d > 0 && d <= 1) {
                return d;
            }
            if ((v instanceof Integer || v instanceof Long) && ((Number) v).longValue() >= 1) {
                return ((Number) v).longValue();
            }
            throw yaml.error(at, at + ": '" + v + "' is not a sample (a fraction such as 0.25, or a row count such as"
                    + " 1000)");
        }

        private List<Step> steps(Object value, long seed) {
            if (value == null) {
                return List.of();
            }
            if (!(value instanceof List<?> list)) {
                throw yaml.error("steps", "steps: expected a list of steps (filter, dedup, decontaminate, convert)");
            }
            List<Step> steps = new ArrayList<>();
            for (int i = 0; i < list.size(); i++) {
                String at = "steps[" + i + "]";
                if (!(list.get(i) instanceof Map<?, ?> m) || m.size() != 1) {
                    throw yaml.error(at, at + ": a step is a one-key mapping, e.g. '- dedup: {method: exact}' (the key"
                            + " is one of " + STEP_NAMES + ")");
                }
                String kind = String.valueOf(m.keySet().iterator().next());
                Object opts = m.values().iterator().next();
                Map<?, ?> o = opts == null ? Map.of() : opts instanceof Map<?, ?> om ? om : null;
                String path = at + "." + kind;
                if (o == null) {
                    throw yaml.error(path, at + " " + kind + ": expected a mapping of options");
                }
                steps.add(switch (kind) {
                    case "filter" -> filter(o, path, at);
                    case "dedup" -> dedup(o, path, at, seed);
                    case "decontaminate" -> decontaminate(o, path, at);
                    case "convert" -> convert(o, path, at);
                    default -> throw yaml.error(at, at + ": unknown step '" + kind + "' (expected one of " + STEP_NAMES
                            + ")");
                });
            }
            return steps;
        }

        private Step filter(Map<?, ?> o, String path, String at) {
            yaml.checkKeys(path, at + " filter", o, FILTER_KEYS);
            if (o.containsKey("languages")) {
                throw yaml.error(path + ".languages", at + " filter: 'languages' is not supported: Crucible has no"
                        + " language identification model (filter on a language column with regex instead)");
            }
            int minTokens = (int) integer(o, path + ".min_tokens", "min_tokens", 0);
            int maxTokens = (int) integer(o, path + ".max_tokens", "max_tokens", 0);
            int minTurns = (int) integer(o, path + ".min_turns", "min_turns", 0);
            int maxTurns = (int) integer(o, path + ".max_turns", "max_turns", 0);
            if (minTokens < 0 || maxTokens < 0 || minTurns < 0 || maxTurns < 0) {
                throw yaml.error(path, at + " filter: bounds must not be negative");
            }
            if (maxTokens > 0 && minTokens > maxTokens) {
                throw yaml.error(path + ".min_tokens", at + " filter: min_tokens " + minTokens + " is above max_tokens "
                        + maxTokens);
            }
            if (maxTurns > 0 && minTurns > maxTurns) {
                throw yaml.error(path + ".min_turns", at + " filter: min_turns " + minTurns + " is above max_turns "
                        + maxTurns);
            }
            boolean refusals = bool(o, path + ".drop_refusals", "drop_refusals", false);
            Pattern regex = pattern(o, path + ".regex", "regex", at);
            Pattern notRegex = pattern(o, path + ".not_regex", "not_regex", at);
            if (minTokens == 0 && maxTokens == 0 && minTurns == 0 && maxTurns == 0 && !refusals && regex == null
                    && notRegex == null) {
                throw yaml.error(path, at + " filter: no condition set (min_tokens, max_tokens, min_turns, max_turns,"
                        + " drop_refusals, regex, not_regex)");
            }
            return new Step.Filter(minTokens, maxTokens, minTurns, maxTurns, refusals, regex, notRegex);
        }

        private Step dedup(Map<?, ?> o, String path, String at, long seed) {
            String method = String.valueOf(o.get("method"));
            switch (method) {
                case "exact" -> {
                    yaml.checkKeys(path, at + " dedup (exact)", o, EXACT_KEYS);
                    return new Step.ExactDedup();
                }
                case "minhash" -> {
                    yaml.checkKeys(path, at + " dedup (minhash)", o, MINHASH_KEYS);
                    double threshold = number(o, path + ".threshold", "threshold", 0.7);
                    if (!(threshold > 0 && threshold < 1)) {
                        throw yaml.error(path + ".threshold", at + " dedup: threshold " + threshold
                                + " must be a Jaccard similarity strictly between 0 and 1");
                    }
                    int numPerm = (int) integer(o, path + ".num_perm", "num_perm", 128);
                    if (numPerm < 2 || numPerm > 4096) {
                        throw yaml.error(path + ".num_perm", at + " dedup: num_perm " + numPerm + " must be in [2, 4096]");
                    }
                    int ngram = (int) integer(o, path + ".ngram", "ngram", 5);
                    if (ngram < 1) {
                        throw yaml.error(path + ".ngram", at + " dedup: ngram must be at least 1 (words per shingle)");
                    }
                    long s = integer(o, path + ".seed", "seed", seed);
                    if (s < 0 || s > 0xFFFFFFFFL) {
                        throw yaml.error(path + ".seed", at + " dedup: seed must be in [0, 2^32) (numpy's RandomState)");
                    }
                    String hashName = string(o, path + ".hash", "hash", "xxh3").toLowerCase(Locale.ROOT);
                    MinHash.ShingleHash hash = switch (hashName) {
                        case "xxh3" -> MinHash.ShingleHash.XXH3;
                        case "sha1" -> MinHash.ShingleHash.SHA1;
                        default -> throw yaml.error(path + ".hash", at + " dedup: hash '" + hashName
                                + "' (expected xxh3, text-dedup's default, or sha1, datasketch's)");
                    };
                    LshParams lsh;
                    if (o.containsKey("bands") || o.containsKey("rows")) {
                        int b = (int) integer(o, path + ".bands", "bands", 0);
                        int r = (int) integer(o, path + ".rows", "rows", 0);
                        if (b < 1 || r < 1 || (long) b * r > numPerm) {
                            throw yaml.error(path + ".bands", at + " dedup: bands and rows must both be set, positive,"
                                    + " with bands * rows <= num_perm (" + numPerm + ")");
                        }
                        lsh = new LshParams(b, r);
                    } else {
                        lsh = LshParams.optimal(threshold, numPerm);
                    }
                    return new Step.MinHashDedup(threshold, numPerm, ngram, s, hash, lsh);
                }
                default -> throw yaml.error(path + ".method", at + " dedup: method '" + o.get("method")
                        + "' (expected exact or minhash)");
            }
        }

        private Step decontaminate(Map<?, ?> o, String path, String at) {
            yaml.checkKeys(path, at + " decontaminate", o, DECONTAMINATE_KEYS);
            Object against = o.get("against");
            List<?> list = against instanceof List<?> l ? l : against == null ? List.of() : List.of(against);
            if (list.isEmpty()) {
                throw yaml.error(path, at + " decontaminate: 'against' names the benchmark files (a path or a list)");
            }
            List<String> files = new ArrayList<>();
            for (Object f : list) {
                Path p = Path.of(resolve(String.valueOf(f)));
                if (!Files.exists(p)) {
                    throw yaml.error(path + ".against", at + " decontaminate: " + p + " not found");
                }
                files.add(p.toString());
            }
            int ngram = (int) integer(o, path + ".ngram", "ngram", 13);
            if (ngram < 1) {
                throw yaml.error(path + ".ngram", at + " decontaminate: ngram must be at least 1");
            }
            return new Step.Decontaminate(files, ngram);
        }

        private Step convert(Map<?, ?> o, String path, String at) {
            yaml.checkKeys(path, at + " convert", o, CONVERT_KEYS);
            String to = string(o, path + ".to", "to", null);
            if (!"messages".equals(to)) {
                throw yaml.error(path + ".to", at + " convert: 'to: messages' is the one conversion (alpaca and"
                        + " sharegpt rows become messages rows)");
            }
            return new Step.Convert();
        }

        /** A convert applies to conversations: alpaca, sharegpt and messages inputs (the last unchanged). */
        private void checkConversions(List<RecipeInput> inputs, List<Step> steps) {
            for (int s = 0; s < steps.size(); s++) {
                if (!(steps.get(s) instanceof Step.Convert)) {
                    continue;
                }
                for (int i = 0; i < inputs.size(); i++) {
                    DatasetType t = inputs.get(i).type();
                    if (t == DatasetType.COMPLETION || t == DatasetType.TEXT) {
                        throw yaml.error("steps[" + s + "]", "steps[" + s + "] convert: inputs[" + i + "] is type "
                                + t.configName() + ", plain text without roles, which has no messages form");
                    }
                }
            }
        }

        private String resolve(String p) {
            if (p.contains("://")) {
                return p;
            }
            Path path = Path.of(p);
            return (path.isAbsolute() ? path : dir.resolve(path)).normalize().toString();
        }

        private static String defaultRemoved(String output) {
            int dot = output.lastIndexOf('.');
            return output.substring(0, dot) + ".removed" + output.substring(dot);
        }

        private void checkExtension(String key, String path, String... extensions) {
            String lower = path.toLowerCase(Locale.ROOT);
            for (String e : extensions) {
                if (lower.endsWith(e)) {
                    return;
                }
            }
            throw yaml.error(key, key + ": " + path + " must end in " + String.join(" or ", extensions));
        }

        private String required(Map<?, ?> m, String at, String what) {
            Object v = m.get(at.substring(at.lastIndexOf('.') + 1));
            if (v == null || String.valueOf(v).isBlank()) {
                throw yaml.error(at, "missing " + what);
            }
            return String.valueOf(v);
        }

        private String string(Map<?, ?> m, String at, String key, String fallback) {
            Object v = m.get(key);
            if (v == null) {
                return fallback;
            }
            if (v instanceof Map || v instanceof List) {
                throw yaml.error(at, at + ": expected a single value, got " + v);
            }
            return String.valueOf(v);
        }

        private long integer(Map<?, ?> m, String at, String key, long fallback) {
            Object v = m.get(key);
            if (v == null) {
                return fallback;
            }
            if (v instanceof Integer || v instanceof Long) {
                return ((Number) v).longValue();
            }
            throw yaml.error(at, at + ": expected a whole number, got '" + v + "'");
        }

        private double number(Map<?, ?> m, String at, String key, double fallback) {
            Object v = m.get(key);
            if (v == null) {
                return fallback;
            }
            if (v instanceof Number n) {
                return n.doubleValue();
            }
            throw yaml.error(at, at + ": expected a number, got '" + v + "'");
        }

        private boolean bool(Map<?, ?> m, String at, String key, boolean fallback) {
            Object v = m.get(key);
            if (v == null) {
                return fallback;
            }
            if (v instanceof Boolean b) {
                return b;
            }
            throw yaml.error(at, at + ": expected true or false, got '" + v + "'");
        }

        private Pattern pattern(Map<?, ?> m, String at, String key, String step) {
            String v = string(m, at, key, null);
            if (v == null) {
                return null;
            }
            try {
                return Pattern.compile(v);
            } catch (PatternSyntaxException e) {
                throw yaml.error(at, step + " filter: " + key + " is not a valid regular expression: "
                        + e.getDescription() + " near index " + e.getIndex());
            }
        }
    }
}
