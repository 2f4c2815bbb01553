package dev.crucible.data;

import dev.crucible.CrucibleException;
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
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Where the rows of a {@code datasets} entry come from, as Axolotl loads local data through Hugging Face
 * {@code datasets}:
 * <ul>
 *   <li>a file: its rows form the split {@code train};</li>
 *   <li>a directory with {@code data_files} (a name, a glob or a list of them, inside the directory, as the files of
 *       a Hub dataset repository are named): those files, in the given order, form {@code train};</li>
 *   <li>a directory whose {@code README.md} declares {@code configs} (as Hub repositories do): the configuration
 *       {@code name} (else the default one) with its files per split;</li>
 *   <li>any other directory: {@code datasets}' default layout, searched recursively: Hub shards
 *       {@code data/<split>-00000-of-00002.*}, else directories, else file names carrying a split keyword
 *       ({@code train}/{@code training}, {@code validation}/{@code valid}/{@code dev}/{@code val},
 *       {@code test}/{@code testing}/{@code eval}/{@code evaluation}, set off by {@code -._ } or digits), else every
 *       file is {@code train}.</li>
 * </ul>
 * {@code split} (default {@code train}) then selects rows, with slices ({@link SplitSpec}). {@code ds_type} names the
 * file format when the extension does not ({@code json}, {@code csv}, {@code parquet}, {@code text}: one row per
 * line); in a directory the most common of JSON, Parquet and CSV is read (ties: an error; text files only with
 * {@code ds_type: text}), hidden files and other formats are skipped.
 *
 * @param dataFiles null, or the data_files patterns
 * @param name      null, or the configuration to read
 * @param split     null ({@code train}), or the split spec
 * @param format    null (by extension), or the ds_type
 */
public record DatasetSource(Path path, List<String> dataFiles, String name, String split, String format) {
    /** The extensions of each format, as {@code datasets}' packaged builders list them. */
    private static final Map<String, List<String>> FORMATS = orderedFormats();
    private static final List<String> KEYWORDS_TRAIN = List.of("train", "training");
    private static final Map<String, List<String>> SPLIT_KEYWORDS = Map.of("train", KEYWORDS_TRAIN,
            "validation", List.of("validation", "valid", "dev", "val"),
            "test", List.of("test", "testing", "eval", "evaluation"));
    private static final List<String> DEFAULT_SPLITS = List.of("train", "validation", "test");
    private static final String SEP = "[-._ 0-9]";
    private static final Pattern SHARD = Pattern.compile("data/(\\w+(?:\\.\\w+)*)-\\d{5}-of-\\d{5}[^/]*\\.[^/]*");
    private static final Pattern HUB_ID = Pattern.compile("[\\w.-]+/[\\w.-]+");

    public DatasetSource {
        dataFiles = dataFiles == null ? null : List.copyOf(dataFiles);
        if (format != null && !FORMATS.containsKey(format)) {
            throw new CrucibleException("ds_type '" + format + "' is not supported (expected one of "
                    + FORMATS.keySet() + ")");
        }
    }

    /** A plain path: a file, or a directory in {@code datasets}' default layout; the {@code train} split. */
    public static DatasetSource of(Path path) {
        return new DatasetSource(path, null, null, null, null);
    }

    /** The selected rows, in order. */
    public List<DatasetRow> read() {
        requireExists();
        Map<String, List<Path>> splits = splitFiles();
        String spec = split == null ? "train" : split;
        Map<Path, List<DatasetRow>> read = new LinkedHashMap<>();
        return SplitSpec.parse(spec).select(s -> {
            List<Path> files = splits.get(s);
            if (files == null) {
                return null;
            }
            List<DatasetRow> rows = new ArrayList<>();
            for (Path f : files) {
                rows.addAll(read.computeIfAbsent(f, this::readFile));
            }
            return rows;
        }, List.copyOf(splits.keySet()), spec);
    }

    /**
     * The files of the selected split, in load order, for a reader that streams them file by file (the dataset
     * recipe). The split must name whole splits ({@code train}, {@code train+test}); a slice selects rows, which only
     * {@link #read} does.
     */
    public List<Path> files() {
        requireExists();
        Map<String, List<Path>> splits = splitFiles();
        String spec = split == null ? "train" : split;
        List<Path> files = new ArrayList<>();
        for (String s : spec.split("\\+")) {
            String name = s.strip();
            if (!name.matches("[\\w.-]+")) {
                throw new CrucibleException(path + ": split '" + spec + "' selects rows with a slice; here a split names"
                        + " whole splits (" + String.join(", ", splits.keySet()) + ")");
            }
            List<Path> hits = splits.get(name);
            if (hits == null) {
                throw new CrucibleException(path + ": no split '" + name + "' (the dataset has "
                        + String.join(", ", splits.keySet()) + ")");
            }
            files.addAll(hits);
        }
        return files;
    }

    /** The format a file is read in: {@code ds_type} when set, else by extension (null: not a data file). */
    public String fileFormat(Path file) {
        return format != null ? format : formatOf(file);
    }

    private void requireExists() {
        if (!Files.exists(path)) {
            String hint = !path.isAbsolute() && HUB_ID.matcher(path.toString().replace('\\', '/')).matches()
                    ? " (Crucible reads local data; for a Hub dataset, download it first: huggingface-cli download"
                    + " --repo-type dataset " + path + " --local-dir DIR, and set path to DIR)"
                    : "";
            throw new CrucibleException(path + ": dataset file not found" + hint);
        }
    }

    private List<DatasetRow> readFile(Path file) {
        String fmt = fileFormat(file);
        if (fmt == null) {
            throw new CrucibleException(file + ": unknown dataset file type (expected .jsonl, .ndjson, .json, .parquet,"
                    + " .csv or .txt, or set ds_type)");
        }
        return DatasetReader.readFile(file, fmt);
    }

    /** The files of every split, in load order. */
    private Map<String, List<Path>> splitFiles() {
        if (!Files.isDirectory(path)) {
            if (dataFiles != null) {
                throw new CrucibleException(path + ": data_files names files inside a dataset directory; path is a file");
            }
            if (name != null) {
                throw new CrucibleException(path + ": name selects a configuration of a dataset directory; path is a file");
            }
            return Map.of("train", List.of(path));
        }
        if (dataFiles != null) {
            if (name != null) {
                throw new CrucibleException(path + ": name selects a configuration declared in README.md; it does not"
                        + " apply with data_files");
            }
            return Map.of("train", matching(dataFiles, "data_files"));
        }
        Map<String, Object> config = readmeConfig();
        if (config != null) {
            return configFiles(config);
        }
        if (name != null) {
            throw new CrucibleException(path + ": name '" + name + "' given, but the directory declares no configurations"
                    + " (configs in the YAML header of README.md)");
        }
        return defaultLayout();
    }

    /** Files of the directory matching the patterns, in pattern order (each pattern's matches sorted). */
    private List<Path> matching(List<String> patterns, String what) {
        List<String> all = relativeFiles();
        Set<Path> out = new LinkedHashSet<>();
        for (String p : patterns) {
            Pattern glob = glob(p);
            List<Path> hits = all.stream().filter(f -> glob.matcher(f).matches()).map(path::resolve).toList();
            if (hits.isEmpty()) {
                throw new CrucibleException(path + ": " + what + " '" + p + "' matches no file");
            }
            out.addAll(hits);
        }
        return List.copyOf(out);
    }

    /** {@code datasets}' default patterns, first layout that matches wins. */
    private Map<String, List<Path>> defaultLayout() {
        List<String> files = dataFilesOf(relativeFiles());
        if (files.isEmpty()) {
            throw new CrucibleException(path + ": the dataset directory has no .jsonl, .json, .parquet or .csv file");
        }
        Map<String, List<Path>> shards = new LinkedHashMap<>();
        for (String f : files) {
            Matcher m = SHARD.matcher(f);
            if (m.matches()) {
                shards.computeIfAbsent(m.group(1), k -> new ArrayList<>()).add(path.resolve(f));
            }
        }
        if (!shards.isEmpty()) {
            return orderedSplits(shards);
        }
        for (boolean inDirectory : new boolean[] {true, false}) {
            Map<String, List<Path>> bySplit = new LinkedHashMap<>();
            for (String split : DEFAULT_SPLITS) {
                List<Path> hits = new ArrayList<>();
                for (String f : files) {
                    if (namesSplit(f, SPLIT_KEYWORDS.get(split), inDirectory)) {
                        hits.add(path.resolve(f));
                    }
                }
                if (!hits.isEmpty()) {
                    bySplit.put(split, hits);
                }
            }
            if (!bySplit.isEmpty()) {
                return bySplit;
            }
        }
        return Map.of("train", files.stream().map(path::resolve).toList());
    }

    /** Whether a directory of the path (or the file name) carries one of the keywords, set off as datasets does. */
    private static boolean namesSplit(String file, List<String> keywords, boolean inDirectory) {
        String[] parts = file.split("/");
        for (String k : keywords) {
            if (inDirectory) {
                for (int i = 0; i < parts.length - 1; i++) {
                    if (parts[i].matches("(.*" + SEP + ")?" + Pattern.quote(k) + "(" + SEP + ".*)?")) {
                        return true;
                    }
                }
            } else if (parts[parts.length - 1].matches("(.*" + SEP + ")?" + Pattern.quote(k) + SEP + ".*")) {
                return true;
            }
        }
        return false;
    }

    /** Shard splits: train, validation, test first, then the others by name. */
    private static Map<String, List<Path>> orderedSplits(Map<String, List<Path>> splits) {
        Map<String, List<Path>> out = new LinkedHashMap<>();
        for (String s : DEFAULT_SPLITS) {
            if (splits.containsKey(s)) {
                out.put(s, splits.get(s));
            }
        }
        splits.keySet().stream().sorted().forEach(s -> out.putIfAbsent(s, splits.get(s)));
        return out;
    }

    /** The data files of the most common format (datasets picks one builder for a directory). */
    private List<String> dataFilesOf(List<String> files) {
        Map<String, List<String>> byFormat = new LinkedHashMap<>();
        for (String f : files) {
            String fmt = format != null ? (FORMATS.get(format).contains(extension(f)) ? format : null) : formatOf(Path.of(f));
            if (fmt != null && (format != null || !fmt.equals("text"))) { // stray .txt files are no data by default
                byFormat.computeIfAbsent(fmt, k -> new ArrayList<>()).add(f);
            }
        }
        int most = byFormat.values().stream().mapToInt(List::size).max().orElse(0);
        List<String> top = byFormat.keySet().stream().filter(k -> byFormat.get(k).size() == most).toList();
        if (top.size() > 1) {
            throw new CrucibleException(path + ": the directory holds as many " + top + " files; set ds_type or"
                    + " data_files to choose");
        }
        return top.isEmpty() ? List.of() : byFormat.get(top.getFirst());
    }

    /** The configuration of README.md's YAML header (name, else the default), or null when it declares none. */
    @SuppressWarnings("unchecked")
    private Map<String, Object> readmeConfig() {
        Path readme = path.resolve("README.md");
        if (!Files.isRegularFile(readme)) {
            return null;
        }
        String text;
        try {
            text = Files.readString(readme);
        } catch (IOException e) {
            throw new CrucibleException(readme + ": cannot read: " + e.getMessage(), e);
        }
        Matcher header = Pattern.compile("\\A---\\R(.*?)\\R---\\R", Pattern.DOTALL).matcher(text);
        if (!header.find()) {
            return null;
        }
        Object yaml;
        try {
            yaml = new Load(LoadSettings.builder().build()).loadFromString(header.group(1));
        } catch (YamlEngineException e) {
            throw new CrucibleException(readme + ": the YAML header is not valid: " + e.getMessage(), e);
        }
        if (!(yaml instanceof Map<?, ?> meta) || !(meta.get("configs") instanceof List<?> configs)) {
            return null;
        }
        List<String> names = new ArrayList<>();
        Map<String, Object> chosen = null;
        Map<String, Object> fallback = null;
        for (Object c : configs) {
            if (!(c instanceof Map<?, ?> cfg) || !(cfg.get("config_name") instanceof String n)) {
                throw new CrucibleException(readme + ": every entry of configs needs a config_name");
            }
            names.add(n);
            Map<String, Object> m = (Map<String, Object>) cfg;
            if (name != null ? name.equals(n) : Boolean.TRUE.equals(cfg.get("default"))) {
                chosen = m;
            } else if (name == null && n.equals("default")) {
                fallback = m;
            }
        }
        if (chosen == null && fallback == null && name == null && configs.size() == 1) {
            chosen = (Map<String, Object>) configs.getFirst();
        }
        if (chosen == null && fallback == null) {
            throw new CrucibleException(path + ": " + (name == null ? "set name to one of the configurations "
                    : "no configuration '" + name + "'; README.md declares ") + names);
        }
        return chosen != null ? chosen : fallback;
    }

    /** A configuration's data_files: a pattern or a list of them ({@code train}), or {split, path} entries. */
    private Map<String, List<Path>> configFiles(Map<String, Object> config) {
        Object files = config.get("data_files");
        String what = "data_files of configuration '" + config.get("config_name") + "'";
        Map<String, List<String>> patterns = new LinkedHashMap<>();
        if (files instanceof String s) {
            patterns.put("train", List.of(s));
        } else if (files instanceof List<?> list) {
            for (Object e : list) {
                if (e instanceof String s) {
                    patterns.computeIfAbsent("train", k -> new ArrayList<>()).add(s);
                } else if (e instanceof Map<?, ?> m && m.get("split") instanceof String split) {
                    Object p = m.get("path");
                    List<String> ps = p instanceof List<?> l ? l.stream().map(String::valueOf).toList() : List.of(String.valueOf(p));
                    patterns.computeIfAbsent(split, k -> new ArrayList<>()).addAll(ps);
                } else {
                    throw new CrucibleException(path.resolve("README.md") + ": " + what + " must be patterns or"
                            + " {split, path} entries");
                }
            }
        } else {
            throw new CrucibleException(path.resolve("README.md") + ": " + what + " is missing");
        }
        Map<String, List<Path>> out = new LinkedHashMap<>();
        patterns.forEach((split, ps) -> out.put(split, matching(ps, what)));
        return out;
    }

    /** Every regular file under the directory, relative with '/', sorted; hidden files and directories skipped. */
    private List<String> relativeFiles() {
        try (Stream<Path> s = Files.walk(path)) {
            return s.filter(Files::isRegularFile).map(f -> path.relativize(f).toString().replace('\\', '/'))
                    .filter(f -> !f.startsWith(".") && !f.contains("/.") && !f.startsWith("__") && !f.contains("/__"))
                    .sorted().toList();
        } catch (IOException e) {
            throw new CrucibleException(path + ": cannot list the dataset directory: " + e.getMessage(), e);
        }
    }

    /** A glob as datasets reads data_files: {@code *} within a directory, {@code **} across, {@code [...]} classes. */
    static Pattern glob(String glob) {
        StringBuilder re = new StringBuilder();
        for (int i = 0; i < glob.length(); i++) {
            char c = glob.charAt(i);
            if (c == '*' && i + 1 < glob.length() && glob.charAt(i + 1) == '*') {
                boolean dir = i + 2 < glob.length() && glob.charAt(i + 2) == '/';
                re.append(dir ? "(?:.*/)?" : ".*");
                i += dir ? 2 : 1;
            } else if (c == '*') {
                re.append("[^/]*");
            } else if (c == '?') {
                re.append("[^/]");
            } else if (c == '[' && glob.indexOf(']', i + 1) > i + 1) {
                int end = glob.indexOf(']', i + 1);
                String cls = glob.substring(i + 1, end).replace("\\", "\\\\");
                re.append('[').append(cls.startsWith("!") ? "^" + cls.substring(1) : cls).append(']');
                i = end;
            } else {
                re.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return Pattern.compile(re.toString());
    }

    private static String extension(String file) {
        int dot = file.lastIndexOf('.');
        return dot < 0 || dot < file.lastIndexOf('/') ? "" : file.substring(dot + 1).toLowerCase(Locale.ROOT);
    }

    /** The format of a file by its extension, or null. */
    static String formatOf(Path file) {
        String ext = extension(file.getFileName().toString());
        for (Map.Entry<String, List<String>> e : FORMATS.entrySet()) {
            if (e.getValue().contains(ext)) {
                return e.getKey();
            }
        }
        return null;
    }

    private static Map<String, List<String>> orderedFormats() {
        Map<String, List<String>> m = new LinkedHashMap<>();
        m.put("json", List.of("json", "jsonl", "ndjson"));
        m.put("parquet", List.of("parquet"));
        m.put("csv", List.of("csv"));
        m.put("text", List.of("txt", "text"));
        return m;
    }
}
