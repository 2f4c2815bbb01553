package dev.crucible.eval.tasks;

import dev.crucible.CrucibleException;
import dev.crucible.data.DatasetReader;
import dev.crucible.data.DatasetRow;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Finds and reads a task's documents without a network, for what {@code datasets.load_dataset(dataset_path,
 * dataset_name, **dataset_kwargs)} would download: {@code json}/{@code csv}/{@code parquet} with
 * {@code data_files} (relative paths from the working directory, else from the task file's directory), a local
 * directory, or a Hub dataset id looked up in the data directories ({@code --data-dir}, then the Hugging Face hub
 * cache) as {@code huggingface-cli download} leaves it. In a dataset directory the splits of config
 * {@code dataset_name} come from the README's {@code configs:} section, else from the usual file names
 * ({@code NAME/SPLIT-*.parquet}, {@code NAME/SPLIT/*}, {@code data/SPLIT-*}, ...).
 */
public final class DatasetSource {
    private static final Set<String> BUILDERS = Set.of("json", "csv", "parquet");
    private static final List<String> EXTENSIONS = List.of(".parquet", ".jsonl", ".json", ".csv", ".ndjson");

    private final List<Path> dataDirs;
    private final Map<List<Path>, List<Map<String, Object>>> cache = new ConcurrentHashMap<>();

    /** @param dataDirs directories holding downloaded datasets as {@code ORG/NAME/...} (searched in order) */
    public DatasetSource(List<Path> dataDirs) {
        List<Path> dirs = new ArrayList<>(dataDirs);
        dirs.add(hubCache());
        this.dataDirs = dirs;
    }

    static Path hubCache() {
        String hub = System.getenv("HF_HUB_CACHE");
        if (hub != null) {
            return Path.of(hub);
        }
        String home = System.getenv("HF_HOME");
        return home != null ? Path.of(home, "hub") : Path.of(System.getProperty("user.home"), ".cache", "huggingface", "hub");
    }

    /** The files of each split the task can name, resolved once per task. */
    public Map<String, List<Path>> splits(TaskSpec task) {
        TaskConfig c = task.config();
        String path = c.string("dataset_path");
        String where = c.where();
        if (path == null) {
            throw new CrucibleException(where + ": no dataset_path");
        }
        Map<String, Object> kwargs = c.map("dataset_kwargs") == null ? Map.of() : c.map("dataset_kwargs");
        for (String k : kwargs.keySet()) {
            if (!k.equals("data_files") && !k.equals("trust_remote_code")) {
                throw new CrucibleException(where + ": dataset_kwargs." + k + " is not supported (Crucible reads "
                        + "local files: data_files, or a dataset directory)");
            }
        }
        Object dataFiles = kwargs.get("data_files");
        if (dataFiles != null) {
            return explicitFiles(dataFiles, task, BUILDERS.contains(path) ? null : localDir(path, task));
        }
        if (BUILDERS.contains(path)) {
            throw new CrucibleException(where + ": dataset_path " + path + " needs dataset_kwargs: {data_files: ...}");
        }
        Path dir = localDir(path, task);
        if (dir == null) {
            dir = downloaded(path);
        }
        if (dir == null) {
            throw new CrucibleException(where + ": dataset " + path + " is not on this machine (looked in "
                    + String.join(", ", dataDirs.stream().map(d -> d.resolve(path).toString()).toList()) + " and "
                    + hubCache().resolve("datasets--" + path.replace("/", "--")) + "). Download it once where there is "
                    + "a network: huggingface-cli download " + path + " --repo-type dataset --local-dir DIR/" + path
                    + " and pass --data-dir DIR");
        }
        return configFiles(dir, c.string("dataset_name"), where);
    }

    /** The documents of one split, read once and shared (callers must not modify them). */
    public List<Map<String, Object>> read(List<Path> files, String where) {
        return cache.computeIfAbsent(files, f -> readAll(f, where));
    }

    private Path localDir(String path, TaskSpec task) {
        for (Path p : List.of(Path.of(path), task.baseDir().resolve(path))) {
            if (Files.isDirectory(p)) {
                return p;
            }
        }
        return null;
    }

    private Path downloaded(String id) {
        for (Path root : dataDirs) {
            Path plain = root.resolve(id);
            if (Files.isDirectory(plain)) {
                return plain;
            }
            Path snapshots = root.resolve("datasets--" + id.replace("/", "--")).resolve("snapshots");
            if (Files.isDirectory(snapshots)) {
                try (Stream<Path> s = Files.list(snapshots)) {
                    Path newest = s.filter(Files::isDirectory).max(Comparator.comparing(DatasetSource::modified)).orElse(null);
                    if (newest != null) {
                        return newest;
                    }
                } catch (IOException e) {
                    throw new CrucibleException(snapshots + ": cannot list: " + e.getMessage(), e);
                }
            }
        }
        return null;
    }

    private static long modified(Path p) {
        try {
            return Files.getLastModifiedTime(p).toMillis();
        } catch (IOException e) {
            return 0;
        }
    }

    /** {@code data_files}: a path or list (split "train"), or a mapping of split to path(s); globs allowed. */
    private Map<String, List<Path>> explicitFiles(Object dataFiles, TaskSpec task, Path dir) {
        Map<String, Object> bySplit = new LinkedHashMap<>();
        if (dataFiles instanceof Map<?, ?> m) {
            m.forEach((k, v) -> bySplit.put(String.valueOf(k), v));
        } else {
            bySplit.put("train", dataFiles);
        }
        Map<String, List<Path>> out = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : bySplit.entrySet()) {
            List<Path> files = new ArrayList<>();
            for (Object pattern : e.getValue() instanceof List<?> l ? l : List.of(e.getValue())) {
                files.addAll(resolve(String.valueOf(pattern), dir == null
                        ? List.of(Path.of("").toAbsolutePath(), task.baseDir()) : List.of(dir), task.config().where(),
                        e.getKey()));
            }
            out.put(e.getKey(), files);
        }
        return out;
    }

    private static List<Path> resolve(String pattern, List<Path> bases, String where, String split) {
        for (Path base : bases) {
            List<Path> found = glob(base, pattern);
            if (!found.isEmpty()) {
                return found;
            }
        }
        throw new CrucibleException(where + ": data file " + pattern + " of split " + split + " not found (looked in "
                + String.join(", ", bases.stream().map(b -> b.resolve(pattern).toString()).toList()) + ")");
    }

    private static List<Path> glob(Path base, String pattern) {
        if (!pattern.contains("*") && !pattern.contains("?") && !pattern.contains("[")) {
            Path p = base.resolve(pattern);
            return Files.isRegularFile(p) ? List.of(p) : List.of();
        }
        Path root = base;
        String rest = pattern;
        int slash;
        while ((slash = rest.indexOf('/')) >= 0 && !rest.substring(0, slash).matches(".*[*?\\[].*")) {
            root = root.resolve(rest.substring(0, slash));
            rest = rest.substring(slash + 1);
        }
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        PathMatcher m = FileSystems.getDefault().getPathMatcher("glob:" + rest);
        Path r = root;
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).filter(p -> m.matches(r.relativize(p))).sorted().toList();
        } catch (IOException e) {
            throw new CrucibleException(root + ": cannot list: " + e.getMessage(), e);
        }
    }

    /** The split files of config {@code name} in a dataset directory. */
    @SuppressWarnings("unchecked")
    private static Map<String, List<Path>> configFiles(Path dir, String name, String where) {
        Map<String, Object> readme = readmeConfig(dir, name);
        if (readme != null) {
            Object files = readme.get("data_files");
            Map<String, List<Path>> out = new LinkedHashMap<>();
            for (Object entry : files instanceof List<?> l ? l : List.of(files)) {
                String split = "train";
                Object paths = entry;
                if (entry instanceof Map<?, ?> m) {
                    split = String.valueOf(m.get("split"));
                    paths = m.get("path");
                }
                List<Path> found = new ArrayList<>();
                for (Object p : paths instanceof List<?> pl ? pl : List.of(paths)) {
                    found.addAll(glob(dir, String.valueOf(p)));
                }
                out.put(split, found);
            }
            return out;
        }
        List<String> prefixes = name != null ? List.of(name + "/", "data/" + name + "/")
                : List.of("default/", "data/", "");
        Map<String, List<Path>> out = new LinkedHashMap<>();
        for (String prefix : prefixes) {
            Path base = dir.resolve(prefix.isEmpty() ? "." : prefix).normalize();
            if (!Files.isDirectory(base)) {
                continue;
            }
            try (Stream<Path> s = Files.list(base)) {
                for (Path p : s.sorted().toList()) {
                    String file = p.getFileName().toString();
                    if (Files.isDirectory(p)) {
                        List<Path> inside = glob(p, "*");
                        inside = inside.stream().filter(DatasetSource::readable).toList();
                        if (!inside.isEmpty() && !prefix.isEmpty()) {
                            out.putIfAbsent(file, inside);
                        }
                    } else if (readable(p)) {
                        String split = splitOf(file);
                        out.computeIfAbsent(split, k -> new ArrayList<>()).add(p);
                    }
                }
            } catch (IOException e) {
                throw new CrucibleException(base + ": cannot list: " + e.getMessage(), e);
            }
            if (!out.isEmpty()) {
                break;
            }
        }
        if (out.isEmpty()) {
            throw new CrucibleException(where + ": no data files for " + (name == null ? "the dataset" : "config " + name)
                    + " in " + dir + " (expected README.md configs, or files like " + (name == null ? "" : name + "/")
                    + "test-00000-of-00001.parquet" + (hasArrow(dir) ? "; .arrow files of the datasets cache are not "
                    + "read: download the Parquet files with huggingface-cli" : "") + ")");
        }
        return out;
    }

    private static boolean hasArrow(Path dir) {
        return !glob(dir, "**.arrow").isEmpty();
    }

    private static boolean readable(Path p) {
        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
        return EXTENSIONS.stream().anyMatch(n::endsWith);
    }

    /** "test-00000-of-00001.parquet" -> "test", "validation.jsonl" -> "validation". */
    private static String splitOf(String file) {
        String base = file.substring(0, file.indexOf('.') < 0 ? file.length() : file.indexOf('.'));
        int dash = base.indexOf('-');
        return dash < 0 ? base : base.substring(0, dash);
    }

    /** The {@code configs:} entry for {@code name} in the README's front matter, or null. */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> readmeConfig(Path dir, String name) {
        Path readme = dir.resolve("README.md");
        if (!Files.isRegularFile(readme)) {
            return null;
        }
        String text;
        try {
            text = Files.readString(readme);
        } catch (IOException e) {
            return null;
        }
        if (!text.startsWith("---")) {
            return null;
        }
        int end = text.indexOf("\n---", 3);
        if (end < 0) {
            return null;
        }
        Object front;
        try {
            front = new Load(LoadSettings.builder().build()).loadFromString(text.substring(3, end));
        } catch (RuntimeException e) {
            return null;
        }
        if (!(front instanceof Map<?, ?> m) || !(m.get("configs") instanceof List<?> configs)) {
            return null;
        }
        Map<String, Object> fallback = null;
        for (Object c : configs) {
            if (c instanceof Map<?, ?> cm) {
                Object cname = cm.get("config_name");
                if (name != null && name.equals(cname)) {
                    return (Map<String, Object>) cm;
                }
                if (name == null && (Boolean.TRUE.equals(cm.get("default")) || "default".equals(cname) || configs.size() == 1)) {
                    fallback = (Map<String, Object>) cm;
                }
            }
        }
        return fallback;
    }

    private static List<Map<String, Object>> readAll(List<Path> files, String where) {
        List<Map<String, Object>> docs = new ArrayList<>();
        for (Path f : files) {
            List<DatasetRow> rows = DatasetReader.read(f);
            boolean csv = f.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".csv");
            List<Map<String, Object>> part = new ArrayList<>(rows.size());
            for (DatasetRow r : rows) {
                part.add(documentOf(r.fields()));
            }
            if (csv) {
                inferCsvTypes(part);
            }
            docs.addAll(part);
        }
        // datasets gives every row every column (missing ones None), in the order the columns first appear
        Set<String> columns = new LinkedHashSet<>();
        for (Map<String, Object> d : docs) {
            columns.addAll(d.keySet());
        }
        List<Map<String, Object>> out = new ArrayList<>(docs.size());
        for (Map<String, Object> d : docs) {
            Map<String, Object> full = new LinkedHashMap<>();
            for (String col : columns) {
                full.put(col, d.get(col));
            }
            out.add(java.util.Collections.unmodifiableMap(full));
        }
        return out;
    }

    /** A row as template values: Long for integers, Double for floats, lists and string-keyed maps. */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> documentOf(Map<String, Object> fields) {
        return (Map<String, Object>) TaskConfig.normalize(fields);
    }

    /** pandas' {@code read_csv} inference: a column of integers is int, of numbers float, anything else str. */
    private static void inferCsvTypes(List<Map<String, Object>> rows) {
        if (rows.isEmpty()) {
            return;
        }
        for (String col : rows.getFirst().keySet()) {
            boolean ints = true;
            boolean floats = true;
            for (Map<String, Object> r : rows) {
                Object v = r.get(col);
                if (v == null) {
                    ints = false;
                    continue;
                }
                String s = String.valueOf(v).strip();
                ints &= s.matches("[+-]?\\d+");
                floats &= s.matches("[+-]?(\\d+\\.?\\d*([eE][+-]?\\d+)?|\\.\\d+([eE][+-]?\\d+)?|nan|inf|-inf)");
            }
            for (Map<String, Object> r : rows) {
                Object v = r.get(col);
                if (ints) {
                    r.put(col, Long.parseLong(String.valueOf(v).strip().replace("+", "")));
                } else if (floats) {
                    r.put(col, v == null ? Double.NaN : Double.parseDouble(String.valueOf(v).strip()
                            .replace("nan", "NaN").replace("inf", "Infinity")));
                }
            }
        }
    }
}
